package assignment_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/api/assignment"
	"github.com/didrouter/didrouter/api/callback"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/store/storetest"
)

const token = "authtoken0123"

func stores(t *testing.T, fn func(t *testing.T, st didrouter.Store)) {
	storetest.Each(t, fn)
}

// receiver is the application's assignment callback endpoint: it records
// each request and answers per path.
type receiver struct {
	t   *testing.T
	srv *httptest.Server
	mu  sync.Mutex
	got []request
	// answers by path: status and body
	answers map[string]answer
	// gate, when set, holds each answer until it is closed (the request
	// is recorded first).
	gate chan struct{}
}

type request struct {
	path      string
	form      url.Values
	signature string
}

type answer struct {
	status int
	body   string
}

func newReceiver(t *testing.T, answers map[string]answer) *receiver {
	rc := &receiver{t: t, answers: answers}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		rc.mu.Lock()
		rc.got = append(rc.got, request{path: r.URL.Path, form: form, signature: r.Header.Get("X-Twilio-Signature")})
		a, gate := rc.answers[r.URL.Path], rc.gate
		rc.mu.Unlock()
		if gate != nil {
			<-gate
		}
		if a.status == 0 {
			a.status = http.StatusOK
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		_, _ = w.Write([]byte(a.body))
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.got...)
}

type env struct {
	t     *testing.T
	ctx   context.Context
	store didrouter.Store
	eng   *engine.Engine
	ws    didrouter.Workspace
	clock *didrouter.FakeClock
}

func newEnv(t *testing.T, st didrouter.Store, retryClock didrouter.Clock) *env {
	ctx, cancel := context.WithCancel(context.Background())
	clock := didrouter.NewFakeClock(time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC))
	ws, err := engine.Seed(ctx, st, clock)
	if err != nil {
		t.Fatal(err)
	}
	var disp *assignment.Dispatcher
	observed := assignment.Observe(st, func(r didrouter.Reservation) { disp.Notify(r) })
	eng, err := engine.New(engine.Config{Store: observed, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	if retryClock == nil {
		retryClock = clock
	}
	disp, err = assignment.New(assignment.Config{Engine: eng, Store: st, Settings: callback.Settings{Client: &http.Client{Timeout: 5 * time.Second},
		Clock: retryClock, AccountSID: "AC0123", Signer: callback.TwilioSigner{AuthToken: token}, RetryDelay: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- disp.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return &env{t: t, ctx: ctx, store: st, eng: eng, ws: ws, clock: clock}
}

// flow creates a queue, a workflow with the callback URLs and an available
// worker, and returns the workflow and the worker.
func (e *env) flow(primary, fallback string) (didrouter.Workflow, didrouter.Worker) {
	e.t.Helper()
	q, err := e.eng.CreateTaskQueue(e.ctx, e.ws.SID, engine.TaskQueueInsert{FriendlyName: "Callbacks"})
	if err != nil {
		e.t.Fatal(err)
	}
	wf, err := e.eng.CreateWorkflow(e.ctx, e.ws.SID, engine.WorkflowInsert{FriendlyName: "Callbacks",
		Configuration:         `{"task_routing":{"default_filter":{"queue":"` + q.SID + `"}}}`,
		AssignmentCallbackURL: primary, FallbackAssignmentCallbackURL: fallback})
	if err != nil {
		e.t.Fatal(err)
	}
	w, err := e.eng.CreateWorker(e.ctx, e.ws.SID, engine.WorkerInsert{FriendlyName: "alice",
		Attributes: `{"contact_uri":"client:alice","team":"blue"}`, ActivitySID: e.activity("Available")})
	if err != nil {
		e.t.Fatal(err)
	}
	return wf, w
}

func (e *env) activity(name string) string {
	acts, _ := e.store.ListActivities(e.ctx, e.ws.SID)
	for _, a := range acts {
		if a.FriendlyName == name {
			return a.SID
		}
	}
	e.t.Fatalf("no activity %s", name)
	return ""
}

func (e *env) task(wf didrouter.Workflow) engine.TaskResult {
	e.t.Helper()
	res, err := e.eng.CreateTask(e.ctx, engine.TaskInsert{WorkspaceSID: e.ws.SID, WorkflowSID: wf.SID,
		Attributes: `{"type":"callback"}`, TaskChannel: "chat"})
	if err != nil || res.Reservation == nil {
		e.t.Fatalf("create task: %v %+v", err, res)
	}
	return res
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

// The application accepts: the reservation is accepted and the task
// assigned; the request carries TaskRouter's parameters and a signature
// Twilio's own validator accepts.
func TestAcceptInstruction(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		rc := newReceiver(t, map[string]answer{"/assign": {body: `{"instruction":"accept"}`}})
		e := newEnv(t, st, nil)
		wf, w := e.flow(rc.srv.URL+"/assign", "")
		res := e.task(wf)
		eventually(t, "the task is assigned", func() bool {
			got, _ := e.store.GetTask(e.ctx, e.ws.SID, res.Task.SID)
			return got.AssignmentStatus == didrouter.TaskAssigned
		})
		reqs := rc.requests()
		if len(reqs) != 1 {
			t.Fatalf("%d callbacks, want 1", len(reqs))
		}
		f := reqs[0].form
		for k, want := range map[string]string{
			"AccountSid": "AC0123", "WorkspaceSid": e.ws.SID, "WorkflowSid": wf.SID, "TaskSid": res.Task.SID,
			"ReservationSid": res.Reservation.SID, "WorkerSid": w.SID, "TaskAttributes": `{"type":"callback"}`,
			"TaskQueueSid": res.Task.TaskQueueSID, "TaskAge": "0", "TaskPriority": "0", "TaskChannelUniqueName": "chat",
		} {
			if f.Get(k) != want {
				t.Errorf("%s = %q, want %q", k, f.Get(k), want)
			}
		}
		if !strings.Contains(f.Get("WorkerAttributes"), `"team":"blue"`) {
			t.Errorf("WorkerAttributes %q", f.Get("WorkerAttributes"))
		}
		params := map[string]string{}
		for k := range f {
			params[k] = f.Get(k)
		}
		v := client.NewRequestValidator(token)
		if !v.Validate(rc.srv.URL+"/assign", params, reqs[0].signature) {
			t.Errorf("signature %q does not validate", reqs[0].signature)
		}
		if v.Validate(rc.srv.URL+"/other", params, reqs[0].signature) {
			t.Error("the signature validates for another URL")
		}
	})
}

// The primary URL fails (retried, then given up); the fallback rejects and
// sends the worker to another activity.
func TestFallbackAfterFailure(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		unavailable := ""
		rc := newReceiver(t, map[string]answer{"/assign": {status: http.StatusServiceUnavailable}})
		e := newEnv(t, st, didrouter.SystemClock{})
		unavailable = e.activity("Unavailable")
		rc.mu.Lock()
		rc.answers["/fallback"] = answer{body: `{"instruction":"reject","activity_sid":"` + unavailable + `"}`}
		rc.mu.Unlock()
		wf, w := e.flow(rc.srv.URL+"/assign", rc.srv.URL+"/fallback")
		res := e.task(wf)
		eventually(t, "the reservation is rejected and alice unavailable", func() bool {
			r, _ := e.store.GetReservation(e.ctx, e.ws.SID, res.Reservation.SID)
			got, _ := e.store.GetWorker(e.ctx, e.ws.SID, w.SID)
			return r.Status == didrouter.ReservationRejected && got.ActivitySID == unavailable
		})
		var paths []string
		for _, r := range rc.requests() {
			paths = append(paths, r.path)
		}
		if strings.Join(paths, " ") != "/assign /assign /fallback" {
			t.Errorf("requests %v: want two tries of the primary, then the fallback", paths)
		}
	})
}

// A 4xx answer is final for that URL: no retry, straight to the fallback;
// an empty 200 answer leaves the reservation pending, as does an
// instruction didrouter cannot carry out.
func TestAnswersThatLeaveTheReservationPending(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		rc := newReceiver(t, map[string]answer{
			"/assign":   {status: http.StatusNotFound},
			"/fallback": {body: ""},
			"/call":     {body: `{"instruction":"call","url":"https://example.com/twiml","to":"+15125550100"}`},
		})
		e := newEnv(t, st, nil)
		wf, _ := e.flow(rc.srv.URL+"/assign", rc.srv.URL+"/fallback")
		res := e.task(wf)
		eventually(t, "the fallback is asked", func() bool { return len(rc.requests()) == 2 })
		if p := rc.requests(); p[0].path != "/assign" || p[1].path != "/fallback" {
			t.Errorf("requests %+v", p)
		}
		time.Sleep(50 * time.Millisecond) // nothing else is coming
		if r, _ := e.store.GetReservation(e.ctx, e.ws.SID, res.Reservation.SID); r.Status != didrouter.ReservationPending || len(rc.requests()) != 2 {
			t.Errorf("after an empty answer: reservation %s, %d requests", r.Status, len(rc.requests()))
		}

		call := rc.srv.URL + "/call"
		if _, err := e.eng.UpdateWorkflow(e.ctx, e.ws.SID, wf.SID, engine.WorkflowUpdate{AssignmentCallbackURL: &call}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.eng.CancelTask(e.ctx, e.ws.SID, res.Task.SID, "next"); err != nil {
			t.Fatal(err)
		}
		res = e.task(wf)
		eventually(t, "the call instruction is asked", func() bool { return len(rc.requests()) == 3 })
		time.Sleep(50 * time.Millisecond)
		if r, _ := e.store.GetReservation(e.ctx, e.ws.SID, res.Reservation.SID); r.Status != didrouter.ReservationPending {
			t.Errorf("after a call instruction: reservation %s", r.Status)
		}
	})
}

// Only committed reservations are reported: a transaction that rolls back
// after inserting one reports nothing.
func TestObserveReportsCommittedReservationsOnly(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		ctx := context.Background()
		clock := didrouter.NewFakeClock(time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC))
		ws, err := engine.Seed(ctx, st, clock)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		observed := assignment.Observe(st, func(r didrouter.Reservation) { got = append(got, r.SID) })
		eng, err := engine.New(engine.Config{Store: st, Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		acts, _ := st.ListActivities(ctx, ws.SID)
		var available string
		for _, a := range acts {
			if a.Available {
				available = a.SID
			}
		}
		w, err := eng.CreateWorker(ctx, ws.SID, engine.WorkerInsert{FriendlyName: "w", ActivitySID: available})
		if err != nil {
			t.Fatal(err)
		}
		// The first task takes the one worker; the second waits, with no
		// reservation, so one can be inserted for it by hand.
		res, err := eng.CreateTask(ctx, engine.TaskInsert{WorkspaceSID: ws.SID, Attributes: `{}`})
		if err != nil || res.Reservation == nil {
			t.Fatalf("task: %v %+v", err, res)
		}
		t2, err := eng.CreateTask(ctx, engine.TaskInsert{WorkspaceSID: ws.SID, Attributes: `{}`})
		if err != nil {
			t.Fatal(err)
		}
		now := clock.Now()
		r := didrouter.Reservation{SID: didrouter.NewSID(didrouter.PrefixReservation), WorkspaceSID: ws.SID, TaskSID: t2.Task.SID,
			WorkerSID: w.SID, Status: didrouter.ReservationPending, Timeout: 120, DateCreated: now, DateUpdated: now}
		rollback := errors.New("roll back")
		err = observed.Tx(ctx, func(tx didrouter.Tx) error {
			if err := tx.InsertReservation(ctx, r); err != nil {
				return err
			}
			return rollback
		})
		if !errors.Is(err, rollback) || len(got) != 0 {
			t.Fatalf("rolled back: err %v, reported %v", err, got)
		}
		if err := observed.Tx(ctx, func(tx didrouter.Tx) error { return tx.InsertReservation(ctx, r) }); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0] != r.SID {
			t.Fatalf("committed: reported %v", got)
		}
	})
}

// The workflow's URL is read again before each try: cleared while the
// first try is under way (and fails), the callback is not tried again,
// and its fallback is not called either.
func TestClearedURLNotRetried(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		rc := newReceiver(t, map[string]answer{"/assign": {status: http.StatusServiceUnavailable}})
		rc.gate = make(chan struct{})
		e := newEnv(t, st, didrouter.SystemClock{})
		wf, _ := e.flow(rc.srv.URL+"/assign", rc.srv.URL+"/fallback")
		res := e.task(wf)
		eventually(t, "the callback is sent", func() bool { return len(rc.requests()) == 1 })
		none := ""
		if _, err := e.eng.UpdateWorkflow(e.ctx, e.ws.SID, wf.SID, engine.WorkflowUpdate{AssignmentCallbackURL: &none}); err != nil {
			t.Fatal(err)
		}
		close(rc.gate)
		time.Sleep(100 * time.Millisecond) // a retry would come after 1 ms
		if reqs := rc.requests(); len(reqs) != 1 {
			var paths []string
			for _, r := range reqs {
				paths = append(paths, r.path)
			}
			t.Errorf("requests %v after the URL was cleared, want the first alone", paths)
		}
		if r, _ := e.store.GetReservation(e.ctx, e.ws.SID, res.Reservation.SID); r.Status != didrouter.ReservationPending {
			t.Errorf("reservation %s, want pending", r.Status)
		}
	})
}
