package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/twilio/twilio-go/client"
	taskrouter "github.com/twilio/twilio-go/rest/taskrouter/v1"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

// runSetup makes a running didrouter hold the DID routing set-up that
// `serve` seeds. That is the "Everyone" queue of every worker in FIFO order,
// and the "Direct Inward Dial" workflow, which rings the number's owner for
// 60 s and then Everyone. It creates only what is missing, so a second run
// changes nothing. It talks to the server through the TaskRouter v1 admin
// API with Twilio's own client, as any TaskRouter script would.
func runSetup(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	return setupCommand{getenv: os.Getenv}.run(ctx, args, stdout, stderr)
}

// setupCommand holds what setup takes from outside, so tests can give
// their own environment.
type setupCommand struct {
	getenv func(string) string
}

func (c setupCommand) run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("setup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: didrouter setup [--url URL] [--workspace WS…]")
		fmt.Fprintln(stderr, "\nFinds or creates the Everyone queue and the Direct Inward Dial workflow through the admin API.")
		fmt.Fprintln(stderr, "Credentials: DIDROUTER_API_KEY and DIDROUTER_API_SECRET in the environment.")
		fs.PrintDefaults()
	}
	rawURL := fs.String("url", envOrGet(c.getenv, "DIDROUTER_URL", defaultDidrouterURL), "didrouter's base URL (DIDROUTER_URL)")
	wsSID := fs.String("workspace", envOrGet(c.getenv, "DIDROUTER_WORKSPACE_SID", ""),
		"workspace sid (DIDROUTER_WORKSPACE_SID; default: the only workspace, or the seeded one)")
	timeout := fs.Duration("timeout", 30*time.Second, "how long the whole set-up may take")
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "didrouter setup: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	tr, err := setupClient(*rawURL, c.getenv("DIDROUTER_API_KEY"), c.getenv("DIDROUTER_API_SECRET"), *timeout)
	if err != nil {
		fmt.Fprintf(stderr, "didrouter setup: %v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if err := setup(ctx, tr, *wsSID, stdout); err != nil {
		fmt.Fprintf(stderr, "didrouter setup: %v\n", setupError(err))
		return 1
	}
	return 0
}

// setupClient is Twilio's TaskRouter client sending to base instead of
// taskrouter.twilio.com. Its request handler is built without
// TWILIO_EDGE/TWILIO_REGION, which would rename the host.
func setupClient(base, key, secret string, timeout time.Duration) (*taskrouter.ApiService, error) {
	u, err := url.Parse(strings.TrimRight(strings.TrimSpace(base), "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--url / DIDROUTER_URL %q: want didrouter's base URL, such as %s", base, defaultDidrouterURL)
	}
	if key == "" || secret == "" {
		return nil, errors.New("DIDROUTER_API_KEY and DIDROUTER_API_SECRET (the admin API's credentials) must be set in the environment")
	}
	c := &client.Client{
		Credentials: client.NewCredentials(key, secret),
		HTTPClient:  &http.Client{Timeout: timeout, Transport: toServer{base: u, next: http.DefaultTransport}},
	}
	return taskrouter.NewApiService(&client.RequestHandler{Client: c}), nil
}

// toServer sends a request meant for Twilio's host to didrouter's base URL
// (keeping a path prefix the base may have). Page links didrouter writes
// already name its host and pass unchanged.
type toServer struct {
	base *url.URL
	next http.RoundTripper
}

func (s toServer) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host == s.base.Host && req.URL.Scheme == s.base.Scheme {
		return s.next.RoundTrip(req)
	}
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host = s.base.Scheme, s.base.Host
	req.URL.Path = s.base.Path + req.URL.Path
	req.Host = ""
	return s.next.RoundTrip(req)
}

// setupError words the client's errors for a person at a terminal.
func setupError(err error) error {
	var re *client.TwilioRestError
	if errors.As(err, &re) && re.Status == http.StatusUnauthorized {
		return errors.New("the admin API refused the credentials: check DIDROUTER_API_KEY and DIDROUTER_API_SECRET")
	}
	return err
}

// setup finds or creates the queue and the workflow in the workspace and
// says what it did.
func setup(ctx context.Context, tr *taskrouter.ApiService, wsSID string, out io.Writer) error {
	ws, err := setupWorkspace(ctx, tr, wsSID)
	if err != nil {
		return err
	}
	wsSID = *ws.Sid
	fmt.Fprintf(out, "workspace %s (%s)\n", wsSID, strOf(ws.FriendlyName))
	changed := false

	queues, err := listNamed(ctx, func() ([]taskrouter.TaskrouterV1TaskQueue, error) {
		return tr.ListTaskQueue(wsSID, (&taskrouter.ListTaskQueueParams{}).SetFriendlyName(engine.SeedQueueName))
	})
	if err != nil {
		return fmt.Errorf("list task queues: %w", err)
	}
	var queueSID string
	if len(queues) > 0 {
		queueSID = strOf(queues[0].Sid)
		fmt.Fprintf(out, "task queue %q: found %s (target_workers %s)\n", engine.SeedQueueName, queueSID, strOf(queues[0].TargetWorkers))
	} else {
		q, err := tr.CreateTaskQueue(wsSID, (&taskrouter.CreateTaskQueueParams{}).SetFriendlyName(engine.SeedQueueName).
			SetTargetWorkers("1==1").SetTaskOrder(didrouter.TaskOrderFIFO).SetMaxReservedWorkers(1))
		if err != nil {
			return fmt.Errorf("create task queue %q: %w", engine.SeedQueueName, err)
		}
		queueSID, changed = strOf(q.Sid), true
		fmt.Fprintf(out, "task queue %q: created %s (every worker, FIFO)\n", engine.SeedQueueName, queueSID)
	}

	flows, err := listNamed(ctx, func() ([]taskrouter.TaskrouterV1Workflow, error) {
		return tr.ListWorkflow(wsSID, (&taskrouter.ListWorkflowParams{}).SetFriendlyName(engine.SeedWorkflowName))
	})
	if err != nil {
		return fmt.Errorf("list workflows: %w", err)
	}
	want := engine.DIDWorkflowConfig(queueSID)
	if len(flows) > 0 {
		wf := flows[0]
		fmt.Fprintf(out, "workflow %q: found %s\n", engine.SeedWorkflowName, strOf(wf.Sid))
		if !sameJSON(strOf(wf.Configuration), want) {
			fmt.Fprintf(out, "  note: its configuration differs from the DID routing (owner for %d s, then %s %s); left as it is\n",
				engine.SeedOwnerTimeout, engine.SeedQueueName, queueSID)
		}
	} else {
		wf, err := tr.CreateWorkflow(wsSID, (&taskrouter.CreateWorkflowParams{}).SetFriendlyName(engine.SeedWorkflowName).
			SetConfiguration(want).SetTaskReservationTimeout(engine.DefaultReservationTimeout))
		if err != nil {
			return fmt.Errorf("create workflow %q: %w", engine.SeedWorkflowName, err)
		}
		changed = true
		fmt.Fprintf(out, "workflow %q: created %s (the number's owner for %d s, then %s)\n",
			engine.SeedWorkflowName, strOf(wf.Sid), engine.SeedOwnerTimeout, engine.SeedQueueName)
		fmt.Fprintln(out, "  note: calls to numbers without a binding of their own use the workspace's default workflow, set when serve seeded the store")
	}
	if !changed {
		fmt.Fprintln(out, "nothing to do: the set-up is complete")
	}
	return nil
}

// setupWorkspace picks the workspace: the one named, else the only one,
// else the one serve seeded.
func setupWorkspace(ctx context.Context, tr *taskrouter.ApiService, sid string) (taskrouter.TaskrouterV1Workspace, error) {
	if sid != "" {
		ws, err := tr.FetchWorkspace(sid)
		if err != nil {
			return taskrouter.TaskrouterV1Workspace{}, fmt.Errorf("workspace %s: %w", sid, err)
		}
		return *ws, nil
	}
	all, err := listNamed(ctx, func() ([]taskrouter.TaskrouterV1Workspace, error) { return tr.ListWorkspace(nil) })
	if err != nil {
		return taskrouter.TaskrouterV1Workspace{}, fmt.Errorf("list workspaces: %w", err)
	}
	switch {
	case len(all) == 1:
		return all[0], nil
	case len(all) == 0:
		return taskrouter.TaskrouterV1Workspace{}, errors.New("the server has no workspace (didrouter serve creates one when it starts)")
	}
	var seeded []taskrouter.TaskrouterV1Workspace
	for _, ws := range all {
		if strOf(ws.FriendlyName) == engine.SeedWorkspaceName {
			seeded = append(seeded, ws)
		}
	}
	if len(seeded) == 1 {
		return seeded[0], nil
	}
	return taskrouter.TaskrouterV1Workspace{}, fmt.Errorf("the server has %d workspaces: choose one with --workspace", len(all))
}

// listNamed runs a list call unless ctx has ended (Twilio's client takes
// no context; its HTTP client's timeout bounds each request).
func listNamed[T any](ctx context.Context, list func() ([]T, error)) ([]T, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return list()
}

// sameJSON reports whether two JSON documents are equal as values.
func sameJSON(a, b string) bool {
	var va, vb any
	if json.Unmarshal([]byte(a), &va) != nil || json.Unmarshal([]byte(b), &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

func strOf(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
