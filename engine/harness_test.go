package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/store/storetest"
)

// Numbers used across the tests.
const (
	ownerDID  = "+15127640580"
	callerNum = "+16175551212"
)

var t0 = time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC)

// storeKinds are the real stores every scenario runs against.
var storeKinds = []struct {
	name string
	open func(testing.TB) didrouter.Store
}{
	{"postgres", func(t testing.TB) didrouter.Store { return storetest.Postgres(t) }},
	{"sqlite", func(t testing.TB) didrouter.Store { return storetest.SQLite(t) }},
}

// eachStore runs fn as a parallel subtest per store kind.
func eachStore(t *testing.T, fn func(t *testing.T, h *harness)) {
	t.Helper()
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, k.open(t))
			// Whatever the scenario, it must leave Busy equal to the live
			// reservations (see checkInvariants).
			t.Cleanup(func() {
				if !t.Failed() && !t.Skipped() {
					h.checkInvariantsAt(context.Background())
				}
			})
			fn(t, h)
		})
	}
}

// harness is a seeded store with one engine on a fake clock.
type harness struct {
	t       testing.TB
	ctx     context.Context
	store   didrouter.Store
	clock   *didrouter.FakeClock
	eng     *engine.Engine
	ws      didrouter.Workspace
	acts    map[string]string // activity name -> sid
	queue   string            // the Everyone queue
	callSeq int
}

func newHarness(t testing.TB, s didrouter.Store) *harness {
	t.Helper()
	ctx := t.Context()
	clock := didrouter.NewFakeClock(t0)
	ws, err := engine.Seed(ctx, s, clock)
	if err != nil {
		t.Fatalf("Seed: %v", err)
	}
	eng, err := engine.New(engine.Config{Store: s, Clock: clock, InstanceID: "test"})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h := &harness{t: t, ctx: ctx, store: s, clock: clock, eng: eng, ws: ws, acts: map[string]string{}}
	acts, err := s.ListActivities(ctx, ws.SID)
	if err != nil {
		t.Fatalf("ListActivities: %v", err)
	}
	for _, a := range acts {
		h.acts[a.FriendlyName] = a.SID
	}
	qs, err := s.ListTaskQueues(ctx, ws.SID)
	if err != nil || len(qs) != 1 {
		t.Fatalf("ListTaskQueues: %v %v", qs, err)
	}
	h.queue = qs[0].SID
	return h
}

// worker creates a worker with a DID ("" = none) in the named activity.
// The clock ticks first, so workers created earlier have been idle longer.
func (h *harness) worker(name, did, activity string) didrouter.Worker {
	h.t.Helper()
	h.clock.Advance(time.Second)
	attrs := map[string]any{"contact_uri": "client:" + name}
	if did != "" {
		attrs["phone_number"] = did
	}
	b, _ := json.Marshal(attrs)
	w, err := h.eng.CreateWorker(h.ctx, h.ws.SID, engine.WorkerInsert{FriendlyName: name, Attributes: string(b),
		ActivitySID: h.acts[activity]})
	if err != nil {
		h.t.Fatalf("CreateWorker %s: %v", name, err)
	}
	return w
}

func (h *harness) setActivity(w didrouter.Worker, activity string) didrouter.Worker {
	h.t.Helper()
	sid := h.acts[activity]
	got, err := h.eng.UpdateWorker(h.ctx, h.ws.SID, w.SID, engine.WorkerUpdate{ActivitySID: &sid})
	if err != nil {
		h.t.Fatalf("UpdateWorker %s -> %s: %v", w.FriendlyName, activity, err)
	}
	return got
}

// call creates the task an inbound call to `to` makes (as the Flex flow does).
func (h *harness) call(to string, priority int) engine.TaskResult {
	h.t.Helper()
	h.callSeq++
	return h.callWith(fmt.Sprintf("CA%032d", h.callSeq), to, priority)
}

func (h *harness) callWith(callSID, to string, priority int) engine.TaskResult {
	h.t.Helper()
	attrs, _ := json.Marshal(map[string]any{"name": callerNum, "phone_number": to, "type": "inbound", "direction": "inbound"})
	res, err := h.eng.CreateTask(h.ctx, engine.TaskInsert{WorkspaceSID: h.ws.SID, Attributes: string(attrs),
		Priority: priority, CallSID: callSID})
	if err != nil {
		h.t.Fatalf("CreateTask to %s: %v", to, err)
	}
	return res
}

func (h *harness) task(sid string) didrouter.Task {
	h.t.Helper()
	t, err := h.store.GetTask(h.ctx, h.ws.SID, sid)
	if err != nil {
		h.t.Fatalf("GetTask %s: %v", sid, err)
	}
	return t
}

func (h *harness) getWorker(sid string) didrouter.Worker {
	h.t.Helper()
	w, err := h.store.GetWorker(h.ctx, h.ws.SID, sid)
	if err != nil {
		h.t.Fatalf("GetWorker %s: %v", sid, err)
	}
	return w
}

func (h *harness) reservation(sid string) didrouter.Reservation {
	h.t.Helper()
	r, err := h.store.GetReservation(h.ctx, h.ws.SID, sid)
	if err != nil {
		h.t.Fatalf("GetReservation %s: %v", sid, err)
	}
	return r
}

// live returns the task's live reservation (nil when none).
func (h *harness) live(taskSID string) *didrouter.Reservation {
	h.t.Helper()
	r, _, err := h.eng.LiveReservation(h.ctx, h.ws.SID, taskSID)
	if err != nil {
		h.t.Fatalf("LiveReservation: %v", err)
	}
	return r
}

// advance moves the clock and fires the timers then due.
func (h *harness) advance(d time.Duration) int {
	h.t.Helper()
	h.clock.Advance(d)
	n, err := h.eng.RunDueTimers(h.ctx)
	if err != nil {
		h.t.Fatalf("RunDueTimers: %v", err)
	}
	return n
}

// eventTypes lists the types of the task's events, oldest first.
func (h *harness) eventTypes(taskSID string) []string {
	h.t.Helper()
	evs, err := h.store.ListEvents(h.ctx, h.ws.SID, didrouter.EventFilter{Page: didrouter.Page{Size: 1000}, TaskSID: taskSID})
	if err != nil {
		h.t.Fatalf("ListEvents: %v", err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.EventType)
	}
	return out
}

// wantReserved checks that res reserved the task for w.
func (h *harness) wantReserved(res engine.TaskResult, w didrouter.Worker) {
	h.t.Helper()
	if res.Reservation == nil {
		h.t.Fatalf("task %s (%s, queue %s, target %d): no reservation, want one for %s",
			res.Task.SID, res.Task.AssignmentStatus, res.Task.TaskQueueSID, res.Task.TargetIndex, w.FriendlyName)
	}
	if res.Reservation.WorkerSID != w.SID {
		h.t.Fatalf("reserved for %s, want %s (%s)", h.getWorker(res.Reservation.WorkerSID).FriendlyName, w.FriendlyName, w.SID)
	}
	if res.Reservation.Status != didrouter.ReservationPending {
		h.t.Fatalf("reservation status %s, want pending", res.Reservation.Status)
	}
	if got := h.task(res.Task.SID).AssignmentStatus; got != didrouter.TaskReserved {
		h.t.Fatalf("task status %s, want reserved", got)
	}
	if got := h.getWorker(w.SID).Busy; got != 1 {
		h.t.Fatalf("worker %s busy %d, want 1", w.FriendlyName, got)
	}
}

func wantContains(t *testing.T, got []string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Fatalf("events %v lack %s", got, w)
		}
	}
}
