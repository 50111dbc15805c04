package webhooks_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/degraded"
	"github.com/didrouter/didrouter/routing"
	"github.com/didrouter/didrouter/webhooks"
)

// degradedInstance serves in's engine with webhooks that read through ds
// and a degraded mode whose store is ds and whose outage is down (nil: as
// ds says). With run, the mode's loop runs (routing held while ds is down,
// released settle after it is back).
func degradedInstance(t *testing.T, in *instance, ds *downStore, down func() time.Time, settle time.Duration, run bool) (*instance, *degraded.Mode, *degraded.Journal) {
	t.Helper()
	if down == nil {
		down = ds.since
	}
	norm, _ := routing.NewNormalizer("US")
	j, err := degraded.OpenJournal(filepath.Join(t.TempDir(), "journal.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = j.Close() })
	mode, err := degraded.New(degraded.Config{Engine: in.eng, Store: ds, Down: down, Journal: j,
		WorkspaceSID: in.ws.SID, SettleAfter: settle, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if run {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { mode.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	wh, err := webhooks.NewHandler(webhooks.Config{
		Engine: in.eng, Store: ds, Normalizer: norm, Clock: in.clock, Logger: testLogger(t),
		PublicURL: srv.URL, AuthToken: authToken, WorkspaceSID: in.ws.SID, Degraded: mode,
	})
	if err != nil {
		t.Fatal(err)
	}
	handler = wh
	return &instance{t: t, store: ds, clock: in.clock, eng: in.eng, ws: in.ws, srv: srv, client: srv.Client()}, mode, j
}

// otherJournal is a second instance's degraded mode (its own journal) on
// the same engine and store: what it journals reaches the store only when
// the test replays it.
func otherJournal(t *testing.T, in *instance, ds *downStore) *degraded.Mode {
	t.Helper()
	j, err := degraded.OpenJournal(filepath.Join(t.TempDir(), "other.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = j.Close() })
	mode, err := degraded.New(degraded.Config{Engine: in.eng, Store: ds, Down: ds.since, Journal: j, WorkspaceSID: in.ws.SID})
	if err != nil {
		t.Fatal(err)
	}
	return mode
}

// outageAfterRinging rings alice for a new call on wi, takes the store
// down until wi's degraded mode holds routing, and brings it back: wi is
// then recovering (its settle time runs). It returns the call, the dial
// action URL, the task and the reservation.
func outageAfterRinging(t *testing.T, wi *instance, ds *downStore, mode *degraded.Mode, during func(c call, taskSID, resSID string)) (call, string, string, string) {
	t.Helper()
	c := newCall(aliceDID)
	_, dial := wi.dialOf(c)
	action := dial.attr("action")
	taskSID, resSID := query(t, action, "task"), query(t, action, "reservation")
	ds.down.Store(true)
	waitFor(t, "routing held during the outage", wi.eng.Degraded().RoutingPaused)
	if during != nil {
		during(c, taskSID, resSID)
	}
	ds.down.Store(false)
	if !mode.Recovering() {
		t.Fatal("degraded mode does not say it is recovering right after the outage")
	}
	return c, action, taskSID, resSID
}

func (in *instance) dialOf(c call) (string, node) {
	in.t.Helper()
	return dialed(in.t, in.incoming(c))
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// An agent answered while the store was down (the acceptance is in another
// instance's journal) and hung up; the dial action "completed" reaches this
// instance right after the store is back, before that journal is replayed:
// the store still says the reservation is pending. The caller is held (not
// queued again, the reservation not rejected), and once the settle time is
// over the dial action completes the task and hangs up.
func TestDialActionRightAfterAnOutageWaitsForTheJournals(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		ds := &downStore{Store: st}
		in := newInstance(t, st, newClock())
		alice := in.worker("alice", aliceDID, "Available")
		wi, mode, _ := degradedInstance(t, in, ds, nil, 2*time.Second, true)
		other := otherJournal(t, in, ds)

		c, action, taskSID, resSID := outageAfterRinging(t, wi, ds, mode, func(c call, taskSID, resSID string) {
			if err := other.Accept(context.Background(), in.ws.SID, c.sid, taskSID, resSID); err != nil {
				t.Fatal(err)
			}
		})
		doc := wi.twiml(action, c.form("DialCallStatus", "completed", "CallStatus", "in-progress"))
		if got := doc.verbs(); len(got) != 2 || got[0] != "Pause" || got[1] != "Redirect" {
			t.Fatalf("dial action completed right after the outage: %v, want [Pause Redirect]", got)
		}
		again := strings.TrimSpace(doc.only(t, "Redirect").Text)
		if query(t, again, "dial_status") != "completed" || query(t, again, "reservation") != resSID {
			t.Fatalf("hold redirect %q does not carry the dial's outcome", again)
		}
		if r := in.reservation(resSID); r.Status != didrouter.ReservationPending {
			t.Fatalf("reservation %s after the held dial action, want still pending", r.Status)
		}

		// The other instance replays its journal: the agent answered.
		if left := other.ReplayPending(context.Background(), false); left != 0 {
			t.Fatalf("%d entries left in the other journal", left)
		}
		if task := in.task(taskSID); task.AssignmentStatus != didrouter.TaskAssigned {
			t.Fatalf("task %s after the acceptance is replayed, want assigned", task.AssignmentStatus)
		}
		waitFor(t, "the settle time to end", func() bool { return !mode.Recovering() })
		// Twilio follows the redirect (no DialCallStatus in its form).
		doc = wi.twiml(again, c.form("CallStatus", "in-progress"))
		if got := doc.verbs(); len(got) != 1 || got[0] != "Hangup" {
			t.Fatalf("held dial action after the settle time: %v, want [Hangup]", got)
		}
		if task := in.task(taskSID); task.AssignmentStatus != didrouter.TaskCompleted {
			t.Fatalf("task %s, want completed", task.AssignmentStatus)
		}
		if w := in.workerRow(alice); w.Busy != 0 {
			t.Fatalf("alice busy %d, want 0", w.Busy)
		}
	})
}

// The same dial action with no answer in any journal (the agent's leg was
// hung up by the answer webhook): after the settle time the reservation is
// rejected and the caller waits in the queue, as outside an outage.
func TestDialActionRightAfterAnOutageWithoutAnAnswer(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		ds := &downStore{Store: st}
		in := newInstance(t, st, newClock())
		in.worker("alice", aliceDID, "Available")
		wi, mode, _ := degradedInstance(t, in, ds, nil, 2*time.Second, true)

		c, action, _, resSID := outageAfterRinging(t, wi, ds, mode, nil)
		doc := wi.twiml(action, c.form("DialCallStatus", "completed", "CallStatus", "in-progress"))
		if !doc.has("Redirect") || doc.has("Enqueue") {
			t.Fatalf("dial action completed right after the outage: %v, want held", doc.verbs())
		}
		waitFor(t, "the settle time to end", func() bool { return !mode.Recovering() })
		doc = wi.twiml(strings.TrimSpace(doc.only(t, "Redirect").Text), c.form("CallStatus", "in-progress"))
		if doc.has("Hangup") || (!doc.has("Enqueue") && !doc.has("Dial")) {
			t.Fatalf("held dial action without an answer: %v, want the caller kept", doc.verbs())
		}
		if r := in.reservation(resSID); r.Status == didrouter.ReservationPending || r.Status == didrouter.ReservationAccepted {
			t.Fatalf("reservation %s, want it given back", r.Status)
		}
	})
}

// The caller hangs up after an agent answered during the outage; the
// status callback reaches this instance before the other one replayed the
// acceptance. The task is not canceled: the hang-up is journaled, and the
// task ends completed once both journals are in.
func TestStatusCallbackRightAfterAnOutageWaitsForTheJournals(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		ds := &downStore{Store: st}
		in := newInstance(t, st, newClock())
		alice := in.worker("alice", aliceDID, "Available")
		wi, mode, j := degradedInstance(t, in, ds, nil, 2*time.Second, true)
		other := otherJournal(t, in, ds)

		c, _, taskSID, _ := outageAfterRinging(t, wi, ds, mode, func(c call, taskSID, resSID string) {
			if err := other.Accept(context.Background(), in.ws.SID, c.sid, taskSID, resSID); err != nil {
				t.Fatal(err)
			}
		})
		resp, _ := wi.twilio(wi.webhookURL("/status"), c.form("CallStatus", "completed"))
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("status callback: %s", resp.Status)
		}
		if task := in.task(taskSID); task.AssignmentStatus != didrouter.TaskReserved {
			t.Fatalf("task %s right after the status callback, want still reserved", task.AssignmentStatus)
		}
		if j.Len() == 0 && in.task(taskSID).AssignmentStatus != didrouter.TaskCompleted {
			t.Fatal("the hang-up was neither journaled nor applied")
		}
		if left := other.ReplayPending(context.Background(), false); left != 0 {
			t.Fatalf("%d entries left in the other journal", left)
		}
		waitFor(t, "the journal to be replayed", func() bool { return j.Len() == 0 })
		if task := in.task(taskSID); task.AssignmentStatus != didrouter.TaskCompleted {
			t.Fatalf("task %s after the replays, want completed", task.AssignmentStatus)
		}
		if w := in.workerRow(alice); w.Busy != 0 {
			t.Fatalf("alice busy %d, want 0", w.Busy)
		}
	})
}

// A caller who hangs up while the agent's phone still rings, right after
// an outage, with no answer in any journal: the task is canceled once the
// settle time is over.
func TestStatusCallbackRightAfterAnOutageWithoutAnAnswer(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		ds := &downStore{Store: st}
		in := newInstance(t, st, newClock())
		alice := in.worker("alice", aliceDID, "Available")
		wi, mode, j := degradedInstance(t, in, ds, nil, 2*time.Second, true)

		c, _, taskSID, _ := outageAfterRinging(t, wi, ds, mode, nil)
		resp, _ := wi.twilio(wi.webhookURL("/status"), c.form("CallStatus", "completed"))
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("status callback: %s", resp.Status)
		}
		waitFor(t, "the journal to be replayed", func() bool { return j.Len() == 0 && !mode.Recovering() })
		if task := in.task(taskSID); task.AssignmentStatus != didrouter.TaskCanceled {
			t.Fatalf("task %s after the settle time, want canceled", task.AssignmentStatus)
		}
		if w := in.workerRow(alice); w.Busy != 0 {
			t.Fatalf("alice busy %d, want 0", w.Busy)
		}
	})
}

// The dial action of an answered call hits a brief restart of the store
// (reads fail; degraded mode is not active yet): the caller's call ends
// rather than waiting in the queue of a task that is still assigned, and
// the end of the call is journaled: once the store answers the task is
// completed.
func TestAnsweredDialActionWithoutTheStoreEndsTheCall(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		ds := &downStore{Store: st}
		in := newInstance(t, st, newClock())
		alice := in.worker("alice", aliceDID, "Available")
		notYet := func() time.Time { return time.Time{} } // the outage is not known yet
		wi, mode, j := degradedInstance(t, in, ds, notYet, time.Second, false)

		c := newCall(aliceDID)
		_, dial := wi.dialOf(c)
		taskSID := query(t, dial.attr("action"), "task")
		if doc := wi.twiml(dial.Children[0].attr("url"), c.form()); doc.has("Hangup") {
			t.Fatalf("agent answer: %v, want to connect", doc.verbs())
		}
		ds.down.Store(true)
		doc := wi.twiml(dial.attr("action"), c.form("DialCallStatus", "completed", "CallStatus", "in-progress"))
		if got := doc.verbs(); len(got) != 1 || got[0] != "Hangup" {
			t.Fatalf("answered dial action without the store: %v, want [Hangup]", got)
		}
		if j.Len() != 1 {
			t.Fatalf("%d journal entries, want the end of the call", j.Len())
		}
		ds.down.Store(false)
		if left := mode.ReplayPending(context.Background(), false); left != 0 {
			t.Fatalf("%d journal entries left after the replay", left)
		}
		if task := in.task(taskSID); task.AssignmentStatus != didrouter.TaskCompleted {
			t.Fatalf("task %s after the store is back, want completed", task.AssignmentStatus)
		}
		if w := in.workerRow(alice); w.Busy != 0 {
			t.Fatalf("alice busy %d, want 0", w.Busy)
		}
	})
}

// Without degraded mode, the same dial action hangs up too; the status
// callback that follows the hang-up ends the task once the store answers.
func TestAnsweredDialActionWithoutTheStoreOrDegradedMode(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		ds := &downStore{Store: st}
		in := newInstance(t, ds, newClock())
		in.worker("alice", aliceDID, "Available")

		c := newCall(aliceDID)
		_, dial := in.dialOf(c)
		taskSID := query(t, dial.attr("action"), "task")
		if doc := in.twiml(dial.Children[0].attr("url"), c.form()); doc.has("Hangup") {
			t.Fatalf("agent answer: %v, want to connect", doc.verbs())
		}
		ds.down.Store(true)
		doc := in.twiml(dial.attr("action"), c.form("DialCallStatus", "completed", "CallStatus", "in-progress"))
		if got := doc.verbs(); len(got) != 1 || got[0] != "Hangup" {
			t.Fatalf("answered dial action without the store: %v, want [Hangup]", got)
		}
		ds.down.Store(false)
		resp, _ := in.twilio(in.webhookURL("/status"), c.form("CallStatus", "completed"))
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("status callback: %s", resp.Status)
		}
		if task := in.task(taskSID); task.AssignmentStatus != didrouter.TaskCompleted {
			t.Fatalf("task %s after the status callback, want completed", task.AssignmentStatus)
		}
	})
}

// Two instances routed the same call from memory during an outage (its
// incoming webhook delivered twice); the replay kept the other instance's
// task, so the one the caller follows is not in the store. When that dial
// ends unanswered, the caller is connected from the kept task (its worker
// rung) instead of waiting in the queue of a task nobody will serve.
func TestDialActionOfALostTaskFollowsTheKeptOne(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := newInstance(t, st, newClock())
		in.worker("alice", aliceDID, "Available")
		c := newCall(aliceDID)
		_, dial := in.dialOf(c)
		kept := query(t, dial.attr("action"), "task")
		lost := in.webhookURL("/dial") + "?task=WT" + strings.Repeat("0", 31) + "1&reservation=WR" + strings.Repeat("0", 31) + "1"
		doc := in.twiml(lost, c.form("DialCallStatus", "no-answer", "CallStatus", "in-progress"))
		identity, d := dialed(t, doc)
		if identity != "alice" || query(t, d.attr("action"), "task") != kept {
			t.Fatalf("dial action of the lost task: rang %q for task %s, want alice for the kept task %s",
				identity, query(t, d.attr("action"), "task"), kept)
		}
	})
}

// The same, for a caller already waiting in the queue of the lost task: the
// wait poll takes them out of that queue, and the Enqueue action connects
// them from the kept task (here: its queue, nobody being free).
func TestWaitingInALostTasksQueueFollowsTheKeptOne(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := newInstance(t, st, newClock())
		c := newCall(aliceDID)
		if doc := in.incoming(c); !doc.has("Enqueue") {
			t.Fatalf("incoming with nobody available: %v, want Enqueue", doc.verbs())
		}
		kept := in.taskOf(c).SID
		lost := "WT" + strings.Repeat("0", 31) + "2"
		doc := in.twiml(in.webhookURL("/wait")+"?task="+lost, c.form("QueueTime", "12", "CallStatus", "in-progress"))
		if got := doc.verbs(); len(got) != 1 || got[0] != "Leave" {
			t.Fatalf("wait poll of the lost task: %v, want Leave", got)
		}
		doc = in.twiml(in.webhookURL("/dequeued")+"?task="+lost, c.form("QueueResult", "leave", "CallStatus", "in-progress"))
		enq := doc.only(t, "Enqueue")
		if wait := enq.attr("waitUrl"); query(t, wait, "task") != kept {
			t.Fatalf("dequeued from the lost task: waits with %q, want the kept task %s", wait, kept)
		}
	})
}
