package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	taskrouter "github.com/twilio/twilio-go/rest/taskrouter/v1"

	"github.com/didrouter/didrouter/api/callback"
)

// testCallbackKey is a DIDROUTER_CALLBACK_SIGNING_KEY for tests.
const testCallbackKey = "0123456789abcdef0123456789abcdef"

// serve wires workspace event callbacks: with EventCallbackUrl and
// EventsFilter set through Twilio's own client, a task created, accepted
// and completed over the API is reported there, signed by default with
// DIDROUTER_CALLBACK_SIGNING_KEY (never with TWILIO_AUTH_TOKEN), with only
// the filtered event types.
func TestServeEventCallbacks(t *testing.T) {
	var (
		mu     sync.Mutex
		got    []url.Values
		sigs   []http.Header
		bodies []string
	)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		mu.Lock()
		got, sigs, bodies = append(got, form), append(sigs, r.Header.Clone()), append(bodies, string(body))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer app.Close()
	received := func() []url.Values {
		mu.Lock()
		defer mu.Unlock()
		return append([]url.Values(nil), got...)
	}

	cfg := testConfig(t)
	cfg.CallbackKey = testCallbackKey
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
	filter := "task.created,reservation.created,reservation.accepted,task.completed"
	upd, err := tr.UpdateWorkspace(ws, (&taskrouter.UpdateWorkspaceParams{}).
		SetEventCallbackUrl(app.URL+"/events").SetEventsFilter(filter))
	if err != nil || upd.EventsFilter == nil || *upd.EventsFilter != filter {
		t.Fatalf("update workspace: %v %+v", err, upd)
	}
	acts, _ := tr.ListActivity(ws, (&taskrouter.ListActivityParams{}).SetFriendlyName("Available"))
	if _, err := tr.CreateWorker(ws, (&taskrouter.CreateWorkerParams{}).SetFriendlyName("alice").
		SetAttributes(`{"contact_uri":"client:alice"}`).SetActivitySid(*acts[0].Sid)); err != nil {
		t.Fatal(err)
	}
	qs, _ := tr.ListTaskQueue(ws, (&taskrouter.ListTaskQueueParams{}).SetFriendlyName("Everyone"))
	wf, err := tr.CreateWorkflow(ws, (&taskrouter.CreateWorkflowParams{}).SetFriendlyName("Events").
		SetConfiguration(`{"task_routing":{"default_filter":{"queue":"`+*qs[0].Sid+`"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	task, err := tr.CreateTask(ws, (&taskrouter.CreateTaskParams{}).SetWorkflowSid(*wf.Sid).SetAttributes(`{"type":"callback"}`))
	if err != nil {
		t.Fatal(err)
	}
	waitFor := func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for len(received()) < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d event callbacks, want %d: %v\n%s", len(received()), n, received(), logs)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor(2)
	res := received()[1].Get("ReservationSid")
	if _, err := tr.UpdateTaskReservation(ws, *task.Sid, res,
		(&taskrouter.UpdateTaskReservationParams{}).SetReservationStatus("accepted")); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.UpdateTask(ws, *task.Sid, (&taskrouter.UpdateTaskParams{}).SetAssignmentStatus("completed").
		SetReason("done")); err != nil {
		t.Fatal(err)
	}
	waitFor(4)
	time.Sleep(50 * time.Millisecond) // nothing else is coming
	var types []string
	mu.Lock()
	defer mu.Unlock()
	for i, f := range got {
		types = append(types, f.Get("EventType"))
		if f.Get("TaskSid") != *task.Sid || f.Get("WorkspaceSid") != ws {
			t.Errorf("%s: TaskSid %q WorkspaceSid %q", f.Get("EventType"), f.Get("TaskSid"), f.Get("WorkspaceSid"))
		}
		ts := sigs[i].Get(callback.HeaderTimestamp)
		if sigs[i].Get(callback.HeaderSignature) != "v1="+callback.KeySignature([]byte(testCallbackKey), ts, app.URL+"/events", []byte(bodies[i])) {
			t.Errorf("%s: X-Didrouter-Signature %q does not verify with the key", f.Get("EventType"), sigs[i].Get(callback.HeaderSignature))
		}
		if sigs[i].Get("X-Twilio-Signature") != "" {
			t.Errorf("%s: signed with TWILIO_AUTH_TOKEN by default", f.Get("EventType"))
		}
	}
	if g := strings.Join(types, ","); g != filter {
		t.Errorf("event callbacks %s, want %s", g, filter)
	}
}
