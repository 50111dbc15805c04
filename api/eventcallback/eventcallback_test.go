package eventcallback_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/api"
	"github.com/didrouter/didrouter/api/callback"
	"github.com/didrouter/didrouter/api/eventcallback"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/store/storetest"
)

const (
	token     = "authtoken0123"
	apiKey    = "SKkey"
	apiSecret = "secret0123"
)

func stores(t *testing.T, fn func(t *testing.T, st didrouter.Store)) {
	storetest.Each(t, fn)
}

// receiver is the application's event callback endpoint.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []request
	status int // answer; 0 = 204
	// gate, when set, holds each answer until it is closed (the request
	// is recorded first).
	gate chan struct{}
}

type request struct {
	form      url.Values
	signature string
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		rc.mu.Lock()
		rc.got = append(rc.got, request{form: form, signature: r.Header.Get("X-Twilio-Signature")})
		status, gate := rc.status, rc.gate
		rc.mu.Unlock()
		if gate != nil {
			<-gate
		}
		if status == 0 {
			status = http.StatusNoContent
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.got...)
}

func (rc *receiver) types() []string {
	var out []string
	for _, r := range rc.requests() {
		out = append(out, r.form.Get("EventType"))
	}
	return out
}

type env struct {
	t     *testing.T
	ctx   context.Context
	store didrouter.Store
	eng   *engine.Engine
	ws    didrouter.Workspace
	api   *httptest.Server
	run   func() // starts the dispatcher (newEnv has started it)
}

// newEnv wires the engine's store through Observe into a Dispatcher, and
// serves the REST API, as serve does. The callbacks are signed with the
// auth token (DIDROUTER_CALLBACK_SIGNING=twilio), which Twilio's own
// validator checks.
func newEnv(t *testing.T, st didrouter.Store) *env {
	e := newStoppedEnv(t, st, nil)
	e.run()
	return e
}

// newStoppedEnv is newEnv with the dispatcher not yet running (events
// queue up), configured by edit.
func newStoppedEnv(t *testing.T, st didrouter.Store, edit func(*eventcallback.Config)) *env {
	ctx, cancel := context.WithCancel(context.Background())
	clock := didrouter.NewFakeClock(time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC))
	ws, err := engine.Seed(ctx, st, clock)
	if err != nil {
		t.Fatal(err)
	}
	cfg := eventcallback.Config{Store: st, Settings: callback.Settings{Client: &http.Client{Timeout: 5 * time.Second},
		Clock: didrouter.SystemClock{}, AccountSID: "AC0123", Signer: callback.TwilioSigner{AuthToken: token}, RetryDelay: time.Millisecond}}
	if edit != nil {
		edit(&cfg)
	}
	disp, err := eventcallback.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{Store: eventcallback.Observe(st, disp.Notify), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	h, err := api.NewHandler(api.Config{Engine: eng, Store: st, Clock: clock, APIKey: apiKey, APISecret: apiSecret})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	done := make(chan error, 1)
	started := false
	t.Cleanup(func() {
		srv.Close()
		cancel()
		if started {
			<-done
		}
	})
	run := func() {
		started = true
		go func() { done <- disp.Run(ctx) }()
	}
	return &env{t: t, ctx: ctx, store: st, eng: eng, ws: ws, api: srv, run: run}
}

// post sends a form to the REST API and decodes the JSON answer.
func (e *env) post(path string, form url.Values) map[string]any {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.api.URL+"/v1/Workspaces/"+e.ws.SID+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(apiKey, apiSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode/100 != 2 {
		e.t.Fatalf("POST %s: %d %v %v", path, resp.StatusCode, out, err)
	}
	return out
}

// flow makes a queue, a workflow into it and an available worker.
func (e *env) flow() (didrouter.Workflow, didrouter.Worker) {
	e.t.Helper()
	q, err := e.eng.CreateTaskQueue(e.ctx, e.ws.SID, engine.TaskQueueInsert{FriendlyName: "Callbacks"})
	if err != nil {
		e.t.Fatal(err)
	}
	wf, err := e.eng.CreateWorkflow(e.ctx, e.ws.SID, engine.WorkflowInsert{FriendlyName: "Callbacks",
		Configuration: `{"task_routing":{"default_filter":{"queue":"` + q.SID + `"}}}`})
	if err != nil {
		e.t.Fatal(err)
	}
	var available string
	acts, _ := e.store.ListActivities(e.ctx, e.ws.SID)
	for _, a := range acts {
		if a.Available {
			available = a.SID
		}
	}
	w, err := e.eng.CreateWorker(e.ctx, e.ws.SID, engine.WorkerInsert{FriendlyName: "alice",
		Attributes: `{"contact_uri":"client:alice","team":"blue"}`, ActivitySID: available})
	if err != nil {
		e.t.Fatal(err)
	}
	return wf, w
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func params(f url.Values) map[string]string {
	out := map[string]string{}
	for k := range f {
		out[k] = f.Get(k)
	}
	return out
}

// A task created, reserved, accepted and completed over the REST API: the
// workspace's EventCallbackUrl receives the four events its EventsFilter
// lists, in order, with TaskRouter's parameters and a signature Twilio's
// own validator accepts; the other events (worker, queue, workflow) are
// filtered out.
func TestTaskLifecycleEvents(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		rc := newReceiver(t)
		e := newEnv(t, st)
		wf, w := e.flow()
		got := e.post("", url.Values{"EventCallbackUrl": {rc.srv.URL + "/events"},
			"EventsFilter": {" task.created, reservation.created,reservation.accepted ,task.completed,"}})
		if got["events_filter"] != "task.created,reservation.created,reservation.accepted,task.completed" {
			t.Errorf("events_filter %v", got["events_filter"])
		}
		task := e.post("/Tasks", url.Values{"WorkflowSid": {wf.SID}, "Attributes": {`{"type":"callback"}`},
			"TaskChannel": {"chat"}, "Priority": {"3"}})
		taskSID, _ := task["sid"].(string)
		eventually(t, "reservation.created is sent", func() bool { return len(rc.requests()) >= 2 })
		resSID := rc.requests()[1].form.Get("ReservationSid")
		e.post("/Tasks/"+taskSID+"/Reservations/"+resSID, url.Values{"ReservationStatus": {"accepted"}})
		e.post("/Tasks/"+taskSID, url.Values{"AssignmentStatus": {"completed"}, "Reason": {"done"}})
		eventually(t, "four events are sent", func() bool { return len(rc.requests()) >= 4 })
		time.Sleep(50 * time.Millisecond) // nothing else is coming
		want := "task.created reservation.created reservation.accepted task.completed"
		if g := strings.Join(rc.types(), " "); g != want {
			t.Fatalf("events %q, want %q", g, want)
		}
		reqs := rc.requests()
		common := map[string]string{"AccountSid": "AC0123", "WorkspaceSid": e.ws.SID, "WorkspaceName": e.ws.FriendlyName,
			"TaskSid": taskSID, "TaskAttributes": `{"type":"callback"}`, "TaskPriority": "3",
			"TaskChannelUniqueName": "chat", "WorkflowSid": wf.SID,
			"Timestamp": "1740992400"}
		for i, c := range []struct {
			resourceType, resourceSID string
			extra                     map[string]string
		}{
			{"Task", taskSID, nil},
			{"Reservation", resSID, map[string]string{"ReservationSid": resSID, "WorkerSid": w.SID, "WorkerName": "alice"}},
			{"Reservation", resSID, map[string]string{"ReservationSid": resSID, "WorkerSid": w.SID}},
			{"Task", taskSID, map[string]string{"TaskCompletedReason": "done", "TaskAssignmentStatus": "completed"}},
		} {
			f := reqs[i].form
			check := map[string]string{"ResourceType": c.resourceType, "ResourceSid": c.resourceSID}
			for k, v := range common {
				check[k] = v
			}
			for k, v := range c.extra {
				check[k] = v
			}
			for k, v := range check {
				if f.Get(k) != v {
					t.Errorf("%s: %s = %q, want %q", f.Get("EventType"), k, f.Get(k), v)
				}
			}
			if f.Get("EventDescription") == "" || f.Get("TaskQueueSid") == "" {
				t.Errorf("%s: EventDescription %q TaskQueueSid %q", f.Get("EventType"), f.Get("EventDescription"), f.Get("TaskQueueSid"))
			}
			v := client.NewRequestValidator(token)
			if !v.Validate(rc.srv.URL+"/events", params(f), reqs[i].signature) {
				t.Errorf("%s: signature %q does not validate", f.Get("EventType"), reqs[i].signature)
			}
		}
		if !strings.Contains(reqs[1].form.Get("WorkerAttributes"), `"team":"blue"`) {
			t.Errorf("WorkerAttributes %q", reqs[1].form.Get("WorkerAttributes"))
		}
	})
}

// Without EventsFilter every event is sent, worker events included; a
// failing receiver is tried a bounded number of times, then the event is
// dropped; clearing EventCallbackUrl stops the callbacks.
func TestEveryEventRetriesAndClearing(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		rc := newReceiver(t)
		e := newEnv(t, st)
		e.post("", url.Values{"EventCallbackUrl": {rc.srv.URL + "/events"}})
		_, w := e.flow()
		eventually(t, "worker.created is sent", func() bool {
			for _, r := range rc.requests() {
				if r.form.Get("EventType") == didrouter.EventWorkerCreated {
					return r.form.Get("WorkerSid") == w.SID && r.form.Get("ResourceType") == "Worker" &&
						r.form.Get("WorkerName") == "alice"
				}
			}
			return false
		})

		time.Sleep(50 * time.Millisecond) // the set-up's other events are out
		rc.mu.Lock()
		rc.status, rc.got = http.StatusServiceUnavailable, nil
		rc.mu.Unlock()
		attrs := `{"team":"red"}`
		if _, err := e.eng.UpdateWorker(e.ctx, e.ws.SID, w.SID, engine.WorkerUpdate{Attributes: &attrs}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the attributes update is tried twice", func() bool { return len(rc.requests()) >= 2 })
		time.Sleep(50 * time.Millisecond)
		if n := len(rc.requests()); n != 2 {
			t.Errorf("%d tries of a failing event callback, want 2 (types %v)", n, rc.types())
		}

		e.post("", url.Values{"EventCallbackUrl": {""}})
		rc.mu.Lock()
		rc.status, rc.got = 0, nil
		rc.mu.Unlock()
		attrs = `{"team":"green"}`
		if _, err := e.eng.UpdateWorker(e.ctx, e.ws.SID, w.SID, engine.WorkerUpdate{Attributes: &attrs}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		if n := len(rc.requests()); n != 0 {
			t.Errorf("%d event callbacks after EventCallbackUrl was cleared: %v", n, rc.types())
		}
	})
}

// Only committed events are reported: a transaction that rolls back after
// inserting one reports nothing.
func TestObserveReportsCommittedEventsOnly(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		ctx := context.Background()
		clock := didrouter.NewFakeClock(time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC))
		ws, err := engine.Seed(ctx, st, clock)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		observed := eventcallback.Observe(st, func(ev didrouter.Event) { got = append(got, ev.SID) })
		ev := didrouter.Event{SID: didrouter.NewSID(didrouter.PrefixEvent), WorkspaceSID: ws.SID, EventType: didrouter.EventTaskCreated,
			ResourceType: "task", ResourceSID: "WTx", TaskSID: "WTx", Data: "{}", Date: clock.Now()}
		rollback := errors.New("roll back")
		err = observed.Tx(ctx, func(tx didrouter.Tx) error {
			if err := tx.InsertEvent(ctx, ev); err != nil {
				return err
			}
			return rollback
		})
		if !errors.Is(err, rollback) || len(got) != 0 {
			t.Fatalf("rolled back: err %v, reported %v", err, got)
		}
		if err := observed.Tx(ctx, func(tx didrouter.Tx) error { return tx.InsertEvent(ctx, ev) }); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0] != ev.SID {
			t.Fatalf("committed: reported %v", got)
		}
	})
}

func TestWanted(t *testing.T) {
	for _, c := range []struct {
		filter, typ string
		want        bool
	}{
		{"", "task.created", true},
		{"task.created,task.completed", "task.completed", true},
		{" task.created , reservation.created", "reservation.created", true},
		{"task.created", "task.canceled", false},
		{"task", "task.created", false},
	} {
		if got := eventcallback.Wanted(c.filter, c.typ); got != c.want {
			t.Errorf("Wanted(%q, %q) = %v, want %v", c.filter, c.typ, got, c.want)
		}
	}
}

// Events already batched follow the workspace's URL as it is when each is
// sent: the first of a batch is held by a slow receiver while the URL is
// changed (the rest go to the new URL) or cleared (the rest are not sent).
func TestBatchedEventsFollowTheCurrentURL(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		for _, change := range []string{"changed", "cleared"} {
			old, next := newReceiver(t), newReceiver(t)
			old.gate = make(chan struct{})
			// One shard: every queued event is in the first batch.
			e := newStoppedEnv(t, st, func(c *eventcallback.Config) { c.Workers = 1 })
			e.post("", url.Values{"EventCallbackUrl": {old.srv.URL + "/events"}})
			_, w := e.flow()
			for _, team := range []string{"red", "green", "blue"} {
				attrs := `{"team":"` + team + `"}`
				if _, err := e.eng.UpdateWorker(e.ctx, e.ws.SID, w.SID, engine.WorkerUpdate{Attributes: &attrs}); err != nil {
					t.Fatal(err)
				}
			}
			e.run()
			eventually(t, "the first event reaches the old URL", func() bool { return len(old.requests()) == 1 })
			to := ""
			if change == "changed" {
				to = next.srv.URL + "/events"
			}
			e.post("", url.Values{"EventCallbackUrl": {to}})
			close(old.gate)
			if change == "changed" {
				eventually(t, "the rest of the batch reaches the new URL", func() bool { return len(next.requests()) >= 3 })
			}
			time.Sleep(100 * time.Millisecond) // nothing else is coming
			if n := len(old.requests()); n != 1 {
				t.Errorf("%s: the old URL got %d events after the first, want none: %v", change, n-1, old.types())
			}
			if want := map[string]int{"changed": 3, "cleared": 0}[change]; len(next.requests()) != want {
				t.Errorf("%s: the new URL got %v, want %d events", change, next.types(), want)
			}
		}
	})
}

// A stored URL the policy refuses (here: off the allow-list, as after the
// list was narrowed) is not sent to, and the refusal is logged with the
// URL's password and token redacted.
func TestRefusedURLNotSent(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		rc := newReceiver(t)
		logs := &syncBuffer{}
		policy, err := callback.NewPolicy(callback.PolicyConfig{Hosts: []string{"hooks.example.com"}})
		if err != nil {
			t.Fatal(err)
		}
		e := newStoppedEnv(t, st, func(c *eventcallback.Config) {
			c.Policy = policy
			c.Logger = slog.New(slog.NewTextHandler(logs, nil))
		})
		e.run()
		// Written to the store directly: the API would refuse it.
		if err := st.Tx(e.ctx, func(tx didrouter.Tx) error {
			ws, err := tx.GetWorkspace(e.ctx, e.ws.SID)
			if err != nil {
				return err
			}
			ws.EventCallbackURL = strings.Replace(rc.srv.URL, "://", "://bob:hunter2@", 1) + "/events?token=abc&team=blue"
			return tx.UpdateWorkspace(e.ctx, ws)
		}); err != nil {
			t.Fatal(err)
		}
		e.flow()
		eventually(t, "the refusal is logged", func() bool { return strings.Contains(logs.String(), "DIDROUTER_CALLBACK_HOSTS") })
		if n := len(rc.requests()); n != 0 {
			t.Errorf("%d events sent to a host off the allow-list", n)
		}
		if l := logs.String(); strings.Contains(l, "abc") || strings.Contains(l, "hunter2") || !strings.Contains(l, "bob:redacted@") ||
			!strings.Contains(l, "token=redacted&team=blue") {
			t.Errorf("the log shows the URL's secrets, or not the URL:\n%s", l)
		}
	})
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
