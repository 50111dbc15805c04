package webhooks_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/degraded"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/routing"
	"github.com/didrouter/didrouter/webhooks"
)

// While the store is down, a call is still rung through to the owner (from
// memory), the agent's answer connects, the end of the call hangs up; once
// the store is back, the journal puts the call into it, completed, with
// the owner free again.
func TestDegradedCallWhileTheStoreIsDown(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		ds := &downStore{Store: st}
		admin := newInstance(t, st, newClock()) // seeds, creates workers (store always up)
		owner := admin.worker("alice", aliceDID, "Available")

		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		clock := didrouter.SystemClock{}
		norm, _ := routing.NewNormalizer("US")
		eng, err := engine.New(engine.Config{Store: ds, Clock: clock, InstanceID: "degraded"})
		if err != nil {
			t.Fatal(err)
		}
		j, err := degraded.OpenJournal(filepath.Join(t.TempDir(), "journal.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		mode, err := degraded.New(degraded.Config{Engine: eng, Store: ds, Down: ds.since, Journal: j,
			WorkspaceSID: admin.ws.SID, SettleAfter: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		runDone := make(chan struct{})
		go func() { mode.Run(ctx); close(runDone) }()
		defer func() { cancel(); <-runDone }()

		var handler http.Handler
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
		defer srv.Close()
		wh, err := webhooks.NewHandler(webhooks.Config{
			Engine: eng, Store: ds, Normalizer: norm, Clock: clock, Logger: testLogger(t),
			PublicURL: srv.URL, AuthToken: authToken, WorkspaceSID: admin.ws.SID, Degraded: mode,
		})
		if err != nil {
			t.Fatal(err)
		}
		r := chi.NewRouter()
		wh.Mount(r)
		handler = r
		in := &instance{t: t, store: ds, eng: eng, ws: admin.ws, srv: srv, client: srv.Client()}

		// Wait until degraded mode has read what it needs, then cut the store.
		deadline := time.Now().Add(10 * time.Second)
		for !mode.Ready() {
			if time.Now().After(deadline) {
				t.Fatal("degraded mode never warmed up")
			}
			time.Sleep(20 * time.Millisecond)
		}
		ds.down.Store(true)

		c := newCall(aliceDID)
		doc := in.incoming(c)
		identity, dial := dialed(t, doc)
		if identity != "alice" {
			t.Fatalf("rang %q while the store is down, want the owner alice", identity)
		}
		if doc := in.twiml(dial.Children[0].attr("url"), c.form()); doc.has("Hangup") {
			t.Fatalf("agent answer while the store is down: %v, want to connect", doc.verbs())
		}
		if doc := in.twiml(dial.attr("action"), c.form("DialCallStatus", "completed", "CallStatus", "in-progress")); !doc.has("Hangup") {
			t.Fatalf("end of the answered call: %v, want Hangup", doc.verbs())
		}
		resp, _ := in.twilio(in.webhookURL("/status"), c.form("CallStatus", "completed"))
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("status callback: %s", resp.Status)
		}
		if _, err := st.TaskByCallSID(ctx, admin.ws.SID, c.sid); didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
			t.Fatalf("the call reached the store while it was down: %v", err)
		}

		ds.down.Store(false)
		deadline = time.Now().Add(20 * time.Second)
		for j.Len() > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("journal not replayed: %+v", j.Pending())
			}
			time.Sleep(20 * time.Millisecond)
		}
		task, err := st.TaskByCallSID(ctx, admin.ws.SID, c.sid)
		if err != nil || task.AssignmentStatus != didrouter.TaskCompleted {
			t.Fatalf("the call's task after the replay: %+v %v, want completed", task.AssignmentStatus, err)
		}
		if w, _ := st.GetWorker(ctx, admin.ws.SID, owner); w.Busy != 0 {
			t.Fatalf("owner busy %d after the replay, want 0", w.Busy)
		}
	})
}

// A dial that ended unanswered while the store was down is journaled; until
// the journal is replayed the store still says the reservation is pending.
// The queue's URLs say it is over, so no instance rings that worker again
// for it in the meantime.
func TestDegradedDialOutcomeIsNotRungAgain(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		ds := &downStore{Store: st}
		in := newInstance(t, st, newClock())
		in.worker("alice", aliceDID, "Available")
		norm, _ := routing.NewNormalizer("US")
		j, err := degraded.OpenJournal(filepath.Join(t.TempDir(), "journal.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		mode, err := degraded.New(degraded.Config{Engine: in.eng, Store: ds, Down: ds.since, Journal: j, WorkspaceSID: in.ws.SID})
		if err != nil {
			t.Fatal(err)
		}
		var handler http.Handler
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
		defer srv.Close()
		wh, err := webhooks.NewHandler(webhooks.Config{
			Engine: in.eng, Store: ds, Normalizer: norm, Clock: in.clock, Logger: testLogger(t),
			PublicURL: srv.URL, AuthToken: authToken, WorkspaceSID: in.ws.SID, Degraded: mode,
		})
		if err != nil {
			t.Fatal(err)
		}
		handler = wh
		wi := &instance{t: t, store: ds, clock: in.clock, eng: in.eng, ws: in.ws, srv: srv, client: srv.Client()}

		c := newCall(aliceDID)
		_, dial := dialed(t, wi.incoming(c))
		resSID := query(t, dial.attr("action"), "reservation")
		ds.down.Store(true)
		doc := wi.twiml(dial.attr("action"), c.form("DialCallStatus", "no-answer", "CallStatus", "in-progress"))
		enq := doc.only(t, "Enqueue")
		if query(t, enq.attr("waitUrl"), "ended") != resSID || query(t, enq.attr("action"), "ended") != resSID {
			t.Fatalf("queue URLs %q / %q do not say reservation %s is over", enq.attr("waitUrl"), enq.attr("action"), resSID)
		}
		if j.Len() != 1 {
			t.Fatalf("%d journal entries, want the dial outcome", j.Len())
		}
		ds.down.Store(false) // back, journal not replayed yet: the store says pending
		if r := in.reservation(resSID); r.Status != didrouter.ReservationPending {
			t.Fatalf("reservation %s, want still pending before the replay", r.Status)
		}
		if doc := wi.twiml(enq.attr("waitUrl"), c.form("QueueTime", "5")); doc.has("Leave") {
			t.Fatal("the wait poll left the queue for the reservation the dial outcome ended")
		}
		if doc := wi.twiml(enq.attr("action"), c.form("QueueResult", "leave")); doc.has("Dial") {
			t.Fatal("the queue action rang the worker again for the ended reservation")
		}
	})
}
