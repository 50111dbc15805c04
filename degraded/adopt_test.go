package degraded_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/degraded"
)

// An instance replays, once, the journal a gone instance left beside its
// own. The instance is gone, so nobody holds the file. A journal whose
// process still holds it is left alone.
func TestModeAdoptsJournalOfGoneInstance(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		dir := t.TempDir()
		w := newWorld(t, ctx, st)
		owner := w.worker(t, "owner", `{"phone_number":"+15125550100","contact_uri":"client:owner"}`)

		// The gone instance sees an outage and a call answered and ended,
		// then it dies.
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
		if err != nil || task.AssignmentStatus != didrouter.TaskCompleted {
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

// queuedJournal leaves a closed journal at path, as a gone instance
// leaves it. It holds one call routed from memory to the queue, because no
// worker could be reserved.
func (w *world) queuedJournal(t *testing.T, flow didrouter.Workflow, path, callSID string) {
	t.Helper()
	n := callTask(callSID, "+15125559999")
	n.WorkspaceSID, n.WorkflowSID = w.ws.SID, flow.SID
	dc, err := w.eng.Degraded().Route(w.ctx, w.ws, flow, n, func(string) bool { return false })
	if err != nil || dc.Reservation != nil {
		t.Fatalf("route %s: %+v %v, want it queued", callSID, dc.Reservation, err)
	}
	j, err := degraded.OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if _, err := j.Append(degraded.Entry{Op: degraded.OpCall, At: time.Now(), WS: w.ws.SID,
		Task: dc.Task.SID, CallSID: callSID, Call: &dc}); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a log sink a Mode's goroutine and the test share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A file named like another instance's journal is adopted only when it is
// a regular file of this process's user that nobody else can write.
// Another local user could plant or edit a file writable by group or
// others, a symbolic link or a file owned by another uid. Such a file is
// left alone and its calls stay out of the store. The log names it and
// says why, once.
func TestModeAdoptsOnlyTrustedJournals(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		dir := t.TempDir()
		w := newWorld(t, ctx, st)
		flow, err := w.eng.Degraded().Warm(ctx, w.ws.SID, w.ws.DefaultWorkflowSID)
		if err != nil {
			t.Fatal(err)
		}
		name := func(s string) string { return filepath.Join(dir, "didrouter-journal-"+s+".jsonl") }
		w.queuedJournal(t, flow, name("good"), "CAgood")
		bad := map[string]string{} // call sid -> the reason the log must give
		for call, mode := range map[string]os.FileMode{"CAopen": 0o666, "CAgroup": 0o620} {
			w.queuedJournal(t, flow, name(call), call)
			if err := os.Chmod(name(call), mode); err != nil {
				t.Fatal(err)
			}
			bad[call] = "writable by group or others"
		}
		elsewhere := filepath.Join(t.TempDir(), "planted.jsonl")
		w.queuedJournal(t, flow, elsewhere, "CAlink")
		if err := os.Symlink(elsewhere, name("CAlink")); err != nil {
			t.Fatal(err)
		}
		bad["CAlink"] = "a symbolic link"
		if os.Getuid() == 0 {
			w.queuedJournal(t, flow, name("CAother"), "CAother")
			if err := os.Chown(name("CAother"), 4242, 4242); err != nil {
				t.Fatal(err)
			}
			bad["CAother"] = "owned by uid 4242"
		} else {
			t.Log("not root: the journal of another uid is not tried (a file cannot be given away)")
		}

		logs := &syncBuffer{}
		next := newWorld(t, ctx, st)
		j, err := degraded.OpenJournal(name("me"))
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		mode, err := degraded.New(degraded.Config{Engine: next.eng, Store: st, Down: (&outageSwitch{}).down, Journal: j,
			WorkspaceSID: w.ws.SID, Logger: slog.New(slog.NewTextHandler(logs, nil)),
			Orphans: degraded.Orphans{Glob: name("*"), Every: 100 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { mode.Run(runCtx); close(done) }()
		defer func() { stop(); <-done }()
		waitFor(t, "the trusted journal adopted", func() bool {
			entries, err := degraded.ReadJournal(name("good"))
			return err == nil && len(entries) == 0
		})
		if _, err := st.TaskByCallSID(ctx, w.ws.SID, "CAgood"); err != nil {
			t.Fatalf("the trusted journal's call: %v", err)
		}
		time.Sleep(500 * time.Millisecond) // a few more looks
		lines := strings.Split(logs.String(), "\n")
		for call, reason := range bad {
			if _, err := st.TaskByCallSID(ctx, w.ws.SID, call); didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
				t.Errorf("%s: the call of an untrusted journal is in the store (%v)", call, err)
			}
			if entries, err := degraded.ReadJournal(name(call)); err != nil || len(entries) != 1 {
				t.Errorf("%s: %d entries left %v, want its 1", call, len(entries), err)
			}
			warned := 0
			for _, l := range lines {
				if strings.Contains(l, "level=WARN") && strings.Contains(l, "journal="+name(call)+" ") && strings.Contains(l, reason) {
					warned++
				}
			}
			if warned != 1 {
				t.Errorf("%s: %d warnings naming the file and %q, want 1:\n%s", call, warned, reason, logs)
			}
		}
	})
}
