package engine_test

import (
	"strings"
	"testing"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

func TestWorkerByContactURI(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		alice := h.worker("alice", "+15125550101", "Available")
		h.worker("bob", "", "Offline")
		w, err := h.eng.WorkerByContactURI(h.ctx, h.ws.SID, "client:alice")
		if err != nil || w.SID != alice.SID || w.PhoneNumber != "+15125550101" {
			t.Fatalf("client:alice: %+v %v", w, err)
		}
		for _, uri := range []string{"client:Alice", "client:carol", "alice"} {
			if _, err := h.eng.WorkerByContactURI(h.ctx, h.ws.SID, uri); didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
				t.Errorf("%s: %v, want not found", uri, err)
			}
		}
		if _, err := h.eng.WorkerByContactURI(h.ctx, h.ws.SID, " "); didrouter.ErrorCode(err) != didrouter.EINVALID {
			t.Errorf("empty: %v", err)
		}
		// A changed contact is followed (this instance's index is updated on write).
		attrs := `{"contact_uri":"client:alice2","phone_number":"+15125550101"}`
		if _, err := h.eng.UpdateWorker(h.ctx, h.ws.SID, alice.SID, engine.WorkerUpdate{Attributes: &attrs}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.eng.WorkerByContactURI(h.ctx, h.ws.SID, "client:alice"); didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
			t.Errorf("old contact still found: %v", err)
		}
		if w, err := h.eng.WorkerByContactURI(h.ctx, h.ws.SID, "client:alice2"); err != nil || w.SID != alice.SID {
			t.Errorf("new contact: %+v %v", w, err)
		}
		// Two workers sharing a contact: ambiguous, never a guess.
		h.worker("bob", "", "Offline") // contact client:bob, like the first bob
		if _, err := h.eng.WorkerByContactURI(h.ctx, h.ws.SID, "client:bob"); didrouter.ErrorCode(err) != didrouter.ECONFLICT ||
			!strings.Contains(err.Error(), "2 workers") {
			t.Errorf("shared contact: %v", err)
		}
		// A reload of the index (resync) keeps the lookup working.
		if err := h.eng.Sync(h.ctx); err != nil {
			t.Fatal(err)
		}
		if w, err := h.eng.WorkerByContactURI(h.ctx, h.ws.SID, "client:alice2"); err != nil || w.SID != alice.SID {
			t.Errorf("after a reload: %+v %v", w, err)
		}
	})
}

// An outbound call is a task assigned to the calling agent from the start:
// nobody rings, the agent is held (no inbound call offered) until the call
// completes, and a second request for the same CallSid records nothing.
func TestRecordOutboundCall(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		alice := h.worker("alice", "+15125550101", "Available")
		bob := h.worker("bob", "+15125550102", "Available")
		attrs := `{"type":"outbound","direction":"outbound","from":"+15125550101","to":"+16175551212"}`
		res, err := h.eng.RecordOutboundCall(h.ctx, engine.OutboundCall{
			WorkspaceSID: h.ws.SID, WorkerSID: alice.SID, CallSID: "CAout1", Attributes: attrs,
		})
		if err != nil || !res.Created || !res.Claimed {
			t.Fatalf("record: %+v %v", res, err)
		}
		task := h.task(res.Task.SID)
		if task.AssignmentStatus != didrouter.TaskAssigned || task.CallSID != "CAout1" || task.Attributes != attrs ||
			task.WorkflowSID != h.ws.DefaultWorkflowSID {
			t.Fatalf("task %+v", task)
		}
		r, w, err := h.eng.LiveReservation(h.ctx, h.ws.SID, task.SID)
		if err != nil || r == nil || r.Status != didrouter.ReservationAccepted || w.SID != alice.SID {
			t.Fatalf("live reservation %+v %+v %v", r, w, err)
		}
		if got := h.getWorker(alice.SID).Busy; got != 1 {
			t.Fatalf("alice busy %d, want 1", got)
		}
		if got := h.getWorker(bob.SID).Busy; got != 0 {
			t.Fatalf("bob busy %d: someone else was offered the outbound call", got)
		}
		wantContains(t, h.eventTypes(task.SID), didrouter.EventTaskCreated, didrouter.EventReservationCreated, didrouter.EventReservationAccepted)

		// While on the call, a call to alice's number is not offered to her.
		in := h.call("+15125550101", 0)
		if in.Reservation != nil && in.Reservation.WorkerSID == alice.SID {
			t.Fatal("alice was offered an inbound call during her outbound call")
		}

		again, err := h.eng.RecordOutboundCall(h.ctx, engine.OutboundCall{
			WorkspaceSID: h.ws.SID, WorkerSID: alice.SID, CallSID: "CAout1", Attributes: attrs,
		})
		if err != nil || again.Created || again.Task.SID != task.SID {
			t.Fatalf("second record: %+v %v", again, err)
		}
		if got := h.getWorker(alice.SID).Busy; got != 1 {
			t.Fatalf("alice busy %d after a repeated request, want 1", got)
		}

		// The call ends: the task completes and alice is free again.
		if _, err := h.eng.CompleteTask(h.ctx, h.ws.SID, task.SID, "call completed"); err != nil {
			t.Fatal(err)
		}
		if got := h.task(task.SID).AssignmentStatus; got != didrouter.TaskCompleted {
			t.Fatalf("task %s", got)
		}
		if got := h.getWorker(alice.SID).Busy; got > 1 {
			t.Fatalf("alice busy %d", got)
		}

		// An offline agent calls out without a reservation: their state is untouched.
		carol := h.worker("carol", "", "Offline")
		off, err := h.eng.RecordOutboundCall(h.ctx, engine.OutboundCall{WorkspaceSID: h.ws.SID, WorkerSID: carol.SID, CallSID: "CAout2"})
		if err != nil || !off.Created || off.Claimed || off.Task.AssignmentStatus != didrouter.TaskAssigned {
			t.Fatalf("offline agent: %+v %v", off, err)
		}
		if got := h.getWorker(carol.SID); got.Busy != 0 || got.Version != carol.Version {
			t.Fatalf("carol written: busy %d version %d -> %d", got.Busy, carol.Version, got.Version)
		}
		if _, err := h.eng.CompleteTask(h.ctx, h.ws.SID, off.Task.SID, ""); err != nil {
			t.Fatal(err)
		}
		if got := h.getWorker(carol.SID).Busy; got != 0 {
			t.Fatalf("carol busy %d after completing", got)
		}

		// Bad input.
		if _, err := h.eng.RecordOutboundCall(h.ctx, engine.OutboundCall{WorkspaceSID: h.ws.SID, WorkerSID: alice.SID}); didrouter.ErrorCode(err) != didrouter.EINVALID {
			t.Errorf("no CallSid: %v", err)
		}
		if _, err := h.eng.RecordOutboundCall(h.ctx, engine.OutboundCall{WorkspaceSID: h.ws.SID, WorkerSID: "WKnope", CallSID: "CAout3"}); didrouter.ErrorCode(err) != didrouter.EINVALID {
			t.Errorf("unknown worker: %v", err)
		}
		if _, err := h.store.TaskByCallSID(h.ctx, h.ws.SID, "CAout3"); didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
			t.Errorf("a failed record left a task: %v", err)
		}
	})
}
