package degraded_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/didrouter/didrouter/degraded"
	"github.com/didrouter/didrouter/engine"
)

// flakyAccept is the engine with its first AcceptReservation failing as a
// busy store does (a transient error, not a coded one).
type flakyAccept struct {
	*engine.Engine
	failed atomic.Bool
}

func (f *flakyAccept) AcceptReservation(ctx context.Context, ws, sid string) (engine.Reservation, error) {
	if f.failed.CompareAndSwap(false, true) {
		return engine.Reservation{}, errors.New("database is locked")
	}
	return f.Engine.AcceptReservation(ctx, ws, sid)
}

// The answer of a call fails to apply at the first try: the end of that
// call waits for it, and the call is completed, not canceled as if nobody
// had answered.
func TestReplayKeepsACallsOrder(t *testing.T) {
	stores(t, func(t *testing.T, st engine.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ws, err := engine.Seed(ctx, st, engine.SystemClock{})
		if err != nil {
			t.Fatal(err)
		}
		real, err := engine.New(engine.Config{Store: st, Clock: engine.SystemClock{}, InstanceID: "i1"})
		if err != nil {
			t.Fatal(err)
		}
		eng := &flakyAccept{Engine: real}
		acts, _ := st.ListActivities(ctx, ws.SID)
		var available string
		for _, a := range acts {
			if a.Available {
				available = a.SID
			}
		}
		owner, err := real.CreateWorker(ctx, ws.SID, engine.NewWorker{FriendlyName: "owner", ActivitySID: available,
			Attributes: `{"phone_number":"+15125550100","contact_uri":"client:owner"}`})
		if err != nil {
			t.Fatal(err)
		}
		j, err := degraded.OpenJournal(filepath.Join(t.TempDir(), "journal.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		sw := &outageSwitch{}
		// No settle time: an end of a call still ringing would be
		// canceled in the same round.
		mode, err := degraded.New(degraded.Config{Engine: eng, Store: st, Down: sw.down, Journal: j,
			WorkspaceSID: ws.SID, SettleAfter: time.Nanosecond})
		if err != nil {
			t.Fatal(err)
		}
		runDone := make(chan struct{})
		go func() { mode.Run(ctx); close(runDone) }()
		defer func() { cancel(); <-runDone }()
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, _, err := mode.Incoming(ctx, "+15125559999", callTask("CAwarm", "+15125559999")); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("degraded mode never warmed up")
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err := mode.EndCall(ctx, ws.SID, "CAwarm", "caller hung up"); err != nil {
			t.Fatal(err)
		}
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
		deadline = time.Now().Add(20 * time.Second)
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
		if err != nil || task.AssignmentStatus != engine.TaskCompleted {
			t.Fatalf("the answered call is %s (%v), want completed", task.AssignmentStatus, err)
		}
	})
}
