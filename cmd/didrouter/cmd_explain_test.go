package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testDIDWorkflow = `{"task_routing":{"filters":[{"filter_friendly_name":"Match By Worker Phone Number","expression":"1==1","targets":[{"queue":"WQeveryone","expression":"task.phone_number CONTAINS worker.phone_number","timeout":60,"skip_if":"1==1"},{"queue":"WQeveryone"}]}],"default_filter":{"queue":"WQeveryone"}}}`

const testWorkers = `[
 {"sid":"WKalice","friendly_name":"Alice","attributes":{"phone_number":"+15127640580"},"available":false,"activity_name":"Offline","capacity":1},
 {"sid":"WKbob","friendly_name":"Bob","attributes":"{\"phone_number\":\"+15127640581\"}","available":true,"capacity":1,"idle_since":"2025-01-01T09:00:00Z"},
 {"sid":"WKcarol","friendly_name":"Carol","attributes":{},"available":true,"busy":1}
]`

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestExplainText(t *testing.T) {
	dir := writeFiles(t, map[string]string{"wf.json": testDIDWorkflow, "workers.json": testWorkers,
		"queues.json": `{"WQeveryone":{"friendly_name":"Everyone","target_workers":"1==1"}}`})
	code, out, errs := runCmd(t, runExplain, "--workflow", filepath.Join(dir, "wf.json"), "--task", `{"phone_number":"+15127640580"}`,
		"--workers", filepath.Join(dir, "workers.json"), "--queues", filepath.Join(dir, "queues.json"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"Outcome: the task is offered to Bob (WKbob) (step 2).",
		"queue:       Everyone (WQeveryone), 3 members",
		"- Alice (WKalice): matches, but is not available (Offline)",
		"skip_if (1==1) is true, so the task moves on to step 2 at once",
		"+ Bob (WKbob): matches and is free: offered the task first",
		"Carol (WKcarol): matches, but has no free capacity (1 of 1 in use)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestExplainJSONWithoutQueuesFile(t *testing.T) {
	dir := writeFiles(t, map[string]string{"wf.json": testDIDWorkflow, "workers.json": testWorkers, "task.json": `{"phone_number":"+15127640581"}`})
	code, out, errs := runCmd(t, runExplain, "--json", "--workflow", filepath.Join(dir, "wf.json"), "--task", "@"+filepath.Join(dir, "task.json"),
		"--workers", filepath.Join(dir, "workers.json"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var x struct {
		Outcome string
		Steps   []struct {
			Queue   string
			Reserve string
			Members int
		}
	}
	if err := json.Unmarshal([]byte(out), &x); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(x.Steps) != 2 || x.Steps[0].Reserve != "WKbob" || x.Steps[0].Members != 3 || !strings.Contains(x.Outcome, "Bob") {
		t.Errorf("explanation %+v", x)
	}
}

func TestExplainErrors(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"wf.json":        testDIDWorkflow,
		"bad-wf.json":    `{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"WQeveryone","timeout":-5}]}]}}`,
		"workers.json":   testWorkers,
		"typo.json":      `[{"sid":"WK1","avaliable":true}]`,
		"dup.json":       `[{"sid":"WK1"},{"sid":"WK1"}]`,
		"badattrs.json":  `[{"sid":"WK1","attributes":"[1]"}]`,
		"queues.json":    `{"WQother":{"friendly_name":"Other","target_workers":"1==1"}}`,
		"badqueues.json": `{"WQeveryone":{"target_workers":"skills HAS"}}`,
	})
	p := func(n string) string { return filepath.Join(dir, n) }
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--workers", p("workers.json")}, "--workflow and --workers are required"},
		{[]string{"--workflow", p("nope.json"), "--workers", p("workers.json")}, "no such file"},
		{[]string{"--workflow", p("bad-wf.json"), "--workers", p("workers.json")}, "task_routing.filters[0].targets[0].timeout: must be a positive number of seconds"},
		{[]string{"--workflow", p("wf.json"), "--workers", p("typo.json")}, `[0]: json: unknown field "avaliable"`},
		{[]string{"--workflow", p("wf.json"), "--workers", p("dup.json")}, "sid WK1 appears twice"},
		{[]string{"--workflow", p("wf.json"), "--workers", p("badattrs.json")}, "attributes must be a JSON object"},
		{[]string{"--workflow", p("wf.json"), "--workers", p("workers.json"), "--queues", p("queues.json")}, `unknown queue "WQeveryone"`},
		{[]string{"--workflow", p("wf.json"), "--workers", p("workers.json"), "--queues", p("badqueues.json")}, "WQeveryone.target_workers: column 11: expected a value after HAS"},
		{[]string{"--workflow", p("wf.json"), "--workers", p("workers.json"), "--task", "nope"}, "--task: attributes must be a JSON object"},
		{[]string{"--workflow", p("wf.json"), "--workers", p("workers.json"), "extra"}, `unexpected argument "extra"`},
	}
	for _, tc := range tests {
		code, _, errs := runCmd(t, runExplain, tc.args...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("explain %q = %d, %q; want 2 and %q", tc.args, code, errs, tc.want)
		}
	}
}

func TestExplainFocusWorker(t *testing.T) {
	var workers []string
	for i := 0; i < 30; i++ {
		workers = append(workers, `{"sid":"WK`+string(rune('a'+i%26))+strings.Repeat("x", i/26)+`","available":true}`)
	}
	workers = append(workers, `{"sid":"WKzzz","friendly_name":"Zed","attributes":{"phone_number":"+15127640580"},"available":true,"busy":1}`)
	dir := writeFiles(t, map[string]string{"wf.json": testDIDWorkflow, "workers.json": "[" + strings.Join(workers, ",") + "]"})
	code, out, errs := runCmd(t, runExplain, "--workflow", filepath.Join(dir, "wf.json"), "--workers", filepath.Join(dir, "workers.json"),
		"--task", `{"phone_number":"+15127640580"}`, "--max-workers", "3", "--worker", "zed")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if strings.Count(out, "Zed (WKzzz): matches, but has no free capacity (1 of 1 in use)") != 2 {
		t.Errorf("focused worker not shown in both steps:\n%s", out)
	}
	// Step 1: Zed (the only match) and two other members; step 2: the
	// first three in line, then Zed.
	if n := strings.Count(out, "    - ") + strings.Count(out, "    + "); n != 7 {
		t.Errorf("%d workers listed, want 7:\n%s", n, out)
	}
	if !strings.Contains(out, "+ WKa: matches and is free: offered the task first") {
		t.Errorf("first in line missing:\n%s", out)
	}
}
