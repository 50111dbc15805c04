package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"
	taskrouter "github.com/twilio/twilio-go/rest/taskrouter/v1"
)

// serve wires assignment callbacks: a task created over the API in a
// workflow with an AssignmentCallbackUrl is POSTed there, signed with
// TWILIO_AUTH_TOKEN, and the "accept" answer assigns it.
func TestServeAssignmentCallback(t *testing.T) {
	var (
		mu  sync.Mutex
		got []url.Values
		sig []string
	)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		mu.Lock()
		got, sig = append(got, form), append(sig, r.Header.Get("X-Twilio-Signature"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"instruction":"accept"}`))
	}))
	defer app.Close()

	cfg := testConfig(t)
	base, logs := runServer(t, cfg)
	waitReady(t, base)
	tr, err := setupClient(base, cfg.APIKey, cfg.APISecret, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	wss, err := tr.ListWorkspace(nil)
	if err != nil || len(wss) != 1 {
		t.Fatalf("workspaces: %v %d", err, len(wss))
	}
	ws := *wss[0].Sid
	acts, _ := tr.ListActivity(ws, (&taskrouter.ListActivityParams{}).SetFriendlyName("Available"))
	if _, err := tr.CreateWorker(ws, (&taskrouter.CreateWorkerParams{}).SetFriendlyName("alice").
		SetAttributes(`{"contact_uri":"client:alice"}`).SetActivitySid(*acts[0].Sid)); err != nil {
		t.Fatal(err)
	}
	qs, _ := tr.ListTaskQueue(ws, (&taskrouter.ListTaskQueueParams{}).SetFriendlyName("Everyone"))
	wf, err := tr.CreateWorkflow(ws, (&taskrouter.CreateWorkflowParams{}).SetFriendlyName("Callbacks").
		SetConfiguration(`{"task_routing":{"default_filter":{"queue":"`+*qs[0].Sid+`"}}}`).
		SetAssignmentCallbackUrl(app.URL+"/assign"))
	if err != nil {
		t.Fatal(err)
	}
	task, err := tr.CreateTask(ws, (&taskrouter.CreateTaskParams{}).SetWorkflowSid(*wf.Sid).SetAttributes(`{"type":"callback"}`))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		cur, err := tr.FetchTask(ws, *task.Sid)
		if err == nil && *cur.AssignmentStatus == "assigned" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the task was not assigned by the callback's answer: %v %+v\n%s", err, cur, logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].Get("TaskSid") != *task.Sid {
		t.Fatalf("callbacks %v", got)
	}
	params := map[string]string{}
	for k := range got[0] {
		params[k] = got[0].Get(k)
	}
	v := client.NewRequestValidator(cfg.AuthToken)
	if !v.Validate(app.URL+"/assign", params, sig[0]) {
		t.Errorf("the callback's signature does not validate with TWILIO_AUTH_TOKEN")
	}
}
