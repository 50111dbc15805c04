package engine_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

// withReofferAfter replaces the harness's engine by one with that cool-down.
func (h *harness) withReofferAfter(d time.Duration) {
	h.t.Helper()
	eng, err := engine.New(engine.Config{Store: h.store, Clock: h.clock, InstanceID: "test", ReofferAfter: d})
	if err != nil {
		h.t.Fatalf("New: %v", err)
	}
	h.eng = eng
}

// miss ends the live reservation of the task as not answered and checks that
// it was w's.
func (h *harness) miss(taskSID string, w didrouter.Worker) engine.TaskResult {
	h.t.Helper()
	r := h.live(taskSID)
	if r == nil || r.WorkerSID != w.SID {
		h.t.Fatalf("live reservation %+v, want a pending one for %s", r, w.FriendlyName)
	}
	res, err := h.eng.RejectReservation(h.ctx, h.ws.SID, r.SID, didrouter.ReservationTimeout)
	if err != nil {
		h.t.Fatalf("RejectReservation %s: %v", w.FriendlyName, err)
	}
	return res
}

// wantWaiting checks that the task is pending at target 1 with no reservation.
func (h *harness) wantWaiting(taskSID, when string) {
	h.t.Helper()
	task := h.task(taskSID)
	if task.AssignmentStatus != didrouter.TaskPending || task.TargetIndex != 1 {
		h.t.Fatalf("%s: task %s at target %d, want pending at target 1", when, task.AssignmentStatus, task.TargetIndex)
	}
	if r := h.live(taskSID); r != nil {
		h.t.Fatalf("%s: task offered to %s, want nobody", when, h.getWorker(r.WorkerSID).FriendlyName)
	}
}

// A team of two who both miss the call: after the cool-down the call rings
// the longest idle of them again, and the cycle repeats while they miss it.
func TestReofferAfterEveryoneMissed(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		alice := h.worker("alice", ownerDID, "Available")
		bob := h.worker("bob", "", "Available")
		res := h.call(ownerDID, 0)
		h.wantReserved(res, alice)
		next := h.miss(res.Task.SID, alice)
		h.wantReserved(next, bob) // the owner step is skipped at once
		h.clock.Advance(10 * time.Second)
		h.miss(res.Task.SID, bob)
		h.wantWaiting(res.Task.SID, "both missed")
		if got := h.task(res.Task.SID).RejectedWorkers; !slices.Contains(got, alice.SID) || !slices.Contains(got, bob.SID) {
			t.Fatalf("rejected workers %v, want alice and bob", got)
		}

		h.advance(engine.DefaultReofferAfter - time.Second)
		h.wantWaiting(res.Task.SID, "before the cool-down")
		h.advance(time.Second)
		r := h.live(res.Task.SID)
		if r == nil || r.WorkerSID != alice.SID { // alice was freed 10 s before bob
			t.Fatalf("after the cool-down the live reservation is %+v, want alice's", r)
		}
		task := h.task(res.Task.SID)
		if task.AssignmentStatus != didrouter.TaskReserved || len(task.RejectedWorkers) != 0 {
			t.Fatalf("task %s with rejected workers %v, want reserved with none", task.AssignmentStatus, task.RejectedWorkers)
		}
		wantContains(t, h.eventTypes(res.Task.SID), didrouter.EventTaskUpdated)

		// Missed again: bob next (alice is out again), then a new cool-down.
		next = h.miss(res.Task.SID, alice)
		h.wantReserved(next, bob)
		h.clock.Advance(10 * time.Second)
		h.miss(res.Task.SID, bob)
		h.wantWaiting(res.Task.SID, "both missed twice")
		h.advance(engine.DefaultReofferAfter)
		r = h.live(res.Task.SID)
		if r == nil || r.WorkerSID != alice.SID {
			t.Fatalf("second re-offer: live reservation %+v, want alice's", r)
		}
		if _, err := h.eng.AcceptReservation(h.ctx, h.ws.SID, r.SID); err != nil {
			t.Fatalf("AcceptReservation: %v", err)
		}
		// Nothing is left to fire for an assigned task.
		h.advance(10 * engine.DefaultReofferAfter)
		if got := h.task(res.Task.SID).AssignmentStatus; got != didrouter.TaskAssigned {
			t.Fatalf("task %s after accept, want assigned", got)
		}
		if got := h.reservation(r.SID).Status; got != didrouter.ReservationAccepted {
			t.Fatalf("reservation %s, want accepted", got)
		}
	})
}

// The review's scenario with real timers: the owner rings 60 s, Bob 120 s,
// then both are idle; the caller is put through again 60 s later instead of
// holding until the task's TTL.
func TestReofferAfterTimeouts(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		alice := h.worker("alice", ownerDID, "Available")
		bob := h.worker("bob", "", "Available")
		res := h.call(ownerDID, 0)
		h.wantReserved(res, alice)
		h.advance(engine.SeedOwnerTimeout * time.Second) // rescinded: bob rings
		if r := h.live(res.Task.SID); r == nil || r.WorkerSID != bob.SID {
			t.Fatalf("after the owner's step the live reservation is %+v, want bob's", r)
		}
		// The re-offer timer armed on entering Everyone fires while bob rings: no effect.
		h.advance(engine.DefaultReofferAfter)
		if r := h.live(res.Task.SID); r == nil || r.WorkerSID != bob.SID {
			t.Fatalf("bob's ring was cut short: live reservation %+v", r)
		}
		h.advance(time.Duration(engine.DefaultReservationTimeout)*time.Second - engine.DefaultReofferAfter)
		h.wantWaiting(res.Task.SID, "bob timed out")
		h.advance(engine.DefaultReofferAfter)
		r := h.live(res.Task.SID)
		if r == nil || r.WorkerSID != alice.SID {
			t.Fatalf("after the cool-down the live reservation is %+v, want alice's", r)
		}
	})
}

// ReofferAfter < 0 keeps the old rule: whoever missed the task is never
// offered it again, and the caller waits until the task's TTL.
func TestReofferNever(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h.withReofferAfter(-1)
		alice := h.worker("alice", ownerDID, "Available")
		bob := h.worker("bob", "", "Available")
		res := h.call(ownerDID, 0)
		h.wantReserved(res, alice)
		h.miss(res.Task.SID, alice)
		h.miss(res.Task.SID, bob)
		h.wantWaiting(res.Task.SID, "both missed")
		for range 5 {
			h.advance(time.Hour)
			h.wantWaiting(res.Task.SID, "hours later")
		}
		h.advance(time.Duration(engine.DefaultTaskTimeout) * time.Second)
		if got := h.task(res.Task.SID); got.AssignmentStatus != didrouter.TaskCanceled || got.Reason != "Task TTL Exceeded" {
			t.Fatalf("task %s (%q), want canceled by its TTL", got.AssignmentStatus, got.Reason)
		}
	})
}

// A worker freed while a task waits with them excluded is not given that
// task at once, but after the cool-down.
func TestReofferToWorkerFreedLater(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		alice := h.worker("alice", ownerDID, "Available")
		h.worker("bob", "", "Offline")
		res := h.call(ownerDID, 0)
		h.wantReserved(res, alice)
		// Alice declines and takes another call meanwhile.
		other := h.call("+15127640599", 0)
		h.miss(res.Task.SID, alice)
		h.wantReserved(h.taskResult(other.Task.SID), alice)
		h.wantWaiting(res.Task.SID, "alice declined")
		h.advance(engine.DefaultReofferAfter) // alice busy: nobody to offer it to
		h.wantWaiting(res.Task.SID, "alice busy")
		if got := h.task(res.Task.SID).RejectedWorkers; len(got) != 0 {
			t.Fatalf("rejected workers %v after the cool-down, want none", got)
		}
		// Alice frees up: the waiting task is hers now.
		r := h.live(other.Task.SID)
		if _, err := h.eng.RejectReservation(h.ctx, h.ws.SID, r.SID, didrouter.ReservationRejected); err != nil {
			t.Fatalf("RejectReservation: %v", err)
		}
		if r := h.live(res.Task.SID); r == nil || r.WorkerSID != alice.SID {
			t.Fatalf("live reservation %+v, want alice's", r)
		}
	})
}

// At a step with a timeout (the owner's) the re-offer never rings the owner
// again before the step ends, and at the next step not before the cool-down.
func TestReofferNotAtOwnerStep(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		const cool = 10 * time.Second
		h.withReofferAfter(cool)
		// The owner step without skip_if: a declined owner's call waits there.
		cfg := fmt.Sprintf(`{"task_routing":{"filters":[{"filter_friendly_name":"DID","expression":"1==1","targets":[
			{"queue":%q,"expression":"task.phone_number CONTAINS worker.phone_number","timeout":60},
			{"queue":%q}]}],"default_filter":{"queue":%q}}}`, h.queue, h.queue, h.queue)
		if _, err := h.eng.UpdateWorkflow(h.ctx, h.ws.SID, h.ws.DefaultWorkflowSID, engine.WorkflowUpdate{Configuration: &cfg}); err != nil {
			t.Fatalf("UpdateWorkflow: %v", err)
		}
		alice := h.worker("alice", ownerDID, "Available")
		h.worker("bob", "", "Offline")
		res := h.call(ownerDID, 0)
		h.wantReserved(res, alice)
		h.clock.Advance(5 * time.Second)
		if _, err := h.eng.RejectReservation(h.ctx, h.ws.SID, res.Reservation.SID, didrouter.ReservationRejected); err != nil {
			t.Fatalf("RejectReservation: %v", err)
		}
		for elapsed := 5 * time.Second; elapsed < 60*time.Second-cool; elapsed += cool {
			h.advance(cool)
			task := h.task(res.Task.SID)
			if task.TargetIndex != 0 || task.AssignmentStatus != didrouter.TaskPending || h.live(task.SID) != nil {
				t.Fatalf("at %v: task %s at target %d (live %+v), want waiting at the owner's step", elapsed+cool,
					task.AssignmentStatus, task.TargetIndex, h.live(task.SID))
			}
		}
		h.advance(5 * time.Second) // 60 s: on to Everyone, where alice is still out
		h.wantWaiting(res.Task.SID, "owner step over")
		h.advance(cool - time.Second)
		h.wantWaiting(res.Task.SID, "before the cool-down")
		h.advance(time.Second)
		if r := h.live(res.Task.SID); r == nil || r.WorkerSID != alice.SID {
			t.Fatalf("after the cool-down the live reservation is %+v, want alice's", r)
		}
	})
}

// taskResult reads a task with its live reservation.
func (h *harness) taskResult(sid string) engine.TaskResult {
	h.t.Helper()
	res := engine.TaskResult{Task: h.task(sid)}
	r, w, err := h.eng.LiveReservation(h.ctx, h.ws.SID, sid)
	if err != nil {
		h.t.Fatalf("LiveReservation: %v", err)
	}
	res.Reservation, res.Worker = r, w
	return res
}
