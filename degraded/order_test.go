package degraded_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/degraded"
	"github.com/didrouter/didrouter/engine"
)

// flakyAccept is the engine with its first AcceptReservation failing as a
// busy store does, with a transient error and not a coded one.
type flakyAccept struct {
	*engine.Engine
	failed atomic.Bool
}

func (f *flakyAccept) AcceptReservation(ctx context.Context, ws, sid string) (didrouter.Reservation, error) {
	if f.failed.CompareAndSwap(false, true) {
		return didrouter.Reservation{}, errors.New("database is locked")
	}
	return f.Engine.AcceptReservation(ctx, ws, sid)
}

// The answer of a call fails to apply at the first try. The end of that
// call waits for it, and the call is completed, not canceled as if nobody
// had answered.
func TestReplayKeepsACallsOrder(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		var eng *flakyAccept
		// With no settle time, a call still ringing whose end is
		// replayed is canceled in the same round.
		o := newOwnerMode(t, st, func(e *engine.Engine) degraded.Engine { eng = &flakyAccept{Engine: e}; return eng }, time.Nanosecond)
		ctx, ws, owner, j, sw, mode := o.ctx, o.ws, o.owner, o.j, o.sw, o.mode
		sw.set(true)
		_, c, err := mode.Incoming(ctx, "+15125550100", callTask("CAanswered", "+15125550100"))
		if err != nil || c.Reservation == nil || c.Reservation.WorkerSID != owner.SID {
			t.Fatalf("call: %+v %v, want the owner", c.Reservation, err)
		}
		if err := mode.Accept(ctx, ws.SID, "CAanswered", c.Task.SID, c.Reservation.SID); err != nil {
			t.Fatal(err)
		}
		if err := mode.EndTask(ctx, ws.SID, "CAanswered", c.Task.SID, c.Reservation.SID, "call completed"); err != nil {
			t.Fatal(err)
		}
		sw.set(false)
		deadline := time.Now().Add(20 * time.Second)
		for j.Len() > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("journal not replayed: %+v", j.Pending())
			}
			time.Sleep(20 * time.Millisecond)
		}
		if !eng.failed.Load() {
			t.Fatal("the answer never failed: the test tested nothing")
		}
		task, err := st.TaskByCallSID(ctx, ws.SID, "CAanswered")
		if err != nil || task.AssignmentStatus != didrouter.TaskCompleted {
			t.Fatalf("the answered call is %s (%v), want completed", task.AssignmentStatus, err)
		}
	})
}
