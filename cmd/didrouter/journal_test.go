package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/degraded"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/store/postgres"
	"github.com/didrouter/didrouter/store/storetest"
)

// switchedDown stands for outage.Store.Down: the test says when the
// database counts as unreachable (it stays up).
type switchedDown struct{ since atomic.Int64 }

func (s *switchedDown) down() time.Time {
	if ns := s.since.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// storeCounts is what a replay may add: tasks, reservations, events.
type storeCounts struct{ tasks, reservations, events int }

func countStore(t *testing.T, ctx context.Context, st didrouter.Store, ws string) storeCounts {
	t.Helper()
	tasks, err := st.ListTasks(ctx, ws, didrouter.TaskFilter{Page: didrouter.Page{Size: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := st.ListReservations(ctx, ws, didrouter.ReservationFilter{Page: didrouter.Page{Size: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	events, err := st.ListEvents(ctx, ws, didrouter.EventFilter{Page: didrouter.Page{Size: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	return storeCounts{len(tasks), len(res), len(events)}
}

// An instance routes calls from memory during an outage, journals them,
// and dies before the database is back. `didrouter journal replay` puts its
// calls into the database once, in their final state; replaying again (the
// emptied journal, or a copy taken before the replay, as after a crash
// between applying and marking done) writes nothing more.
func TestJournalReplayCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url := storetest.PostgresURL(t)
	st, err := postgres.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	clock := didrouter.SystemClock{}
	ws, err := engine.Seed(ctx, st, clock)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{Store: st, Clock: clock, InstanceID: "dead"})
	if err != nil {
		t.Fatal(err)
	}
	acts, err := st.ListActivities(ctx, ws.SID)
	if err != nil {
		t.Fatal(err)
	}
	var available string
	for _, a := range acts {
		if a.Available {
			available = a.SID
		}
	}
	owner, err := eng.CreateWorker(ctx, ws.SID, engine.WorkerInsert{FriendlyName: "owner", ActivitySID: available,
		Attributes: `{"phone_number":"+15125550100","contact_uri":"client:owner"}`})
	if err != nil {
		t.Fatal(err)
	}

	// The instance that will die: warm, then the database goes away.
	dir := t.TempDir()
	path := filepath.Join(dir, "didrouter-journal-dead.jsonl")
	j, err := degraded.OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	sw := &switchedDown{}
	mode, err := degraded.New(degraded.Config{Engine: eng, Store: st, Down: sw.down, Journal: j, WorkspaceSID: ws.SID})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stopRun := context.WithCancel(ctx)
	runDone := make(chan struct{})
	go func() { mode.Run(runCtx); close(runDone) }()
	for deadline := time.Now().Add(10 * time.Second); !mode.Ready(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("degraded mode never warmed up")
		}
	}
	sw.since.Store(time.Now().UnixNano())
	newCall := func(callSID string) engine.TaskInsert {
		attrs, _ := json.Marshal(map[string]string{"phone_number": "+15125550100", "type": "inbound", "call_sid": callSID})
		return engine.TaskInsert{Attributes: string(attrs), CallSID: callSID}
	}
	_, first, err := mode.Incoming(ctx, "+15125550100", newCall("CAjournal1"))
	if err != nil || first.Reservation == nil || first.Reservation.WorkerSID != owner.SID {
		t.Fatalf("first call: %+v %v, want the owner", first.Reservation, err)
	}
	_, second, err := mode.Incoming(ctx, "+15125550100", newCall("CAjournal2"))
	if err != nil || second.Reservation != nil {
		t.Fatalf("second call: %+v %v, want it waiting", second.Reservation, err)
	}
	for _, step := range []func() error{
		func() error { return mode.Accept(ctx, ws.SID, "CAjournal1", first.Task.SID, first.Reservation.SID) },
		func() error {
			return mode.EndTask(ctx, ws.SID, "CAjournal1", first.Task.SID, first.Reservation.SID, "call completed")
		},
		func() error { return mode.EndCall(ctx, ws.SID, "CAjournal2", "caller hung up") },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	// The instance dies: its journal stays behind, holding 5 entries.
	stopRun()
	<-runDone
	if n := j.Len(); n != 5 {
		t.Fatalf("journal holds %d entries, want 5", n)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	before := countStore(t, ctx, st, ws.SID)
	stale, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	stalePath := filepath.Join(dir, "stale-copy.jsonl")
	if err := os.WriteFile(stalePath, stale, 0o600); err != nil {
		t.Fatal(err)
	}

	cmd := journalCommand{getenv: func(k string) string {
		if k == "DATABASE_URL" {
			return url
		}
		return ""
	}}
	run := func(args ...string) (int, string) {
		t.Helper()
		var out, errs bytes.Buffer
		code := cmd.run(ctx, args, &out, &errs)
		return code, out.String() + errs.String()
	}

	// show lists what is pending, without touching the file.
	code, out := run("show", path)
	if code != 0 || !strings.Contains(out, "5 entries not replayed (call 2, accept 1, end-task 1, end-call 1)") ||
		!strings.Contains(out, "call=CAjournal1") || !strings.Contains(out, "worker="+owner.SID) {
		t.Fatalf("journal show: %d\n%s", code, out)
	}
	// A journal its instance still holds is not replayed behind its back.
	held, err := degraded.OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if code, out := run("replay", path); code != 1 || !strings.Contains(out, "in use") {
		t.Fatalf("replay of a held journal: %d\n%s", code, out)
	}
	held.Close()

	code, out = run("replay", path)
	if code != 0 || !strings.Contains(out, "5 entries done (0 of them dropped, 0 import conflicts), 0 left") {
		t.Fatalf("journal replay: %d\n%s", code, out)
	}
	want := map[string]string{"CAjournal1": didrouter.TaskCompleted, "CAjournal2": didrouter.TaskCanceled}
	for call, status := range want {
		task, err := st.TaskByCallSID(ctx, ws.SID, call)
		if err != nil || task.AssignmentStatus != status {
			t.Fatalf("%s: %q %v, want %s", call, task.AssignmentStatus, err, status)
		}
	}
	if r, err := st.GetReservation(ctx, ws.SID, first.Reservation.SID); err != nil || r.Status != didrouter.ReservationCompleted {
		t.Fatalf("first call's reservation: %q %v, want completed", r.Status, err)
	}
	if w, err := st.GetWorker(ctx, ws.SID, owner.SID); err != nil || w.Busy != 0 {
		t.Fatalf("owner busy %d (%v) after the replay, want 0", w.Busy, err)
	}
	after := countStore(t, ctx, st, ws.SID)
	if after.tasks != before.tasks+2 || after.reservations != before.reservations+1 || after.events <= before.events {
		t.Fatalf("replay wrote %+v over %+v, want 2 tasks and 1 reservation more", after, before)
	}
	if b, _ := os.ReadFile(path); len(b) != 0 {
		t.Fatalf("journal after the replay: %d bytes, want empty", len(b))
	}

	// Again: nothing left, nothing written.
	if code, out := run("replay", path); code != 0 || !strings.Contains(out, "0 entries done") {
		t.Fatalf("second replay: %d\n%s", code, out)
	}
	// The copy taken before the replay: every entry applies as a no-op.
	if code, out := run("replay", stalePath); code != 0 || !strings.Contains(out, "0 left") {
		t.Fatalf("replay of the stale copy: %d\n%s", code, out)
	}
	if again := countStore(t, ctx, st, ws.SID); again != after {
		t.Fatalf("replaying again changed the store: %+v, was %+v", again, after)
	}
	for call, status := range want {
		if task, err := st.TaskByCallSID(ctx, ws.SID, call); err != nil || task.AssignmentStatus != status {
			t.Fatalf("%s after replaying again: %q %v, want %s", call, task.AssignmentStatus, err, status)
		}
	}
	if code, out := run("show", path); code != 0 || !strings.Contains(out, "0 entries not replayed") {
		t.Fatalf("show after the replay: %d\n%s", code, out)
	}
}

func TestJournalCommandUsage(t *testing.T) {
	cmd := journalCommand{getenv: func(string) string { return "" }}
	var out, errs bytes.Buffer
	if code := cmd.run(context.Background(), nil, &out, &errs); code != 2 || !strings.Contains(errs.String(), "usage: didrouter journal") {
		t.Fatalf("no subcommand: %d %q", code, errs.String())
	}
	errs.Reset()
	if code := cmd.run(context.Background(), []string{"replay", "x.jsonl"}, &out, &errs); code != 2 || !strings.Contains(errs.String(), "DATABASE_URL") {
		t.Fatalf("replay without a database: %d %q", code, errs.String())
	}
	errs.Reset()
	if code := cmd.run(context.Background(), []string{"show"}, &out, &errs); code != 2 || !strings.Contains(errs.String(), "one journal FILE") {
		t.Fatalf("show without a file: %d %q", code, errs.String())
	}
}
