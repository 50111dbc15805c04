package degraded_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/didrouter/didrouter/degraded"
	"github.com/didrouter/didrouter/engine"
)

// An instance replays the journal another instance left beside its own
// (that instance is gone: nobody holds the file), once; a journal whose
// process still holds it is left alone.
func TestModeAdoptsJournalOfGoneInstance(t *testing.T) {
	stores(t, func(t *testing.T, st engine.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		dir := t.TempDir()
		w := newWorld(t, ctx, st)
		owner := w.worker(t, "owner", `{"phone_number":"+15125550100","contact_uri":"client:owner"}`)

		// The gone instance: an outage, a call answered and ended, then it dies.
		gone := filepath.Join(dir, "didrouter-journal-gone.jsonl")
		sw := &outageSwitch{}
		func() {
			runCtx, stop := context.WithCancel(ctx)
			defer stop()
			j, err := degraded.OpenJournal(gone)
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			mode, err := degraded.New(degraded.Config{Engine: w.eng, Store: st, Down: sw.down, Journal: j, WorkspaceSID: w.ws.SID})
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { mode.Run(runCtx); close(done) }()
			defer func() { stop(); <-done }()
			waitFor(t, "gone instance ready", mode.Ready)
			sw.set(true)
			_, res, err := mode.Incoming(ctx, "+15125550100", callTask("CAgone", "+15125550100"))
			if err != nil || res.Reservation == nil || res.Reservation.WorkerSID != owner.SID {
				t.Fatalf("call: %+v %v, want the owner", res.Reservation, err)
			}
			if err := mode.Accept(ctx, w.ws.SID, "CAgone", res.Task.SID, res.Reservation.SID); err != nil {
				t.Fatal(err)
			}
			if err := mode.EndTask(ctx, w.ws.SID, "CAgone", res.Task.SID, res.Reservation.SID, "call completed"); err != nil {
				t.Fatal(err)
			}
		}()
		// A live instance's journal, with an entry, held by its process.
		held, err := degraded.OpenJournal(filepath.Join(dir, "didrouter-journal-live.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		defer held.Close()
		if _, err := held.Append(degraded.Entry{Op: degraded.OpEndCall, WS: w.ws.SID, CallSID: "CAlive"}); err != nil {
			t.Fatal(err)
		}

		// This instance, with its own journal in the same directory.
		next := newWorld(t, ctx, st)
		j, err := degraded.OpenJournal(filepath.Join(dir, "didrouter-journal-me.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		mode, err := degraded.New(degraded.Config{Engine: next.eng, Store: st, Down: (&outageSwitch{}).down, Journal: j,
			WorkspaceSID: w.ws.SID, Orphans: degraded.Orphans{Glob: filepath.Join(dir, "didrouter-journal-*.jsonl"), Every: 100 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { mode.Run(runCtx); close(done) }()
		defer func() { stop(); <-done }()
		waitFor(t, "the gone instance's journal replayed", func() bool {
			entries, err := degraded.ReadJournal(gone)
			return err == nil && len(entries) == 0
		})
		task, err := st.TaskByCallSID(ctx, w.ws.SID, "CAgone")
		if err != nil || task.AssignmentStatus != engine.TaskCompleted {
			t.Fatalf("the gone instance's call: %q %v, want completed", task.AssignmentStatus, err)
		}
		if wk, _ := st.GetWorker(ctx, w.ws.SID, owner.SID); wk.Busy != 0 {
			t.Fatalf("owner busy %d after the replay, want 0", wk.Busy)
		}
		time.Sleep(300 * time.Millisecond) // a few more looks
		if held.Len() != 1 {
			t.Fatalf("the held journal has %d entries, want its 1 untouched", held.Len())
		}
		if entries, _ := degraded.ReadJournal(held.Path()); len(entries) != 1 {
			t.Fatalf("the held journal's file has %d entries, want 1", len(entries))
		}
	})
}
