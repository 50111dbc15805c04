package engine_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

// degradedCall routes a call to `to` without the store.
func (h *harness) degradedCall(to string, mayReserve func(string) bool) engine.DegradedCall {
	h.t.Helper()
	h.callSeq++
	return h.degradedCallSID(fmt.Sprintf("CAdeg%029d", h.callSeq), to, mayReserve)
}

// degradedCallSID routes call callSID without the store (a webhook
// delivered twice routes the same call twice).
func (h *harness) degradedCallSID(callSID, to string, mayReserve func(string) bool) engine.DegradedCall {
	h.t.Helper()
	attrs, _ := json.Marshal(map[string]any{"name": callerNum, "phone_number": to, "type": "inbound", "direction": "inbound"})
	wf, err := h.store.GetWorkflow(h.ctx, h.ws.SID, h.ws.DefaultWorkflowSID)
	if err != nil {
		h.t.Fatal(err)
	}
	dc, err := h.eng.Degraded().Route(h.ctx, h.ws, wf, engine.TaskInsert{WorkspaceSID: h.ws.SID, WorkflowSID: h.ws.DefaultWorkflowSID,
		Attributes: string(attrs), CallSID: callSID}, mayReserve)
	if err != nil {
		h.t.Fatalf("Degraded.Route to %s: %v", to, err)
	}
	return dc
}

func (h *harness) warm() {
	h.t.Helper()
	if _, err := h.eng.Degraded().Warm(h.ctx, h.ws.SID, h.ws.DefaultWorkflowSID); err != nil {
		h.t.Fatalf("Degraded.Warm: %v", err)
	}
}

func (h *harness) importDegraded(dc engine.DegradedCall) engine.DegradedImport {
	h.t.Helper()
	// Through JSON, as the journal keeps it.
	b, err := json.Marshal(dc)
	if err != nil {
		h.t.Fatal(err)
	}
	var back engine.DegradedCall
	if err := json.Unmarshal(b, &back); err != nil {
		h.t.Fatal(err)
	}
	got, err := h.eng.Degraded().Import(h.ctx, back)
	if err != nil {
		h.t.Fatalf("Degraded.Import: %v", err)
	}
	return got
}

// Without the store, calls follow the DID workflow from memory: the owner
// first, Everyone when the owner is taken (the index counts the degraded
// reservation), the queue when nobody is left; nothing is written until
// the import, which stores them with their sids, events and claims, once.
func TestDegradedRoutesFromMemoryAndImportsOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		other := h.worker("other", "", "Available")
		owner := h.worker("owner", ownerDID, "Available")
		h.warm()

		first := h.degradedCall(ownerDID, nil)
		if first.Reservation == nil || first.Reservation.WorkerSID != owner.SID || first.Task.TargetIndex != 0 {
			t.Fatalf("first call: %+v, want the owner at target 0", first.Reservation)
		}
		if first.Worker == nil || first.Worker.Attributes == "" || first.Task.AssignmentStatus != didrouter.TaskReserved {
			t.Fatalf("first call: worker %+v, task %s", first.Worker, first.Task.AssignmentStatus)
		}
		second := h.degradedCall(ownerDID, nil)
		if second.Reservation == nil || second.Reservation.WorkerSID != other.SID || second.Task.TargetIndex != 1 {
			t.Fatalf("second call: %+v at target %d, want the other worker in Everyone", second.Reservation, second.Task.TargetIndex)
		}
		third := h.degradedCall("+15125550000", nil)
		if third.Reservation != nil || third.Task.AssignmentStatus != didrouter.TaskPending {
			t.Fatalf("third call reserved %+v, want it waiting", third.Reservation)
		}
		// Nothing reached the store.
		if _, err := h.store.TaskByCallSID(h.ctx, h.ws.SID, first.Task.CallSID); didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
			t.Fatalf("task in the store before the import: %v", err)
		}
		if h.getWorker(owner.SID).Busy != 0 {
			t.Fatal("the owner was claimed in the store before the import")
		}

		for _, dc := range []engine.DegradedCall{first, second, third} {
			got := h.importDegraded(dc)
			if !got.Imported || got.TaskSID != dc.Task.SID || got.Conflict != "" {
				t.Fatalf("import: %+v", got)
			}
		}
		if got := h.task(first.Task.SID); got.AssignmentStatus != didrouter.TaskReserved || got.CallSID != first.Task.CallSID {
			t.Fatalf("imported task: %+v", got)
		}
		if r := h.reservation(first.Reservation.SID); r.Status != didrouter.ReservationPending || r.WorkerSID != owner.SID {
			t.Fatalf("imported reservation: %+v", r)
		}
		for _, w := range []didrouter.Worker{owner, other} {
			if got := h.getWorker(w.SID).Busy; got != 1 {
				t.Fatalf("%s busy %d after the import, want 1", w.FriendlyName, got)
			}
		}
		wantContains(t, h.eventTypes(second.Task.SID), didrouter.EventTaskCreated, didrouter.EventWorkflowSkipped,
			didrouter.EventTaskQueueMoved, didrouter.EventReservationCreated)
		events := len(h.eventTypes(first.Task.SID))

		// Again (a replay after a crash before the journal noted it): nothing changes.
		for _, dc := range []engine.DegradedCall{first, second, third} {
			if got := h.importDegraded(dc); got.Imported || got.TaskSID != dc.Task.SID {
				t.Fatalf("second import: %+v", got)
			}
		}
		if got := len(h.eventTypes(first.Task.SID)); got != events {
			t.Fatalf("events after a second import: %d, want %d", got, events)
		}
		if err := h.eng.Degraded().RouteImported(h.ctx, h.ws.SID, third.Task.SID); err != nil {
			t.Fatalf("RouteImported: %v", err)
		}
		// The imported calls go on like any other: the owner answers.
		if _, err := h.eng.AcceptReservation(h.ctx, h.ws.SID, first.Reservation.SID); err != nil {
			t.Fatalf("accept an imported reservation: %v", err)
		}
		if _, err := h.eng.CompleteTask(h.ctx, h.ws.SID, first.Task.SID, "done"); err != nil {
			t.Fatalf("complete an imported task: %v", err)
		}
		// The owner is free again, and takes the waiting third call.
		if r := h.live(third.Task.SID); r == nil || r.WorkerSID != owner.SID {
			t.Fatalf("waiting imported call: %+v, want the freed owner", r)
		}
	})
}

// mayReserve bounds who a degraded call may be offered to.
func TestDegradedRespectsMayReserve(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		other := h.worker("other", "", "Available")
		owner := h.worker("owner", ownerDID, "Available")
		h.warm()
		dc := h.degradedCall(ownerDID, func(sid string) bool { return sid != owner.SID })
		if dc.Reservation == nil || dc.Reservation.WorkerSID != other.SID {
			t.Fatalf("reserved %+v, want the other worker (the owner is not ours to offer)", dc.Reservation)
		}
		none := h.degradedCall(ownerDID, func(string) bool { return false })
		if none.Reservation != nil {
			t.Fatalf("reserved %+v with nobody allowed", none.Reservation)
		}
		h.eng.Degraded().Release(h.ws.SID, other.SID)
		again := h.degradedCall("+15125550000", func(sid string) bool { return sid == other.SID })
		if again.Reservation == nil || again.Reservation.WorkerSID != other.SID {
			t.Fatalf("after Degraded.Release: %+v, want the other worker again", again.Reservation)
		}
	})
}

// A worker another instance gave a call to while the store was down (here:
// a second engine, online) is not booked twice on import: the degraded
// reservation is kept canceled and the task routed again.
func TestDegradedImportConflict(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		owner := h.worker("owner", ownerDID, "Available")
		h.warm()
		dc := h.degradedCall(ownerDID, nil)
		if dc.Reservation == nil || dc.Reservation.WorkerSID != owner.SID {
			t.Fatalf("degraded call: %+v, want the owner", dc.Reservation)
		}
		peer, err := engine.New(engine.Config{Store: h.store, Clock: h.clock, InstanceID: "peer"})
		if err != nil {
			t.Fatal(err)
		}
		attrs, _ := json.Marshal(map[string]any{"phone_number": ownerDID})
		online, err := peer.CreateTask(h.ctx, engine.TaskInsert{WorkspaceSID: h.ws.SID, Attributes: string(attrs), CallSID: "CAonline"})
		if err != nil || online.Reservation == nil || online.Reservation.WorkerSID != owner.SID {
			t.Fatalf("online call: %+v %v, want the owner", online.Reservation, err)
		}
		got := h.importDegraded(dc)
		if !got.Imported || got.Conflict == "" {
			t.Fatalf("import: %+v, want a conflict", got)
		}
		if r := h.reservation(dc.Reservation.SID); r.Status != didrouter.ReservationCanceled {
			t.Fatalf("degraded reservation after the conflict: %s, want canceled", r.Status)
		}
		if task := h.task(dc.Task.SID); task.AssignmentStatus != didrouter.TaskPending || !got.Waiting {
			t.Fatalf("task after the conflict: %s (waiting %v), want pending", task.AssignmentStatus, got.Waiting)
		}
		if w := h.getWorker(owner.SID); w.Busy != 1 {
			t.Fatalf("owner busy %d, want 1 (the online call only)", w.Busy)
		}
	})
}

// With WaitIfBusy (degraded mode right after an outage, before the settle
// time), a worker busy in the store makes the import write nothing: the
// end of their previous call may be in another instance's journal. Once
// that call ends, the import keeps the reservation.
func TestDegradedImportWaitsForABusyWorker(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		owner := h.worker("owner", ownerDID, "Available")
		h.warm()
		dc := h.degradedCall(ownerDID, nil)
		if dc.Reservation == nil || dc.Reservation.WorkerSID != owner.SID {
			t.Fatalf("degraded call: %+v, want the owner", dc.Reservation)
		}
		peer, err := engine.New(engine.Config{Store: h.store, Clock: h.clock, InstanceID: "peer"})
		if err != nil {
			t.Fatal(err)
		}
		attrs, _ := json.Marshal(map[string]any{"phone_number": ownerDID})
		online, err := peer.CreateTask(h.ctx, engine.TaskInsert{WorkspaceSID: h.ws.SID, Attributes: string(attrs), CallSID: "CAonline"})
		if err != nil || online.Reservation == nil || online.Reservation.WorkerSID != owner.SID {
			t.Fatalf("online call: %+v %v, want the owner", online.Reservation, err)
		}
		dc.WaitIfBusy = true
		if _, err := h.eng.Degraded().Import(h.ctx, dc); !errors.Is(err, engine.ErrDegradedWorkerBusy) {
			t.Fatalf("import with the worker busy: %v, want ErrDegradedWorkerBusy", err)
		}
		if _, err := h.store.GetTask(h.ctx, h.ws.SID, dc.Task.SID); didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
			t.Fatalf("the task is in the store after the import waited: %v", err)
		}
		if _, err := peer.CancelTask(h.ctx, h.ws.SID, online.Task.SID, "caller hung up"); err != nil {
			t.Fatal(err)
		}
		got, err := h.eng.Degraded().Import(h.ctx, dc)
		if err != nil || !got.Imported || got.Conflict != "" {
			t.Fatalf("import once the worker is free: %+v %v, want imported without conflict", got, err)
		}
		if r := h.reservation(dc.Reservation.SID); r.Status != didrouter.ReservationPending {
			t.Fatalf("degraded reservation: %s, want pending", r.Status)
		}
		if w := h.getWorker(owner.SID); w.Busy != 1 {
			t.Fatalf("owner busy %d, want 1 (the degraded call)", w.Busy)
		}
	})
}

// Timers that fell due while the store was down do not fire the moment
// the call is imported: other instances get DegradedImportGrace to replay
// their part of the call.
func TestDegradedImportGivesTimersGrace(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h.worker("other", "", "Available")
		h.warm()
		dc := h.degradedCall("+15125550000", nil)
		if dc.Reservation == nil {
			t.Fatal("no reservation")
		}
		h.clock.Advance(time.Duration(dc.Reservation.Timeout+60) * time.Second) // a long outage
		h.importDegraded(dc)
		h.advance(engine.DegradedImportGrace - time.Second)
		if r := h.reservation(dc.Reservation.SID); r.Status != didrouter.ReservationPending {
			t.Fatalf("reservation %s within the grace, want pending", r.Status)
		}
		h.advance(2 * time.Second)
		if r := h.reservation(dc.Reservation.SID); r.Status != didrouter.ReservationTimeout {
			t.Fatalf("reservation %s after the grace, want timeout", r.Status)
		}
	})
}

// A change-feed resync empties the workflow cache; an outage may follow at
// once. The workflow row the caller kept is enough to route.
func TestDegradedRoutesWithAnEmptyWorkflowCache(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		owner := h.worker("owner", ownerDID, "Available")
		h.warm()
		if err := h.eng.Sync(h.ctx); err != nil { // forgets every parsed workflow
			t.Fatal(err)
		}
		dc := h.degradedCall(ownerDID, nil)
		if dc.Reservation == nil || dc.Reservation.WorkerSID != owner.SID {
			t.Fatalf("after a resync: %+v, want the owner", dc.Reservation)
		}
	})
}

// While routing is paused tasks wait where they are; resuming routes them.
func TestPauseRouting(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		owner := h.worker("owner", ownerDID, "Available")
		h.eng.Degraded().PauseRouting()
		res := h.call(ownerDID, 0)
		if res.Reservation != nil || res.Task.AssignmentStatus != didrouter.TaskPending || res.Task.TargetIndex != 0 {
			t.Fatalf("call while paused: %+v at target %d, want it waiting at the owner step", res.Reservation, res.Task.TargetIndex)
		}
		if err := h.eng.Degraded().ResumeRouting(h.ctx); err != nil {
			t.Fatal(err)
		}
		if r := h.live(res.Task.SID); r == nil || r.WorkerSID != owner.SID {
			t.Fatalf("after resuming: %+v, want the owner", r)
		}
	})
}

// Degraded.IsDID answers from the index whether a number is a worker's DID:
// through the every-worker queue before any workflow is cached, through
// the workflow's Everyone queue after.
func TestDegradedIsDID(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h.worker("owner", ownerDID, "Available")
		h.worker("other", "", "Offline")
		check := func(when string) {
			t.Helper()
			if !h.eng.Degraded().IsDID(h.ws.SID, ownerDID) {
				t.Fatalf("%s: the owner's DID is not known as a DID", when)
			}
			if h.eng.Degraded().IsDID(h.ws.SID, "+15125550000") {
				t.Fatalf("%s: a number nobody owns is taken for a DID", when)
			}
		}
		check("no workflow cached")
		h.warm()
		check("workflow cached")
		if !h.eng.Degraded().IsDID("WSnotloaded", "+15125550000") {
			t.Fatal("a workspace whose index is not loaded must say yes")
		}
	})
}

// duplicateDegradedCall routes one call twice without the store (its
// webhook delivered to two instances): the first routing reserves the
// owner, the second the other worker. The first is imported; the second
// loses to it.
func (h *harness) duplicateDegradedCall() (kept, lost engine.DegradedCall, owner, other didrouter.Worker) {
	h.t.Helper()
	other = h.worker("other", "", "Available")
	owner = h.worker("owner", ownerDID, "Available")
	h.warm()
	kept = h.degradedCallSID("CAdup", ownerDID, nil)
	lost = h.degradedCallSID("CAdup", ownerDID, nil)
	if kept.Reservation == nil || kept.Reservation.WorkerSID != owner.SID ||
		lost.Reservation == nil || lost.Reservation.WorkerSID != other.SID {
		h.t.Fatalf("routings: %+v and %+v, want the owner then the other worker", kept.Reservation, lost.Reservation)
	}
	if got := h.importDegraded(kept); !got.Imported {
		h.t.Fatalf("first import: %+v", got)
	}
	got := h.importDegraded(lost)
	if got.Imported || got.TaskSID != kept.Task.SID {
		h.t.Fatalf("second import: %+v, want the call's first task kept", got)
	}
	// The lost reservation is kept on the call's task, ended: its worker
	// is not claimed.
	if r := h.reservation(lost.Reservation.SID); r.Status != didrouter.ReservationCanceled || r.TaskSID != kept.Task.SID || r.WorkerSID != other.SID {
		h.t.Fatalf("lost reservation: %+v, want canceled on the kept task", r)
	}
	if w := h.getWorker(other.SID); w.Busy != 0 {
		h.t.Fatalf("other worker busy %d after the lost import, want 0", w.Busy)
	}
	// Again (a replay after a crash): nothing changes.
	events := len(h.eventTypes(kept.Task.SID))
	if got := h.importDegraded(lost); got.Imported || got.TaskSID != kept.Task.SID {
		h.t.Fatalf("second import again: %+v", got)
	}
	if got := len(h.eventTypes(kept.Task.SID)); got != events {
		h.t.Fatalf("events after importing the lost task again: %d, want %d", got, events)
	}
	return kept, lost, owner, other
}

// A call's webhook reached two instances while the store was down, so the
// call was routed twice. It was answered on the routing that lost at the
// import, and the answered reservation wins. The kept task takes it. The
// reservation rung in vain is rescinded and its worker freed. The end of
// the call completes the task and frees the worker who answered.
func TestDegradedAnsweredReservationWins(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		kept, lost, owner, other := h.duplicateDegradedCall()
		if _, err := h.eng.AcceptReservation(h.ctx, h.ws.SID, lost.Reservation.SID); didrouter.ErrorCode(err) != didrouter.EUNAVAILABLE {
			t.Fatalf("accept the lost reservation: %v, want EUNAVAILABLE", err)
		}
		got, err := h.eng.Degraded().AdoptAnsweredReservation(h.ctx, h.ws.SID, lost.Reservation.SID)
		if err != nil || !got.Adopted || got.TaskSID != kept.Task.SID || got.Conflict != "" {
			t.Fatalf("adopt: %+v %v, want adopted by the kept task", got, err)
		}
		if task := h.task(kept.Task.SID); task.AssignmentStatus != didrouter.TaskAssigned {
			t.Fatalf("task %s, want assigned", task.AssignmentStatus)
		}
		if r := h.reservation(lost.Reservation.SID); r.Status != didrouter.ReservationAccepted {
			t.Fatalf("answered reservation %s, want accepted", r.Status)
		}
		if r := h.reservation(kept.Reservation.SID); r.Status != didrouter.ReservationRescinded {
			t.Fatalf("reservation rung in vain %s, want rescinded", r.Status)
		}
		if w := h.getWorker(owner.SID); w.Busy != 0 {
			t.Fatalf("owner busy %d, want 0 (never rung)", w.Busy)
		}
		if w := h.getWorker(other.SID); w.Busy != 1 {
			t.Fatalf("other worker busy %d, want 1 (on the call)", w.Busy)
		}
		if r := h.live(kept.Task.SID); r == nil || r.SID != lost.Reservation.SID || r.WorkerSID != other.SID {
			t.Fatalf("live reservation %+v, want the answered one", r)
		}
		// The answer replayed again: nothing changes.
		if again, err := h.eng.Degraded().AdoptAnsweredReservation(h.ctx, h.ws.SID, lost.Reservation.SID); err != nil || again.Adopted {
			t.Fatalf("adopt again: %+v %v, want nothing done", again, err)
		}
		// No timer of the kept task fires on the answered call.
		h.advance(time.Duration(kept.Reservation.Timeout+int(engine.DegradedImportGrace/time.Second)+60) * time.Second)
		if task := h.task(kept.Task.SID); task.AssignmentStatus != didrouter.TaskAssigned {
			t.Fatalf("task %s after its timers' time, want assigned", task.AssignmentStatus)
		}
		task, err := h.eng.EndCall(h.ctx, h.ws.SID, kept.Task.SID, "call completed")
		if err != nil {
			t.Fatalf("end call: %v", err)
		}
		if task.AssignmentStatus != didrouter.TaskCompleted && task.AssignmentStatus != didrouter.TaskWrapping {
			t.Fatalf("task %s after the end of the call, want completed", task.AssignmentStatus)
		}
		if task.AssignmentStatus == didrouter.TaskWrapping {
			if task, err = h.eng.CompleteTask(h.ctx, h.ws.SID, kept.Task.SID, "done"); err != nil || task.AssignmentStatus != didrouter.TaskCompleted {
				t.Fatalf("complete: %s %v", task.AssignmentStatus, err)
			}
		}
		if r := h.reservation(lost.Reservation.SID); r.Status != didrouter.ReservationCompleted {
			t.Fatalf("answered reservation %s after the call, want completed", r.Status)
		}
		for _, w := range []didrouter.Worker{owner, other} {
			if got := h.getWorker(w.SID).Busy; got != 0 {
				t.Fatalf("%s busy %d after the call, want 0", w.FriendlyName, got)
			}
		}
		wantContains(t, h.eventTypes(kept.Task.SID), didrouter.EventReservationRescinded,
			didrouter.EventReservationAccepted, didrouter.EventTaskCompleted)
		// Each reservation's history is whole: created once, ended once.
		for _, sid := range []string{kept.Reservation.SID, lost.Reservation.SID} {
			evs, err := h.store.ListEvents(h.ctx, h.ws.SID, didrouter.EventFilter{ReservationSID: sid})
			if err != nil {
				t.Fatal(err)
			}
			created, ended := 0, 0
			for _, ev := range evs {
				switch ev.EventType {
				case didrouter.EventReservationCreated:
					created++
				case didrouter.EventReservationCanceled, didrouter.EventReservationRescinded, didrouter.EventReservationRejected,
					didrouter.EventReservationTimeout, didrouter.EventReservationCompleted:
					ended++
				}
			}
			if created != 1 || ended != 1 {
				t.Errorf("reservation %s: %d created and %d ending events, want 1 and 1", sid, created, ended)
			}
		}
	})
}

// The worker who answered the lost routing is busy in the store when the
// answer is replayed (another instance gave them a call meanwhile): they
// are not booked twice; nothing changes and the conflict is reported.
func TestDegradedAnsweredReservationWorkerBusy(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		kept, lost, owner, other := h.duplicateDegradedCall()
		peer, err := engine.New(engine.Config{Store: h.store, Clock: h.clock, InstanceID: "peer"})
		if err != nil {
			t.Fatal(err)
		}
		attrs, _ := json.Marshal(map[string]any{"phone_number": "+15125550000"})
		online, err := peer.CreateTask(h.ctx, engine.TaskInsert{WorkspaceSID: h.ws.SID, Attributes: string(attrs), CallSID: "CAonline"})
		if err != nil || online.Reservation == nil || online.Reservation.WorkerSID != other.SID {
			t.Fatalf("online call: %+v %v, want the other worker", online.Reservation, err)
		}
		got, err := h.eng.Degraded().AdoptAnsweredReservation(h.ctx, h.ws.SID, lost.Reservation.SID)
		if err != nil || got.Adopted || got.Conflict == "" {
			t.Fatalf("adopt: %+v %v, want a conflict", got, err)
		}
		if task := h.task(kept.Task.SID); task.AssignmentStatus != didrouter.TaskReserved {
			t.Fatalf("task %s, want still reserved", task.AssignmentStatus)
		}
		if r := h.reservation(kept.Reservation.SID); r.Status != didrouter.ReservationPending {
			t.Fatalf("kept reservation %s, want still pending (the rescinding rolled back)", r.Status)
		}
		if r := h.reservation(lost.Reservation.SID); r.Status != didrouter.ReservationCanceled {
			t.Fatalf("answered reservation %s, want still canceled", r.Status)
		}
		if w := h.getWorker(other.SID); w.Busy != 1 {
			t.Fatalf("other worker busy %d, want 1 (the online call only)", w.Busy)
		}
		if w := h.getWorker(owner.SID); w.Busy != 1 {
			t.Fatalf("owner busy %d, want 1 (the kept reservation)", w.Busy)
		}
	})
}

// Degraded mode counts capacity per channel too: an owner holding a
// message (offered before the store went down) is still rung for a call
// from memory, and the import claims their voice capacity, not the
// message's.
func TestDegradedCallReachesAnOwnerWithAMessage(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		owner := h.worker("owner", ownerDID, "Available")
		msg, err := h.eng.CreateTask(h.ctx, engine.TaskInsert{WorkspaceSID: h.ws.SID, WorkflowSID: h.ws.DefaultWorkflowSID,
			Attributes:  `{"type":"voicemail","name":"+12125550100","phone_number":"` + ownerDID + `"}`,
			TaskChannel: didrouter.MessageChannel})
		if err != nil || msg.Reservation == nil || msg.Reservation.WorkerSID != owner.SID {
			t.Fatalf("message: %+v %v, want offered to the owner", msg.Reservation, err)
		}
		h.warm()
		dc := h.degradedCall(ownerDID, nil)
		if dc.Reservation == nil || dc.Reservation.WorkerSID != owner.SID {
			t.Fatalf("degraded call: %+v, want the owner (who holds only a message)", dc.Reservation)
		}
		if dc.Worker == nil || dc.Worker.Busy != 1 || dc.Worker.MessageBusy != 1 {
			t.Fatalf("degraded worker %+v, want busy 1 and one message", dc.Worker)
		}
		// The owner is now full for calls in memory: the next call waits.
		if next := h.degradedCall(ownerDID, nil); next.Reservation != nil {
			t.Fatalf("second degraded call reserved %+v, want it waiting", next.Reservation)
		}
		if got := h.importDegraded(dc); !got.Imported || got.Conflict != "" {
			t.Fatalf("import: %+v", got)
		}
		if w := h.getWorker(owner.SID); w.Busy != 1 || w.MessageBusy != 1 {
			t.Fatalf("owner after the import: busy %d, messages %d; want 1 and 1", w.Busy, w.MessageBusy)
		}
	})
}
