package degraded_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/degraded"
)

// An instance restarts with a call of its own journal that went to the
// queue. Its start-up replay imports the call before the settle time and
// empties the journal. The call waits, because other instances may still
// import calls holding the workers the store shows free. Once the settle
// time is over the call is routed to the free worker, and the journal a
// gone instance left is adopted, as on a fresh start. Neither waits for a
// replay round that no entry is left to start.
func TestModeRoutesWaitingAndAdoptsAfterEarlyReplay(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		dir := t.TempDir()
		w := newWorld(t, ctx, st)
		flow, err := w.eng.Degraded().Warm(ctx, w.ws.SID, w.ws.DefaultWorkflowSID)
		if err != nil {
			t.Fatal(err)
		}
		own := filepath.Join(dir, "didrouter-journal-me.jsonl")
		gone := filepath.Join(dir, "didrouter-journal-gone.jsonl")
		w.queuedJournal(t, flow, own, "CAmine")
		w.queuedJournal(t, flow, gone, "CAgone")
		owner := w.worker(t, "owner", `{"contact_uri":"client:owner"}`) // free by the restart

		next := newWorld(t, ctx, st) // the restarted instance
		j, err := degraded.OpenJournal(own)
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		clock := didrouter.NewFakeClock(time.Now())
		const settle = time.Minute
		mode, err := degraded.New(degraded.Config{Engine: next.eng, Store: st, Down: (&outageSwitch{}).down, Journal: j,
			WorkspaceSID: w.ws.SID, SettleAfter: settle, Clock: clock,
			Orphans: degraded.Orphans{Glob: filepath.Join(dir, "didrouter-journal-*.jsonl"), Every: 100 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { mode.Run(runCtx); close(done) }()
		defer func() { stop(); <-done }()

		waitFor(t, "the start-up replay", func() bool { return j.Len() == 0 })
		time.Sleep(1500 * time.Millisecond) // a few rounds, all before the settle time
		if task, err := st.TaskByCallSID(ctx, w.ws.SID, "CAmine"); err != nil || task.AssignmentStatus != didrouter.TaskPending {
			t.Fatalf("own call before the settle time: %q %v, want pending", task.AssignmentStatus, err)
		}
		if entries, err := degraded.ReadJournal(gone); err != nil || len(entries) != 1 {
			t.Fatalf("gone instance's journal before the settle time: %d entries %v, want its 1", len(entries), err)
		}

		clock.Advance(settle)
		waitFor(t, "own call routed", func() bool {
			task, err := st.TaskByCallSID(ctx, w.ws.SID, "CAmine")
			return err == nil && task.AssignmentStatus == didrouter.TaskReserved
		})
		rs, err := st.ListReservations(ctx, w.ws.SID, didrouter.ReservationFilter{WorkerSID: owner.SID})
		if err != nil || len(rs) != 1 {
			t.Fatalf("owner's reservations: %+v %v, want the one of CAmine", rs, err)
		}
		waitFor(t, "gone instance's journal adopted", func() bool {
			entries, err := degraded.ReadJournal(gone)
			return err == nil && len(entries) == 0
		})
		if _, err := st.TaskByCallSID(ctx, w.ws.SID, "CAgone"); err != nil {
			t.Fatalf("gone instance's call not in the store after the adoption: %v", err)
		}
	})
}

// Degraded mode reads the time from its clock, so a journal entry is dated
// by it and not by the wall clock.
func TestModeReadsTimeFromItsClock(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		ctx := context.Background()
		w := newWorld(t, ctx, st)
		j, err := degraded.OpenJournal(filepath.Join(t.TempDir(), "journal.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		clock := didrouter.NewFakeClock(time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC))
		mode, err := degraded.New(degraded.Config{Engine: w.eng, Store: st, Down: (&outageSwitch{}).down, Journal: j,
			WorkspaceSID: w.ws.SID, Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		if err := mode.Accept(ctx, w.ws.SID, "CAclock", "WTclock", "WRclock"); err != nil {
			t.Fatal(err)
		}
		entries := j.Pending()
		if len(entries) != 1 || !entries[0].At.Equal(clock.Now()) {
			t.Fatalf("journal entries %+v, want one dated %s by the mode's clock", entries, clock.Now())
		}
	})
}
