package engine_test

import (
	"fmt"
	"testing"

	"github.com/didrouter/didrouter/engine"
)

// BenchmarkCallLifecycle measures one DID call end to end in the engine:
// create the task (routed to the number's owner), accept, complete.
func BenchmarkCallLifecycle(b *testing.B) {
	for _, k := range storeKinds {
		b.Run(k.name, func(b *testing.B) {
			h := newHarness(b, k.open(b))
			const nWorkers = 50
			dids := make([]string, nWorkers)
			for i := range dids {
				dids[i] = fmt.Sprintf("+1512764%04d", i)
				h.worker(fmt.Sprintf("w%d", i), dids[i], "Available")
			}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				res, err := h.eng.CreateTask(h.ctx, engine.TaskInsert{WorkspaceSID: h.ws.SID,
					Attributes: `{"phone_number":"` + dids[i%nWorkers] + `"}`, CallSID: fmt.Sprintf("CA%d", i)})
				if err != nil || res.Reservation == nil {
					b.Fatalf("CreateTask: %+v, %v", res.Reservation, err)
				}
				if _, err := h.eng.AcceptReservation(h.ctx, h.ws.SID, res.Reservation.SID); err != nil {
					b.Fatal(err)
				}
				if _, err := h.eng.CompleteTask(h.ctx, h.ws.SID, res.Task.SID, "done"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
