package degraded_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/degraded"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/store/storetest"
)

// outageSwitch stands for outage.Store.Down. The test says when the store
// counts as unreachable, while the store itself stays real.
type outageSwitch struct{ since atomic.Int64 }

func (o *outageSwitch) down() time.Time {
	if ns := o.since.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

func (o *outageSwitch) set(down bool) {
	if down {
		o.since.Store(time.Now().UnixNano())
	} else {
		o.since.Store(0)
	}
}

func stores(t *testing.T, fn func(t *testing.T, st didrouter.Store)) {
	t.Run("postgres", func(t *testing.T) { t.Parallel(); fn(t, storetest.Postgres(t)) })
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); fn(t, storetest.SQLite(t)) })
}

func callTask(callSID, to string) engine.TaskInsert {
	attrs, _ := json.Marshal(map[string]string{"phone_number": to, "type": "inbound", "call_sid": callSID})
	return engine.TaskInsert{Attributes: string(attrs), CallSID: callSID}
}

// ownerMode is the set-up of the replay tests. It is a running degraded
// Mode over st, warmed up, with the warm-up call ended. Its one available
// worker, "owner", owns +15125550100.
type ownerMode struct {
	ctx   context.Context
	ws    didrouter.Workspace
	owner didrouter.Worker
	j     *degraded.Journal
	sw    *outageSwitch
	mode  *degraded.Mode
}

// newOwnerMode builds an ownerMode. wrap gives the Mode its engine, the
// real one or one that fails on purpose.
func newOwnerMode(t *testing.T, st didrouter.Store, wrap func(*engine.Engine) degraded.Engine, settle time.Duration) ownerMode {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ws, err := engine.Seed(ctx, st, didrouter.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{Store: st, Clock: didrouter.SystemClock{}, InstanceID: "i1"})
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
	owner, err := eng.CreateWorker(ctx, ws.SID, engine.WorkerInsert{FriendlyName: "owner", ActivitySID: available,
		Attributes: `{"phone_number":"+15125550100","contact_uri":"client:owner"}`})
	if err != nil {
		t.Fatal(err)
	}
	j, err := degraded.OpenJournal(filepath.Join(t.TempDir(), "journal.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	sw := &outageSwitch{}
	mode, err := degraded.New(degraded.Config{Engine: wrap(eng), Store: st, Down: sw.down, Journal: j,
		WorkspaceSID: ws.SID, SettleAfter: settle})
	if err != nil {
		t.Fatal(err)
	}
	runDone := make(chan struct{})
	go func() { mode.Run(ctx); close(runDone) }()
	t.Cleanup(func() { cancel(); <-runDone; j.Close() })

	// Incoming works once the workspace was read.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, _, err := mode.Incoming(ctx, "+15125559999", callTask("CAwarm", "+15125559999")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("degraded mode never warmed up")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The warm-up call took the owner through Everyone, and it hangs up.
	if err := mode.EndCall(ctx, ws.SID, "CAwarm", "caller hung up"); err != nil {
		t.Fatal(err)
	}
	return ownerMode{ctx: ctx, ws: ws, owner: owner, j: j, sw: sw, mode: mode}
}

// A call answered and ended while the store was down, and one that waited
// and hung up, are in the store afterwards exactly once, in their final
// state. The worker is free and the journal is empty.
func TestModeJournalsAndReplays(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		o := newOwnerMode(t, st, func(e *engine.Engine) degraded.Engine { return e }, 200*time.Millisecond)
		ctx, ws, owner, j, sw, mode := o.ctx, o.ws, o.owner, o.j, o.sw, o.mode
		sw.set(true)
		if !mode.Active() {
			t.Fatal("not active while the store is down")
		}
		_, first, err := mode.Incoming(ctx, "+15125550100", callTask("CAfirst", "+15125550100"))
		if err != nil || first.Reservation == nil || first.Reservation.WorkerSID != owner.SID {
			t.Fatalf("first call: %+v %v, want the owner", first.Reservation, err)
		}
		_, second, err := mode.Incoming(ctx, "+15125550100", callTask("CAsecond", "+15125550100"))
		if err != nil || second.Reservation != nil {
			t.Fatalf("second call: %+v %v, want it waiting (the owner is on the first)", second.Reservation, err)
		}
		if err := mode.Accept(ctx, ws.SID, "CAfirst", first.Task.SID, first.Reservation.SID); err != nil {
			t.Fatal(err)
		}
		if err := mode.EndTask(ctx, ws.SID, "CAfirst", first.Task.SID, first.Reservation.SID, "call completed"); err != nil {
			t.Fatal(err)
		}
		if err := mode.EndCall(ctx, ws.SID, "CAsecond", "caller hung up"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.TaskByCallSID(ctx, ws.SID, "CAfirst"); didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
			t.Fatalf("the store has the call before the replay: %v", err)
		}

		sw.set(false)
		deadline := time.Now().Add(20 * time.Second)
		for j.Len() > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("journal not replayed: %+v", j.Pending())
			}
			time.Sleep(20 * time.Millisecond)
		}
		want := map[string]string{"CAfirst": didrouter.TaskCompleted, "CAsecond": didrouter.TaskCanceled, "CAwarm": didrouter.TaskCanceled}
		for call, status := range want {
			task, err := st.TaskByCallSID(ctx, ws.SID, call)
			if err != nil || task.AssignmentStatus != status {
				t.Fatalf("%s: %+v %v, want %s", call, task.AssignmentStatus, err, status)
			}
		}
		if r, err := st.GetReservation(ctx, ws.SID, first.Reservation.SID); err != nil || r.Status != didrouter.ReservationCompleted {
			t.Fatalf("first reservation: %+v %v, want completed", r.Status, err)
		}
		if w, _ := st.GetWorker(ctx, ws.SID, owner.SID); w.Busy != 0 {
			t.Fatalf("owner busy %d after the replay, want 0", w.Busy)
		}
		if s := mode.Stats(); s.Calls != 3 || s.Replayed == 0 || s.Conflicts != 0 || s.Dropped != 0 {
			t.Fatalf("stats: %+v", s)
		}
	})
}

// Twilio delivered a call's incoming webhook twice while the store was down
// and both were routed from memory. One task is imported and the other
// dropped. What was journaled against the dropped one does not stay in the
// journal. An answer of its reservation is dropped, and the end of the call
// ends the task that was kept.
func TestModeDuplicateCall(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ws, err := engine.Seed(ctx, st, didrouter.SystemClock{})
		if err != nil {
			t.Fatal(err)
		}
		eng, err := engine.New(engine.Config{Store: st, Clock: didrouter.SystemClock{}, InstanceID: "i1"})
		if err != nil {
			t.Fatal(err)
		}
		j, err := degraded.OpenJournal(filepath.Join(t.TempDir(), "journal.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		sw := &outageSwitch{}
		mode, err := degraded.New(degraded.Config{Engine: eng, Store: st, Down: sw.down, Journal: j,
			WorkspaceSID: ws.SID, SettleAfter: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		runDone := make(chan struct{})
		go func() { mode.Run(ctx); close(runDone) }()
		defer func() { cancel(); <-runDone }()
		for deadline := time.Now().Add(10 * time.Second); !mode.Ready(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("never warmed up")
			}
		}
		sw.set(true)
		_, a, err := mode.Incoming(ctx, "+15125559999", callTask("CAdup", "+15125559999"))
		if err != nil {
			t.Fatal(err)
		}
		_, b, err := mode.Incoming(ctx, "+15125559999", callTask("CAdup", "+15125559999"))
		if err != nil || a.Task.SID == b.Task.SID {
			t.Fatalf("second delivery: %v, tasks %s and %s", err, a.Task.SID, b.Task.SID)
		}
		// Twilio followed the second answer.
		if err := mode.Accept(ctx, ws.SID, "CAdup", b.Task.SID, "WRneverstored0000000000000000000000"); err != nil {
			t.Fatal(err)
		}
		if err := mode.EndCall(ctx, ws.SID, "CAdup", "caller hung up"); err != nil {
			t.Fatal(err)
		}
		sw.set(false)
		for deadline := time.Now().Add(20 * time.Second); j.Len() > 0; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("journal not replayed: %+v", j.Pending())
			}
		}
		task, err := st.TaskByCallSID(ctx, ws.SID, "CAdup")
		if err != nil || task.AssignmentStatus != didrouter.TaskCanceled {
			t.Fatalf("the call's task: %+v %v, want canceled", task.AssignmentStatus, err)
		}
	})
}

// Recovering says the store is back but the journals may not all be in
// it. That holds from the end of an outage until the settle time is over,
// and while the instance's own journal has entries. It does not hold
// during the outage, when Active says so, nor before any outage.
func TestModeRecovering(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		clock := didrouter.SystemClock{}
		ws, err := engine.Seed(ctx, st, clock)
		if err != nil {
			t.Fatal(err)
		}
		eng, err := engine.New(engine.Config{Store: st, Clock: clock, InstanceID: "i1"})
		if err != nil {
			t.Fatal(err)
		}
		j, err := degraded.OpenJournal(filepath.Join(t.TempDir(), "journal.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		sw := &outageSwitch{}
		const settle = 1500 * time.Millisecond
		mode, err := degraded.New(degraded.Config{Engine: eng, Store: st, Down: sw.down, Journal: j,
			WorkspaceSID: ws.SID, SettleAfter: settle})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { mode.Run(ctx); close(done) }()
		defer func() { cancel(); <-done }()
		waitUntil := func(what string, cond func() bool) {
			t.Helper()
			deadline := time.Now().Add(15 * time.Second)
			for !cond() {
				if time.Now().After(deadline) {
					t.Fatalf("timed out: %s", what)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		waitUntil("warm", mode.Ready)
		if mode.Recovering() {
			t.Fatal("recovering before any outage")
		}
		sw.since.Store(time.Now().Add(-2 * time.Second).UnixNano()) // down for a while already
		waitUntil("routing held", eng.Degraded().RoutingPaused)
		if mode.Recovering() {
			t.Fatal("recovering while the store is down")
		}
		sw.set(false)
		back := time.Now()
		if !mode.Recovering() {
			t.Fatal("not recovering right after the outage")
		}
		waitUntil("the settle time to end", func() bool { return !mode.Recovering() })
		if waited := time.Since(back); waited < settle {
			t.Fatalf("recovering for %v, want the settle time %v", waited, settle)
		}
		// An entry of its own not replayed yet keeps it recovering. Here
		// it is one for a call the store will never have.
		if err := mode.EndCall(ctx, ws.SID, "CA0000000000000000000000000000dead", "caller hung up"); err != nil {
			t.Fatal(err)
		}
		if !mode.Recovering() {
			t.Fatal("not recovering with an entry of its own left in the journal")
		}
	})
}

// answeredDuplicate routes call CAdup twice while the store is down, as
// when its webhook is delivered twice. Each routing reserves one of two
// workers. The caller follows the second answer, and its worker answers.
// When set, busy runs against the store before the store is back. It
// returns the two routings once the journal is replayed.
func answeredDuplicate(t *testing.T, st didrouter.Store, busy func(ctx context.Context, ws didrouter.Workspace, worker didrouter.Worker)) (mode *degraded.Mode, a, b engine.TaskResult) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ws, err := engine.Seed(ctx, st, didrouter.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{Store: st, Clock: didrouter.SystemClock{}, InstanceID: "i1"})
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
	workers := map[string]didrouter.Worker{}
	for i, name := range []string{"x", "y"} {
		w, err := eng.CreateWorker(ctx, ws.SID, engine.WorkerInsert{FriendlyName: name, ActivitySID: available,
			Attributes: fmt.Sprintf(`{"phone_number":"+1512555010%d","contact_uri":"client:%s"}`, i, name)})
		if err != nil {
			t.Fatal(err)
		}
		workers[w.SID] = w
	}
	j, err := degraded.OpenJournal(filepath.Join(t.TempDir(), "journal.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = j.Close() })
	sw := &outageSwitch{}
	mode, err = degraded.New(degraded.Config{Engine: eng, Store: st, Down: sw.down, Journal: j,
		WorkspaceSID: ws.SID, SettleAfter: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runDone := make(chan struct{})
	go func() { mode.Run(ctx); close(runDone) }()
	t.Cleanup(func() { cancel(); <-runDone })
	for deadline := time.Now().Add(10 * time.Second); !mode.Ready(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("never warmed up")
		}
	}
	sw.set(true)
	if _, a, err = mode.Incoming(ctx, "+15125559999", callTask("CAdup", "+15125559999")); err != nil {
		t.Fatal(err)
	}
	if _, b, err = mode.Incoming(ctx, "+15125559999", callTask("CAdup", "+15125559999")); err != nil {
		t.Fatal(err)
	}
	if a.Reservation == nil || b.Reservation == nil || a.Reservation.WorkerSID == b.Reservation.WorkerSID {
		t.Fatalf("routings: %+v and %+v, want one worker each", a.Reservation, b.Reservation)
	}
	// Twilio followed the second answer, and its worker answered.
	if err := mode.Accept(ctx, ws.SID, "CAdup", b.Task.SID, b.Reservation.SID); err != nil {
		t.Fatal(err)
	}
	if err := mode.EndTask(ctx, ws.SID, "CAdup", b.Task.SID, b.Reservation.SID, "call completed"); err != nil {
		t.Fatal(err)
	}
	if busy != nil {
		busy(ctx, ws, workers[b.Reservation.WorkerSID])
	}
	sw.set(false)
	for deadline := time.Now().Add(20 * time.Second); j.Len() > 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("journal not replayed: %+v", j.Pending())
		}
	}
	return mode, a, b
}

// The answered reservation wins. A call is routed twice while the store is
// down and answered on the routing whose task loses at the import. It ends
// with the kept task completed by the worker who answered. The worker rung
// in vain is free, and nobody is booked twice.
func TestModeDuplicateCallAnswered(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		_, a, b := answeredDuplicate(t, st, nil)
		ctx := context.Background()
		ws := a.Task.WorkspaceSID
		task, err := st.TaskByCallSID(ctx, ws, "CAdup")
		if err != nil || task.SID != a.Task.SID || task.AssignmentStatus != didrouter.TaskCompleted {
			t.Fatalf("the call's task: %s %s %v, want %s completed", task.SID, task.AssignmentStatus, err, a.Task.SID)
		}
		if r, err := st.GetReservation(ctx, ws, b.Reservation.SID); err != nil || r.Status != didrouter.ReservationCompleted || r.TaskSID != a.Task.SID {
			t.Fatalf("answered reservation: %+v %v, want completed on the kept task", r, err)
		}
		if r, err := st.GetReservation(ctx, ws, a.Reservation.SID); err != nil || r.Status != didrouter.ReservationRescinded {
			t.Fatalf("reservation rung in vain: %+v %v, want rescinded", r, err)
		}
		for _, sid := range []string{a.Reservation.WorkerSID, b.Reservation.WorkerSID} {
			if w, err := st.GetWorker(ctx, ws, sid); err != nil || w.Busy != 0 {
				t.Fatalf("worker %s busy %d %v after the call, want 0", sid, w.Busy, err)
			}
		}
		evs, err := st.ListEvents(ctx, ws, didrouter.EventFilter{Page: didrouter.Page{Size: 1000}, TaskSID: a.Task.SID})
		if err != nil {
			t.Fatal(err)
		}
		var accepted bool
		for _, ev := range evs {
			if ev.EventType == didrouter.EventReservationAccepted && ev.ReservationSID == b.Reservation.SID && ev.WorkerSID == b.Reservation.WorkerSID {
				accepted = true
			}
		}
		if !accepted {
			t.Fatalf("no reservation.accepted event for %s among %d events", b.Reservation.SID, len(evs))
		}
	})
}

// Another instance gave the worker who answered a call, so they are busy
// in the store by the time the answer is replayed. They are not booked
// twice, the conflict is counted, and the kept task, never answered, is
// canceled.
func TestModeDuplicateCallAnsweredWorkerBusy(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		var online engine.TaskResult
		mode, a, b := answeredDuplicate(t, st, func(ctx context.Context, ws didrouter.Workspace, w didrouter.Worker) {
			peer, err := engine.New(engine.Config{Store: st, Clock: didrouter.SystemClock{}, InstanceID: "peer"})
			if err != nil {
				t.Fatal(err)
			}
			var attrs struct {
				Phone string `json:"phone_number"`
			}
			_ = json.Unmarshal([]byte(w.Attributes), &attrs)
			online, err = peer.CreateTask(ctx, engine.TaskInsert{WorkspaceSID: ws.SID, Attributes: fmt.Sprintf(`{"phone_number":%q}`, attrs.Phone), CallSID: "CAonline"})
			if err != nil || online.Reservation == nil || online.Reservation.WorkerSID != w.SID {
				t.Fatalf("online call: %+v %v, want %s", online.Reservation, err, w.FriendlyName)
			}
		})
		ctx := context.Background()
		ws := a.Task.WorkspaceSID
		task, err := st.TaskByCallSID(ctx, ws, "CAdup")
		if err != nil || task.SID != a.Task.SID || task.AssignmentStatus != didrouter.TaskCanceled {
			t.Fatalf("the call's task: %s %s %v, want %s canceled", task.SID, task.AssignmentStatus, err, a.Task.SID)
		}
		if r, err := st.GetReservation(ctx, ws, b.Reservation.SID); err != nil || r.Status != didrouter.ReservationCanceled {
			t.Fatalf("answered reservation: %+v %v, want canceled", r, err)
		}
		if w, err := st.GetWorker(ctx, ws, b.Reservation.WorkerSID); err != nil || w.Busy != 1 {
			t.Fatalf("answering worker busy %d %v, want 1 (the online call only)", w.Busy, err)
		}
		if w, err := st.GetWorker(ctx, ws, a.Reservation.WorkerSID); err != nil || w.Busy != 0 {
			t.Fatalf("worker rung in vain busy %d %v, want 0", w.Busy, err)
		}
		// The duplicate routing, and the answer that could not be kept.
		if got := mode.Stats().Conflicts; got < 2 {
			t.Fatalf("conflicts %d, want 2", got)
		}
	})
}
