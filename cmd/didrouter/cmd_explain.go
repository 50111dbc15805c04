package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/didrouter/didrouter/routing"
)

// explainWorker is one entry of the --workers file.
type explainWorker struct {
	SID          string          `json:"sid"`
	FriendlyName string          `json:"friendly_name"`
	Attributes   json.RawMessage `json:"attributes"` // an object, or a string holding one (as the TaskRouter API returns it)
	Available    bool            `json:"available"`
	ActivityName string          `json:"activity_name"`
	ActivitySID  string          `json:"activity_sid"`
	Capacity     *int            `json:"capacity"` // 1 when absent
	Busy         int             `json:"busy"`
	IdleSince    string          `json:"idle_since"` // RFC 3339
}

// explainQueue is one entry of the --queues file.
type explainQueue struct {
	FriendlyName  string `json:"friendly_name"`
	TargetWorkers string `json:"target_workers"`
}

// maxInputFile bounds the files explain reads.
const maxInputFile = 64 << 20

// runExplain shows how a workflow would route a task, step by step:
//
//	didrouter explain --workflow FILE --task JSON --workers FILE [--queues FILE] [--worker NAME] [--json]
func runExplain(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	workflowFile := fs.String("workflow", "", "workflow configuration file (TaskRouter JSON)")
	taskArg := fs.String("task", "{}", "task attributes: a JSON object, or @FILE")
	workersFile := fs.String("workers", "", "workers file: a JSON array of {sid, friendly_name, attributes, available, capacity, busy, idle_since, activity_name}")
	queuesFile := fs.String("queues", "", "queues file: a JSON object of queue sid -> {friendly_name, target_workers}; when absent every queue has target_workers 1==1")
	focus := fs.String("worker", "", "a worker sid or friendly name to always show (\"why didn't the call go to Alice?\")")
	maxWorkers := fs.Int("max-workers", 50, "workers listed per step")
	asJSON := fs.Bool("json", false, "print the explanation as JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: didrouter explain --workflow FILE --task JSON --workers FILE [--queues FILE] [--worker NAME] [--json]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "explain: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	if *workflowFile == "" || *workersFile == "" {
		fmt.Fprintln(stderr, "explain: --workflow and --workers are required")
		fs.Usage()
		return 2
	}
	x, err := explain(*workflowFile, *taskArg, *workersFile, *queuesFile, routing.ExplainOptions{Focus: *focus, MaxWorkers: *maxWorkers})
	if err != nil {
		fmt.Fprintf(stderr, "explain: %v\n", err)
		return 2
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(x); err != nil {
			fmt.Fprintf(stderr, "explain: %v\n", err)
			return 1
		}
		return 0
	}
	fmt.Fprint(stdout, x.Text())
	return 0
}

func explain(workflowFile, taskArg, workersFile, queuesFile string, opt routing.ExplainOptions) (*routing.Explanation, error) {
	taskJSON := []byte(taskArg)
	if strings.HasPrefix(taskArg, "@") {
		data, err := readFile(taskArg[1:])
		if err != nil {
			return nil, fmt.Errorf("--task: %w", err)
		}
		taskJSON = data
	}
	task, err := routing.ParseAttributes(taskJSON)
	if err != nil {
		return nil, fmt.Errorf("--task: %w", err)
	}
	var queues map[string]explainQueue
	if queuesFile != "" {
		data, err := readFile(queuesFile)
		if err != nil {
			return nil, fmt.Errorf("--queues: %w", err)
		}
		if err := strictJSON(data, &queues); err != nil {
			return nil, fmt.Errorf("--queues %s: %w", queuesFile, err)
		}
	}
	wfData, err := readFile(workflowFile)
	if err != nil {
		return nil, fmt.Errorf("--workflow: %w", err)
	}
	var exists func(string) bool
	if queues != nil {
		exists = func(sid string) bool { _, ok := queues[sid]; return ok }
	}
	wf, err := routing.ParseWorkflow(wfData, exists)
	if err != nil {
		return nil, fmt.Errorf("--workflow %s: %w", workflowFile, err)
	}
	ix := routing.NewIndex()
	if err := loadWorkers(ix, workersFile); err != nil {
		return nil, err
	}
	opt.QueueNames = map[string]string{}
	if queues == nil {
		everyone := routing.MustCompile("1==1", routing.ScopeWorker)
		for _, sid := range referencedQueues(wf) {
			ix.SetQueue(sid, everyone)
		}
	}
	for sid, q := range queues {
		opt.QueueNames[sid] = q.FriendlyName
		var e *routing.Expr
		if strings.TrimSpace(q.TargetWorkers) != "" {
			if e, err = routing.Compile(q.TargetWorkers, routing.ScopeWorker); err != nil {
				return nil, fmt.Errorf("--queues %s: %s.target_workers: %w", queuesFile, sid, err)
			}
		}
		ix.SetQueue(sid, e)
	}
	return routing.Explain(wf, ix, task, opt), nil
}

// referencedQueues lists the queues a workflow routes to.
func referencedQueues(wf *routing.Workflow) []string {
	var out []string
	seen := map[string]bool{}
	add := func(t routing.Target) {
		if !seen[t.Queue] {
			seen[t.Queue] = true
			out = append(out, t.Queue)
		}
	}
	for _, f := range wf.Filters {
		for _, t := range f.Targets {
			add(t)
		}
	}
	if wf.Default != nil {
		add(*wf.Default)
	}
	return out
}

func loadWorkers(ix *routing.Index, file string) error {
	data, err := readFile(file)
	if err != nil {
		return fmt.Errorf("--workers: %w", err)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		return fmt.Errorf("--workers %s: must be a JSON array of workers: %w", file, err)
	}
	seen := map[string]bool{}
	for i, raw := range raws {
		where := fmt.Sprintf("--workers %s: [%d]", file, i)
		var w explainWorker
		if err := strictJSON(raw, &w); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if w.SID == "" {
			return fmt.Errorf("%s: sid is required", where)
		}
		if seen[w.SID] {
			return fmt.Errorf("%s: sid %s appears twice", where, w.SID)
		}
		seen[w.SID] = true
		attrJSON := []byte(w.Attributes)
		var s string
		if json.Unmarshal(attrJSON, &s) == nil {
			attrJSON = []byte(s) // attributes given as a JSON string, as the API returns them
		}
		attrs, err := routing.ParseAttributes(attrJSON)
		if err != nil {
			return fmt.Errorf("%s (%s): %w", where, w.SID, err)
		}
		info := routing.WorkerInfo{SID: w.SID, FriendlyName: w.FriendlyName, Attributes: attrs, Available: w.Available,
			Capacity: 1, Busy: w.Busy, ActivityName: w.ActivityName, ActivitySID: w.ActivitySID}
		if w.Capacity != nil {
			info.Capacity = *w.Capacity
		}
		if w.IdleSince != "" {
			if info.IdleSince, err = time.Parse(time.RFC3339, w.IdleSince); err != nil {
				return fmt.Errorf("%s (%s): idle_since: %w", where, w.SID, err)
			}
		}
		ix.UpsertWorker(info)
	}
	return nil
}

// strictJSON decodes one JSON value, rejecting unknown fields (a misspelt
// field would otherwise be silently ignored) and trailing data.
func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

func readFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxInputFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxInputFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, maxInputFile)
	}
	return data, nil
}
