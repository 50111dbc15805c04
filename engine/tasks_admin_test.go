package engine_test

import (
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

func TestWorkerCapacity(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		w := h.worker("agent", "", "Available")
		first := h.call("+15127640599", 0)
		second := h.call("+15127640598", 0)
		h.wantReservedFor(first, w)
		if second.Reservation != nil {
			t.Fatal("second call reserved at capacity 1")
		}
		two := 2
		got, err := h.eng.UpdateWorker(h.ctx, h.ws.SID, w.SID, engine.WorkerUpdate{Capacity: &two})
		if err != nil {
			t.Fatalf("UpdateWorker capacity: %v", err)
		}
		if got.Capacity != 2 || got.Busy != 2 {
			t.Fatalf("capacity %d busy %d, want 2 and 2 (the waiting call served)", got.Capacity, got.Busy)
		}
		if r := h.live(second.Task.SID); r == nil || r.WorkerSID != w.SID {
			t.Fatalf("second call: live %+v", r)
		}
		bad := 51
		if _, err := h.eng.UpdateWorker(h.ctx, h.ws.SID, w.SID, engine.WorkerUpdate{Capacity: &bad}); didrouter.ErrorCode(err) != didrouter.EINVALID {
			t.Fatalf("capacity 51: %v, want EINVALID", err)
		}
		evs, err := h.store.ListEvents(h.ctx, h.ws.SID, didrouter.EventFilter{WorkerSID: w.SID, EventType: didrouter.EventWorkerCapacityUpdate})
		if err != nil || len(evs) != 1 {
			t.Fatalf("capacity events: %d, %v", len(evs), err)
		}
	})
}

func TestUpdateTask(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		owner := h.worker("owner", ownerDID, "Offline")
		res := h.call("+15127640599", 0) // nobody's number: waits in Everyone
		prio := 7
		attrs := `{"phone_number":"` + ownerDID + `"}`
		task, err := h.eng.UpdateTask(h.ctx, h.ws.SID, res.Task.SID, engine.TaskUpdate{Attributes: &attrs, Priority: &prio})
		if err != nil {
			t.Fatalf("UpdateTask: %v", err)
		}
		if task.Priority != 7 || task.Attributes != attrs || task.AssignmentStatus != didrouter.TaskPending {
			t.Fatalf("task %+v", task)
		}
		wantContains(t, h.eventTypes(task.SID), didrouter.EventTaskUpdated)
		// The new attributes make the owner eligible in Everyone once available.
		h.setActivity(owner, "Available")
		if r := h.live(task.SID); r == nil || r.WorkerSID != owner.SID {
			t.Fatalf("live %+v, want the owner's", r)
		}
		bad := "[1]"
		if _, err := h.eng.UpdateTask(h.ctx, h.ws.SID, task.SID, engine.TaskUpdate{Attributes: &bad}); didrouter.ErrorCode(err) != didrouter.EINVALID {
			t.Fatalf("bad attributes: %v", err)
		}
		if _, err := h.eng.CancelTask(h.ctx, h.ws.SID, task.SID, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := h.eng.UpdateTask(h.ctx, h.ws.SID, task.SID, engine.TaskUpdate{Priority: &prio}); didrouter.ErrorCode(err) != didrouter.EUNAVAILABLE {
			t.Fatalf("update of a canceled task: %v", err)
		}
	})
}

func TestWrapUpAndDeleteTask(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		w := h.worker("agent", "", "Available")
		first := h.call("+15127640599", 0)
		second := h.call("+15127640598", 0)
		if _, err := h.eng.AcceptReservation(h.ctx, h.ws.SID, first.Reservation.SID); err != nil {
			t.Fatal(err)
		}
		task, err := h.eng.WrapUpTask(h.ctx, h.ws.SID, first.Task.SID, "notes")
		if err != nil || task.AssignmentStatus != didrouter.TaskWrapping {
			t.Fatalf("WrapUpTask: %s, %v", task.AssignmentStatus, err)
		}
		if got := h.reservation(first.Reservation.SID).Status; got != didrouter.ReservationWrapping {
			t.Fatalf("reservation %s, want wrapping", got)
		}
		// Without Config.WrapUp the agent stays busy however long it takes.
		h.advance(time.Hour)
		if h.getWorker(w.SID).Busy != 1 || h.live(second.Task.SID) != nil {
			t.Fatal("agent freed during an open-ended wrap-up")
		}
		if _, err := h.eng.WrapUpTask(h.ctx, h.ws.SID, second.Task.SID, ""); didrouter.ErrorCode(err) != didrouter.EUNAVAILABLE {
			t.Fatalf("wrap-up of a pending task: %v", err)
		}
		// Deleting the wrapping task frees the agent, who takes the waiting call.
		if err := h.eng.DeleteTask(h.ctx, h.ws.SID, first.Task.SID); err != nil {
			t.Fatalf("DeleteTask: %v", err)
		}
		if _, err := h.store.GetTask(h.ctx, h.ws.SID, first.Task.SID); didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
			t.Fatalf("deleted task: %v", err)
		}
		if r := h.live(second.Task.SID); r == nil || r.WorkerSID != w.SID {
			t.Fatalf("waiting call after the delete: live %+v", r)
		}
		// Deleting a reserved task cancels its reservation and frees the agent.
		if err := h.eng.DeleteTask(h.ctx, h.ws.SID, second.Task.SID); err != nil {
			t.Fatalf("DeleteTask: %v", err)
		}
		if got := h.getWorker(w.SID).Busy; got != 0 {
			t.Fatalf("agent busy %d after deleting its tasks", got)
		}
		if err := h.eng.DeleteTask(h.ctx, h.ws.SID, second.Task.SID); didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
			t.Fatalf("second delete: %v, want ENOTFOUND", err)
		}
	})
}
