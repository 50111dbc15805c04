package engine_test

import (
	"testing"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

// Moving a reserved task to the message channel (a waiting caller asks to
// be called back) cancels its reservation first, freeing the worker's voice
// unit, and routes it again on the new channel: the same owner is offered
// it, now holding a message unit. An accepted task keeps its channel.
func TestUpdateTaskChannel(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		owner := h.worker("owner", ownerDID, "Available")
		res := h.call(ownerDID, 0)
		h.wantReserved(res, owner)
		ch := didrouter.MessageChannel
		got, err := h.eng.UpdateTask(h.ctx, h.ws.SID, res.Task.SID, engine.TaskUpdate{TaskChannel: &ch})
		if err != nil {
			t.Fatal(err)
		}
		if got.TaskChannel != didrouter.MessageChannel || got.AssignmentStatus != didrouter.TaskReserved {
			t.Fatalf("task after the move: %s on %q, want reserved on %q", got.AssignmentStatus, got.TaskChannel, ch)
		}
		if r := h.reservation(res.Reservation.SID); r.Status != didrouter.ReservationCanceled {
			t.Fatalf("the voice reservation is %s, want canceled", r.Status)
		}
		if r := h.live(res.Task.SID); r == nil || r.WorkerSID != owner.SID {
			t.Fatalf("the moved task is offered to %+v, want the owner", r)
		}
		if w := h.getWorker(owner.SID); w.Busy != 0 || w.MessageBusy != 1 {
			t.Fatalf("owner: busy %d, messages %d; want 0 and 1", w.Busy, w.MessageBusy)
		}

		call := h.call(ownerDID, 0)
		h.wantReserved(call, owner) // voice is free for a call
		if _, err := h.eng.AcceptReservation(h.ctx, h.ws.SID, call.Reservation.SID); err != nil {
			t.Fatal(err)
		}
		_, err = h.eng.UpdateTask(h.ctx, h.ws.SID, call.Task.SID, engine.TaskUpdate{TaskChannel: &ch})
		if didrouter.ErrorCode(err) != didrouter.EUNAVAILABLE {
			t.Fatalf("moving an assigned task: %v, want EUNAVAILABLE", err)
		}
		empty := " "
		if _, err := h.eng.UpdateTask(h.ctx, h.ws.SID, res.Task.SID, engine.TaskUpdate{TaskChannel: &empty}); didrouter.ErrorCode(err) != didrouter.EINVALID {
			t.Fatalf("an empty channel: %v, want EINVALID", err)
		}
	})
}
