package engine_test

import (
	"strings"
	"testing"
)

// Explain walks a stored task's workflow with the index's current workers:
// with the owner offline, the first step is skipped and Everyone's free
// worker is next.
func TestExplainStoredTask(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		other := h.worker("other", "", "Available")
		owner := h.worker("owner", ownerDID, "Offline")
		res := h.call(ownerDID, 0)
		h.wantReserved(res, other)
		if _, err := h.eng.AcceptReservation(h.ctx, h.ws.SID, res.Reservation.SID); err != nil {
			t.Fatal(err)
		}
		if _, err := h.eng.CompleteTask(h.ctx, h.ws.SID, res.Task.SID, "done"); err != nil {
			t.Fatal(err)
		}
		x, err := h.eng.Explain(h.ctx, h.task(res.Task.SID), owner.SID)
		if err != nil {
			t.Fatal(err)
		}
		if len(x.Steps) != 2 || x.Steps[0].Reserve != "" || x.Steps[1].Reserve != other.SID {
			t.Fatalf("steps %+v, want the owner's skipped and then %s", x.Steps, other.SID)
		}
		if x.Steps[0].QueueName != "Everyone" {
			t.Errorf("queue name %q", x.Steps[0].QueueName)
		}
		listed := false
		for _, v := range x.Steps[0].Workers {
			listed = listed || v.SID == owner.SID
		}
		if !listed {
			t.Errorf("the focused worker is not listed: %+v", x.Steps[0].Workers)
		}
		if !strings.Contains(x.Text(), "other") {
			t.Errorf("text:\n%s", x.Text())
		}
	})
}
