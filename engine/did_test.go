package engine_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

// The seeded "Direct Inward Dial" workflow: target 0 is the number's owner
// (60 s, skip_if 1==1), target 1 is anyone in Everyone.

func TestOwnerAvailableGetsTheCall(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		other := h.worker("other", "+15127640581", "Available") // idle longer than the owner
		owner := h.worker("owner", ownerDID, "Available")
		res := h.call(ownerDID, 0)
		if !res.Created {
			t.Fatal("Created = false for a new call")
		}
		h.wantReserved(res, owner)
		if res.Task.TargetIndex != 0 || res.Task.TaskQueueSID != h.queue {
			t.Fatalf("task at target %d queue %s, want target 0 of Everyone", res.Task.TargetIndex, res.Task.TaskQueueSID)
		}
		if res.Worker == nil || res.Worker.SID != owner.SID {
			t.Fatalf("result worker %+v, want the owner", res.Worker)
		}
		if h.getWorker(other.SID).Busy != 0 {
			t.Fatal("the other worker was claimed too")
		}
	})
}

func TestOwnerDeclinesGoesToNextWorkerAtOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		other := h.worker("other", "", "Available")
		owner := h.worker("owner", ownerDID, "Available")
		res := h.call(ownerDID, 0)
		h.wantReserved(res, owner)

		next, err := h.eng.RejectReservation(h.ctx, h.ws.SID, res.Reservation.SID, didrouter.ReservationRejected)
		if err != nil {
			t.Fatalf("RejectReservation: %v", err)
		}
		h.wantReserved(next, other)
		if next.Task.TargetIndex != 1 {
			t.Fatalf("task at target %d, want 1 (Everyone)", next.Task.TargetIndex)
		}
		if !slices.Contains(next.Task.RejectedWorkers, owner.SID) {
			t.Fatalf("rejected workers %v lack the owner", next.Task.RejectedWorkers)
		}
		if got := h.reservation(res.Reservation.SID).Status; got != didrouter.ReservationRejected {
			t.Fatalf("owner's reservation %s, want rejected", got)
		}
		if got := h.getWorker(owner.SID); got.Busy != 0 || !got.Available {
			t.Fatalf("owner busy %d available %v, want free and available", got.Busy, got.Available)
		}
		wantContains(t, h.eventTypes(res.Task.SID), didrouter.EventReservationRejected, didrouter.EventWorkflowSkipped,
			didrouter.EventTaskQueueMoved)
	})
}

func TestOwnerDoesNotAnswerMovesToEveryoneAfter60s(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		owner := h.worker("owner", ownerDID, "Available")
		other := h.worker("other", "", "Offline")
		res := h.call(ownerDID, 0)
		h.wantReserved(res, owner)

		h.advance(59 * time.Second)
		if r := h.live(res.Task.SID); r == nil || r.WorkerSID != owner.SID {
			t.Fatalf("after 59 s the live reservation is %+v, want the owner's", r)
		}
		h.advance(time.Second)
		task := h.task(res.Task.SID)
		if task.TargetIndex != 1 || task.AssignmentStatus != didrouter.TaskPending {
			t.Fatalf("after 60 s task is %s at target %d, want pending at target 1", task.AssignmentStatus, task.TargetIndex)
		}
		if got := h.reservation(res.Reservation.SID).Status; got != didrouter.ReservationRescinded {
			t.Fatalf("owner's reservation %s, want rescinded", got)
		}
		if got := h.getWorker(owner.SID); got.Busy != 0 {
			t.Fatalf("owner busy %d after the step timeout, want 0", got.Busy)
		}
		// The owner is free and in Everyone, but is not rung again.
		if r := h.live(res.Task.SID); r != nil {
			t.Fatalf("task re-offered to %s", r.WorkerSID)
		}
		h.setActivity(other, "Available")
		r := h.live(res.Task.SID)
		if r == nil || r.WorkerSID != other.SID {
			t.Fatalf("live reservation %+v, want one for the other worker", r)
		}
		wantContains(t, h.eventTypes(res.Task.SID), didrouter.EventReservationRescinded, didrouter.EventTaskQueueTimeout,
			didrouter.EventTaskQueueMoved)
		// The rescinded reservation's own timer is gone: 120 s later nothing fires for it.
		h.advance(2 * time.Minute)
		if got := h.reservation(res.Reservation.SID).Status; got != didrouter.ReservationRescinded {
			t.Fatalf("owner's reservation became %s", got)
		}
	})
}

func TestOwnerOfflineGoesToEveryoneAtOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		owner := h.worker("owner", ownerDID, "Offline")
		other := h.worker("other", "", "Available")
		res := h.call(ownerDID, 0)
		h.wantReserved(res, other)
		if res.Task.TargetIndex != 1 {
			t.Fatalf("task at target %d, want 1", res.Task.TargetIndex)
		}
		if h.getWorker(owner.SID).Busy != 0 {
			t.Fatal("offline owner was claimed")
		}
		types := h.eventTypes(res.Task.SID)
		wantContains(t, types, didrouter.EventTaskCreated, didrouter.EventWorkflowTargetMatched, didrouter.EventTaskQueueEntered,
			didrouter.EventWorkflowSkipped, didrouter.EventTaskQueueMoved, didrouter.EventReservationCreated)
	})
}

func TestOwnerBusyGoesToEveryoneAtOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		owner := h.worker("owner", ownerDID, "Available")
		other := h.worker("other", "", "Available")
		first := h.call(ownerDID, 0)
		if _, err := h.eng.AcceptReservation(h.ctx, h.ws.SID, first.Reservation.SID); err != nil {
			t.Fatalf("AcceptReservation: %v", err)
		}
		h.wantReservedFor(first, owner)
		second := h.call(ownerDID, 0)
		h.wantReserved(second, other)
	})
}

// wantReservedFor checks only who holds the task's reservation.
func (h *harness) wantReservedFor(res engine.TaskResult, w didrouter.Worker) {
	h.t.Helper()
	if res.Reservation == nil || res.Reservation.WorkerSID != w.SID {
		h.t.Fatalf("reservation %+v, want one for %s", res.Reservation, w.FriendlyName)
	}
}

func TestNobodyAvailableWaitsThenWorkerBecomesAvailable(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		owner := h.worker("owner", ownerDID, "Offline")
		other := h.worker("other", "", "Unavailable")
		res := h.call(ownerDID, 0)
		if res.Reservation != nil {
			t.Fatalf("reserved for %s with nobody available", res.Reservation.WorkerSID)
		}
		task := h.task(res.Task.SID)
		if task.AssignmentStatus != didrouter.TaskPending || task.TargetIndex != 1 || task.TaskQueueSID != h.queue {
			t.Fatalf("task %s at target %d queue %s, want pending in Everyone", task.AssignmentStatus, task.TargetIndex, task.TaskQueueSID)
		}
		// Waiting in the last target has no step timeout: an hour later it still waits.
		h.advance(time.Hour)
		if got := h.task(res.Task.SID).AssignmentStatus; got != didrouter.TaskPending {
			t.Fatalf("after an hour the task is %s, want pending", got)
		}
		w := h.setActivity(other, "Available")
		if w.Busy != 1 {
			t.Fatalf("worker busy %d after becoming available, want 1 (reserved)", w.Busy)
		}
		r := h.live(res.Task.SID)
		if r == nil || r.WorkerSID != other.SID {
			t.Fatalf("live reservation %+v, want one for %s", r, other.FriendlyName)
		}
		_ = owner
	})
}

func TestOwnerBecomingAvailableServesWaitingCallInEveryone(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		owner := h.worker("owner", ownerDID, "Offline")
		res := h.call(ownerDID, 0)
		if res.Reservation != nil {
			t.Fatal("reserved with nobody available")
		}
		h.setActivity(owner, "Available")
		if r := h.live(res.Task.SID); r == nil || r.WorkerSID != owner.SID {
			t.Fatalf("live reservation %+v, want the owner's", r)
		}
	})
}

func TestCancelWhileRinging(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		owner := h.worker("owner", ownerDID, "Available")
		res := h.call(ownerDID, 0)
		h.wantReserved(res, owner)
		task, err := h.eng.CancelTask(h.ctx, h.ws.SID, res.Task.SID, "caller hung up")
		if err != nil {
			t.Fatalf("CancelTask: %v", err)
		}
		if task.AssignmentStatus != didrouter.TaskCanceled || task.Reason != "caller hung up" {
			t.Fatalf("task %s reason %q, want canceled with the reason", task.AssignmentStatus, task.Reason)
		}
		if got := h.reservation(res.Reservation.SID).Status; got != didrouter.ReservationCanceled {
			t.Fatalf("reservation %s, want canceled", got)
		}
		if got := h.getWorker(owner.SID).Busy; got != 0 {
			t.Fatalf("owner busy %d, want 0", got)
		}
		// Canceling again is harmless; timers of the task are gone.
		if _, err := h.eng.CancelTask(h.ctx, h.ws.SID, res.Task.SID, ""); err != nil {
			t.Fatalf("second CancelTask: %v", err)
		}
		if n := h.advance(48 * time.Hour); n != 0 {
			t.Fatalf("%d timers fired for a canceled task", n)
		}
		// The freed owner takes the next call.
		h.wantReserved(h.call(ownerDID, 0), owner)
	})
}

func TestCancelWhileWaitingServesNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		other := h.worker("other", "", "Offline")
		res := h.call(ownerDID, 0)
		if _, err := h.eng.CancelTask(h.ctx, h.ws.SID, res.Task.SID, "hangup"); err != nil {
			t.Fatalf("CancelTask: %v", err)
		}
		h.setActivity(other, "Available")
		if h.getWorker(other.SID).Busy != 0 {
			t.Fatal("a canceled task was offered")
		}
		if _, err := h.eng.CompleteTask(h.ctx, h.ws.SID, res.Task.SID, ""); didrouter.ErrorCode(err) != didrouter.EUNAVAILABLE {
			t.Fatalf("CompleteTask of a canceled task: %v, want EUNAVAILABLE", err)
		}
	})
}

func TestTwoCallsForOneDIDAtOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		owner := h.worker("owner", ownerDID, "Available")
		other := h.worker("other", "", "Available")
		var (
			wg      sync.WaitGroup
			results [2]engine.TaskResult
			errs    [2]error
		)
		for i := range 2 {
			wg.Go(func() {
				results[i], errs[i] = h.eng.CreateTask(h.ctx, engine.TaskInsert{WorkspaceSID: h.ws.SID,
					Attributes: `{"phone_number":"` + ownerDID + `"}`, CallSID: "CA-both-" + string(rune('a'+i))})
			})
		}
		wg.Wait()
		got := map[string]int{}
		for i := range 2 {
			if errs[i] != nil {
				t.Fatalf("CreateTask %d: %v", i, errs[i])
			}
			if results[i].Reservation == nil {
				t.Fatalf("call %d not reserved", i)
			}
			got[results[i].Reservation.WorkerSID]++
		}
		if got[owner.SID] != 1 || got[other.SID] != 1 {
			t.Fatalf("reservations per worker %v, want one for the owner and one for the other", got)
		}
	})
}

func TestSameCallSIDTwiceMakesOneTask(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		owner := h.worker("owner", ownerDID, "Available")
		first := h.callWith("CA0123", ownerDID, 0)
		second := h.callWith("CA0123", ownerDID, 0)
		if !first.Created || second.Created {
			t.Fatalf("Created %v then %v, want true then false", first.Created, second.Created)
		}
		if first.Task.SID != second.Task.SID {
			t.Fatalf("two tasks %s and %s for one call", first.Task.SID, second.Task.SID)
		}
		if second.Reservation == nil || second.Reservation.SID != first.Reservation.SID || second.Worker.SID != owner.SID {
			t.Fatalf("retry answered with reservation %+v, want the first one", second.Reservation)
		}
		tasks, err := h.store.ListTasks(h.ctx, h.ws.SID, didrouter.TaskFilter{})
		if err != nil || len(tasks) != 1 {
			t.Fatalf("ListTasks: %d tasks, %v; want 1", len(tasks), err)
		}
		// Concurrent retries of a new call also make one task.
		var wg sync.WaitGroup
		sids := make([]string, 4)
		for i := range sids {
			wg.Go(func() {
				res, err := h.eng.CreateTask(h.ctx, engine.TaskInsert{WorkspaceSID: h.ws.SID,
					Attributes: `{"phone_number":"+15127640599"}`, CallSID: "CA-retry"})
				if err != nil {
					t.Errorf("CreateTask: %v", err)
				}
				sids[i] = res.Task.SID
			})
		}
		wg.Wait()
		for _, s := range sids[1:] {
			if s != sids[0] {
				t.Fatalf("concurrent retries made tasks %v", sids)
			}
		}
	})
}

func TestReservationTimeoutMovesWorkerToTimeoutActivity(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		ws := h.ws
		ws.TimeoutActivitySID = h.acts["Offline"]
		if err := h.store.Tx(h.ctx, func(tx didrouter.Tx) error { return tx.UpdateWorkspace(h.ctx, ws) }); err != nil {
			t.Fatalf("UpdateWorkspace: %v", err)
		}
		first := h.worker("first", "", "Available")
		second := h.worker("second", "", "Available")
		res := h.call("+15127640599", 0) // nobody owns it: Everyone at once
		h.wantReserved(res, first)

		h.advance(119 * time.Second)
		if got := h.reservation(res.Reservation.SID).Status; got != didrouter.ReservationPending {
			t.Fatalf("after 119 s reservation %s, want pending", got)
		}
		h.advance(time.Second)
		if got := h.reservation(res.Reservation.SID).Status; got != didrouter.ReservationTimeout {
			t.Fatalf("after 120 s reservation %s, want timeout", got)
		}
		w := h.getWorker(first.SID)
		if w.Available || w.ActivitySID != h.acts["Offline"] || w.Busy != 0 {
			t.Fatalf("timed-out worker: activity %s available %v busy %d, want Offline, free", w.ActivityName, w.Available, w.Busy)
		}
		if r := h.live(res.Task.SID); r == nil || r.WorkerSID != second.SID {
			t.Fatalf("live reservation %+v, want one for the second worker", r)
		}
		wantContains(t, h.eventTypes(res.Task.SID), didrouter.EventReservationTimeout)
	})
}

func TestReservationTimeoutWithoutTimeoutActivityKeepsWorker(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		only := h.worker("only", "", "Available")
		res := h.call("+15127640599", 0)
		h.wantReserved(res, only)
		h.advance(120 * time.Second)
		w := h.getWorker(only.SID)
		if !w.Available || w.Busy != 0 {
			t.Fatalf("worker available %v busy %d, want available and free", w.Available, w.Busy)
		}
		// Not offered the same task again.
		task := h.task(res.Task.SID)
		if task.AssignmentStatus != didrouter.TaskPending || !slices.Contains(task.RejectedWorkers, only.SID) {
			t.Fatalf("task %s rejected %v, want pending with the worker rejected", task.AssignmentStatus, task.RejectedWorkers)
		}
	})
}

func TestWaitingTasksServedByPriorityThenAge(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		w := h.worker("agent", "", "Offline")
		low := h.call("+15127640591", 0)
		h.clock.Advance(time.Second)
		highOld := h.call("+15127640592", 5)
		h.clock.Advance(time.Second)
		highNew := h.call("+15127640593", 5)
		h.setActivity(w, "Available")
		for i, want := range []engine.TaskResult{highOld, highNew, low} {
			r := h.live(want.Task.SID)
			if r == nil || r.WorkerSID != w.SID {
				t.Fatalf("step %d: task %s not reserved for the agent (live %+v)", i, want.Task.SID, r)
			}
			if _, err := h.eng.AcceptReservation(h.ctx, h.ws.SID, r.SID); err != nil {
				t.Fatalf("AcceptReservation: %v", err)
			}
			done, err := h.eng.CompleteTask(h.ctx, h.ws.SID, want.Task.SID, "done")
			if err != nil || done.AssignmentStatus != didrouter.TaskCompleted {
				t.Fatalf("CompleteTask: %s, %v", done.AssignmentStatus, err)
			}
		}
		if got := h.getWorker(w.SID).Busy; got != 0 {
			t.Fatalf("agent busy %d at the end, want 0", got)
		}
	})
}

func TestAcceptCompleteEvents(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		owner := h.worker("owner", ownerDID, "Available")
		res := h.call(ownerDID, 0)
		h.wantReserved(res, owner)
		r, err := h.eng.AcceptReservation(h.ctx, h.ws.SID, res.Reservation.SID)
		if err != nil || r.Status != didrouter.ReservationAccepted {
			t.Fatalf("AcceptReservation: %s, %v", r.Status, err)
		}
		if got := h.task(res.Task.SID).AssignmentStatus; got != didrouter.TaskAssigned {
			t.Fatalf("task %s, want assigned", got)
		}
		if _, err := h.eng.AcceptReservation(h.ctx, h.ws.SID, res.Reservation.SID); didrouter.ErrorCode(err) != didrouter.EUNAVAILABLE {
			t.Fatalf("second accept: %v, want EUNAVAILABLE", err)
		}
		if _, err := h.eng.RejectReservation(h.ctx, h.ws.SID, res.Reservation.SID, didrouter.ReservationRejected); didrouter.ErrorCode(err) != didrouter.EUNAVAILABLE {
			t.Fatalf("reject after accept: %v, want EUNAVAILABLE", err)
		}
		if _, err := h.eng.CancelTask(h.ctx, h.ws.SID, res.Task.SID, ""); didrouter.ErrorCode(err) != didrouter.EUNAVAILABLE {
			t.Fatalf("cancel of an assigned task: %v, want EUNAVAILABLE", err)
		}
		// The step and task timers stopped at accept: a day later the call is still assigned.
		h.advance(25 * time.Hour)
		if got := h.task(res.Task.SID).AssignmentStatus; got != didrouter.TaskAssigned {
			t.Fatalf("assigned task became %s", got)
		}
		if _, err := h.eng.CompleteTask(h.ctx, h.ws.SID, res.Task.SID, "call ended"); err != nil {
			t.Fatalf("CompleteTask: %v", err)
		}
		if got := h.reservation(res.Reservation.SID).Status; got != didrouter.ReservationCompleted {
			t.Fatalf("reservation %s, want completed", got)
		}
		if got := h.getWorker(owner.SID).Busy; got != 0 {
			t.Fatalf("owner busy %d, want 0", got)
		}
		want := []string{didrouter.EventTaskCreated, didrouter.EventWorkflowTargetMatched, didrouter.EventTaskQueueEntered,
			didrouter.EventReservationCreated, didrouter.EventReservationAccepted, didrouter.EventTaskCompleted,
			didrouter.EventReservationCompleted}
		got := h.eventTypes(res.Task.SID)
		if !slices.Equal(sorted(got), sorted(want)) {
			t.Fatalf("events %v, want %v", got, want)
		}
		evs, err := h.store.ListEvents(h.ctx, h.ws.SID, didrouter.EventFilter{WorkerSID: owner.SID, EventType: didrouter.EventWorkerCreated})
		if err != nil || len(evs) != 1 {
			t.Fatalf("worker.created events: %d, %v", len(evs), err)
		}
	})
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestTaskTimeoutCancelsWaitingTask(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		res, err := h.eng.CreateTask(h.ctx, engine.TaskInsert{WorkspaceSID: h.ws.SID, Attributes: `{"phone_number":"+15127640599"}`,
			Timeout: 300})
		if err != nil {
			t.Fatalf("CreateTask: %v", err)
		}
		h.advance(299 * time.Second)
		if got := h.task(res.Task.SID).AssignmentStatus; got != didrouter.TaskPending {
			t.Fatalf("task %s before its timeout", got)
		}
		h.advance(time.Second)
		task := h.task(res.Task.SID)
		if task.AssignmentStatus != didrouter.TaskCanceled || task.Reason != "Task TTL Exceeded" {
			t.Fatalf("task %s (%q), want canceled by TTL", task.AssignmentStatus, task.Reason)
		}
	})
}

func TestWrapUp(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		eng, err := engine.New(engine.Config{Store: h.store, Clock: h.clock, WrapUp: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		h.eng = eng
		w := h.worker("agent", "", "Available")
		first := h.call("+15127640599", 0)
		second := h.call("+15127640598", 0)
		if second.Reservation != nil {
			t.Fatal("second call reserved while the only agent rings")
		}
		if _, err := eng.AcceptReservation(h.ctx, h.ws.SID, first.Reservation.SID); err != nil {
			t.Fatal(err)
		}
		task, err := eng.CompleteTask(h.ctx, h.ws.SID, first.Task.SID, "hung up")
		if err != nil || task.AssignmentStatus != didrouter.TaskWrapping {
			t.Fatalf("CompleteTask: %s, %v; want wrapping", task.AssignmentStatus, err)
		}
		if h.getWorker(w.SID).Busy != 1 || h.live(second.Task.SID) != nil {
			t.Fatal("agent freed during wrap-up")
		}
		h.advance(30 * time.Second)
		if got := h.task(first.Task.SID).AssignmentStatus; got != didrouter.TaskCompleted {
			t.Fatalf("after wrap-up task is %s, want completed", got)
		}
		if r := h.live(second.Task.SID); r == nil || r.WorkerSID != w.SID {
			t.Fatalf("after wrap-up the waiting call has reservation %+v, want the agent's", r)
		}
	})
}
