package engine_test

import (
	"testing"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

// A retried call finds its task through the insert, and a retry that would
// be refused as a new task (here: a priority the first request did not
// have) still gets the call's task rather than an error.
func TestRetriedCallGetsItsTask(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		alice := h.worker("alice", ownerDID, "Available")
		first := h.callWith("CAretry", ownerDID, 0)
		h.wantReserved(first, alice)

		again, err := h.eng.CreateTask(h.ctx, engine.TaskInsert{WorkspaceSID: h.ws.SID, CallSID: "CAretry",
			Attributes: `{"phone_number":"` + ownerDID + `"}`})
		if err != nil || again.Created || again.Task.SID != first.Task.SID || again.Reservation == nil ||
			again.Reservation.SID != first.Reservation.SID {
			t.Fatalf("retry: %+v, %v; want task %s and its reservation, not created", again, err, first.Task.SID)
		}
		refused, err := h.eng.CreateTask(h.ctx, engine.TaskInsert{WorkspaceSID: h.ws.SID, CallSID: "CAretry", Priority: -1,
			Attributes: `{"phone_number":"` + ownerDID + `"}`})
		if err != nil || refused.Created || refused.Task.SID != first.Task.SID {
			t.Fatalf("retry with a refused priority: %+v, %v; want the call's task", refused, err)
		}
		if _, err := h.eng.CreateTask(h.ctx, engine.TaskInsert{WorkspaceSID: h.ws.SID, CallSID: "CAnew", Priority: -1}); didrouter.ErrorCode(err) != didrouter.EINVALID {
			t.Fatalf("a new call with a negative priority: %v, want invalid", err)
		}
	})
}
