package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
)

func (c *contract) tasks(t *testing.T, f *fixture) {
	task := f.newTask("CA100")
	task.RejectedWorkers = []string{"WKa", "WKb"}
	task.FilterIndex, task.TargetIndex, task.Priority, task.Reason = -1, 2, 5, "why"
	var created bool
	var stored didrouter.Task
	f.mustTx(func(tx didrouter.Tx) error {
		var err error
		stored, created, err = tx.InsertTask(f.ctx, task)
		return err
	})
	if !created {
		t.Error("InsertTask of a new call reported created=false")
	}
	want := normTask(task)
	equal(t, "inserted task", stored, want)
	got, err := f.s.GetTask(f.ctx, f.ws.SID, task.SID)
	noErr(t, err)
	equal(t, "task", got, want)
	got, err = f.s.TaskByCallSID(f.ctx, f.ws.SID, "CA100")
	noErr(t, err)
	equal(t, "task by call", got, want)
	_, err = f.s.TaskByCallSID(f.ctx, f.ws.SID, "CAmissing")
	wantCode(t, err, didrouter.ENOTFOUND, "CAmissing")
	_, err = f.s.GetTask(f.ctx, "WSother", task.SID)
	wantCode(t, err, didrouter.ENOTFOUND, task.SID)

	// Version 0 is stored as 1; a task without a call sid is always new.
	plain := f.newTask("")
	plain.Version = 0
	plain = f.insertTask(plain)
	if plain.Version != 1 {
		t.Errorf("version of a new task = %d, want 1", plain.Version)
	}
	second := f.newTask("")
	f.mustTx(func(tx didrouter.Tx) error {
		_, created, err := tx.InsertTask(f.ctx, second)
		if !created {
			t.Error("second task without call sid not created")
		}
		return err
	})
	// Reads inside a transaction see its own writes.
	f.mustTx(func(tx didrouter.Tx) error {
		fresh := f.newTask("CA101")
		if _, _, err := tx.InsertTask(f.ctx, fresh); err != nil {
			return err
		}
		_, err := tx.GetTask(f.ctx, f.ws.SID, fresh.SID)
		return err
	})
}

func (c *contract) insertTaskIdempotent(t *testing.T, f *fixture) {
	first := f.task("CA200")
	again := f.newTask("CA200")
	again.Attributes = `{"retry":true}`
	var got didrouter.Task
	var created bool
	f.mustTx(func(tx didrouter.Tx) error {
		var err error
		got, created, err = tx.InsertTask(f.ctx, again)
		return err
	})
	if created {
		t.Error("InsertTask of a known call reported created=true")
	}
	equal(t, "existing task", got, first)
	_, err := f.s.GetTask(f.ctx, f.ws.SID, again.SID)
	wantCode(t, err, didrouter.ENOTFOUND, again.SID)

	// The same call sid in another workspace is another task.
	other := f.workspace()
	elsewhere := f.newTask("CA200")
	elsewhere.WorkspaceSID = other.SID
	f.mustTx(func(tx didrouter.Tx) error {
		_, created, err := tx.InsertTask(f.ctx, elsewhere)
		if !created {
			t.Error("call sid of another workspace blocked the insert")
		}
		return err
	})
	dup := f.newTask("")
	dup.SID = first.SID
	err = f.tx(func(tx didrouter.Tx) error { _, _, err := tx.InsertTask(f.ctx, dup); return err })
	wantCode(t, err, didrouter.ECONFLICT, first.SID)
}

// insertTaskConcurrently: a retried webhook races the first delivery; one
// task is created and every caller gets it.
func (c *contract) insertTaskConcurrently(t *testing.T, f *fixture) {
	const n = 10
	got := make([]didrouter.Task, n)
	created := make([]bool, n)
	errs := concurrently(c.instances(t, f), n, func(i int, s didrouter.Store) error {
		return s.Tx(f.ctx, func(tx didrouter.Tx) error {
			var err error
			got[i], created[i], err = tx.InsertTask(f.ctx, f.newTask("CA300"))
			return err
		})
	})
	wins := 0
	for i := range n {
		noErr(t, errs[i])
		if created[i] {
			wins++
		}
		if got[i].SID != got[0].SID {
			t.Errorf("caller %d got task %s, caller 0 got %s", i, got[i].SID, got[0].SID)
		}
	}
	if wins != 1 {
		t.Errorf("%d of %d concurrent inserts created the task, want 1", wins, n)
	}
	list, err := f.s.ListTasks(f.ctx, f.ws.SID, didrouter.TaskFilter{})
	noErr(t, err)
	if len(list) != 1 {
		t.Errorf("%d tasks stored, want 1", len(list))
	}
}

func (c *contract) updateTaskVersion(t *testing.T, f *fixture) {
	task := f.task("CA400")
	upd := task
	upd.AssignmentStatus, upd.Priority, upd.Timeout, upd.Reason = didrouter.TaskReserved, 9, 60, "r"
	upd.Attributes, upd.WorkflowSID, upd.TaskChannel = `{"a":2}`, "WWother", "chat"
	upd.FilterIndex, upd.TargetIndex, upd.TaskQueueSID = 1, 3, "WQsales"
	upd.StepEnteredAt, upd.DateUpdated = f.at(time.Minute), f.at(time.Minute)
	upd.RejectedWorkers = []string{"WKz"}
	upd.CallSID, upd.DateCreated = "CAignored", f.at(time.Hour) // not mutable
	stored := txValue(f, func(tx didrouter.Tx) (didrouter.Task, error) { return tx.UpdateTask(f.ctx, upd) })
	want := normTask(upd)
	want.Version = task.Version + 1
	want.CallSID, want.DateCreated = task.CallSID, task.DateCreated
	equal(t, "updated task", stored, want)
	got, err := f.s.GetTask(f.ctx, f.ws.SID, task.SID)
	noErr(t, err)
	equal(t, "stored task", got, want)

	// The old version is stale now.
	err = f.tx(func(tx didrouter.Tx) error { _, err := tx.UpdateTask(f.ctx, upd); return err })
	wantCode(t, err, didrouter.ECONFLICT, task.SID)
	missing := f.newTask("")
	err = f.tx(func(tx didrouter.Tx) error { _, err := tx.UpdateTask(f.ctx, missing); return err })
	wantCode(t, err, didrouter.ENOTFOUND, missing.SID)

	// Clearing the rejected workers works.
	got.RejectedWorkers = nil
	f.mustTx(func(tx didrouter.Tx) error { _, err := tx.UpdateTask(f.ctx, got); return err })
	got, err = f.s.GetTask(f.ctx, f.ws.SID, task.SID)
	noErr(t, err)
	if got.RejectedWorkers != nil {
		t.Errorf("rejected workers = %#v, want nil", got.RejectedWorkers)
	}
}

// txLocksRows: read-modify-write transactions on one task never lose an
// update: GetTask inside Tx locks the row until commit.
func (c *contract) txLocksRows(t *testing.T, f *fixture) {
	task := f.task("CA500")
	const n = 10
	errs := concurrently(c.instances(t, f), n, func(_ int, s didrouter.Store) error {
		return s.Tx(f.ctx, func(tx didrouter.Tx) error {
			cur, err := tx.GetTask(f.ctx, f.ws.SID, task.SID)
			if err != nil {
				return err
			}
			cur.Priority++
			_, err = tx.UpdateTask(f.ctx, cur)
			return err
		})
	})
	for _, err := range errs {
		noErr(t, err)
	}
	got, err := f.s.GetTask(f.ctx, f.ws.SID, task.SID)
	noErr(t, err)
	if got.Priority != n || got.Version != task.Version+n {
		t.Errorf("after %d increments: priority %d, version %d (from %d)", n, got.Priority, got.Version, task.Version)
	}
}

func (c *contract) taskFilters(t *testing.T, f *fixture) {
	mk := func(i int, status, workflow, queue string) didrouter.Task {
		task := f.newTask("")
		task.AssignmentStatus, task.WorkflowSID, task.TaskQueueSID = status, workflow, queue
		task.DateCreated = f.at(time.Duration(i) * time.Second)
		return f.insertTask(task)
	}
	a := mk(0, didrouter.TaskPending, "WW1", "WQ1")
	b := mk(1, didrouter.TaskReserved, "WW1", "WQ2")
	cc := mk(2, didrouter.TaskCompleted, "WW2", "WQ1")
	d := mk(3, didrouter.TaskPending, "WW2", "WQ2")
	for _, tc := range []struct {
		name string
		f    didrouter.TaskFilter
		want []didrouter.Task
	}{
		{"all", didrouter.TaskFilter{}, []didrouter.Task{a, b, cc, d}},
		{"newest first", didrouter.TaskFilter{Newest: true}, []didrouter.Task{d, cc, b, a}},
		{"one status", didrouter.TaskFilter{AssignmentStatus: []string{didrouter.TaskPending}}, []didrouter.Task{a, d}},
		{"statuses", didrouter.TaskFilter{AssignmentStatus: []string{didrouter.TaskReserved, didrouter.TaskCompleted}}, []didrouter.Task{b, cc}},
		{"workflow", didrouter.TaskFilter{WorkflowSID: "WW2"}, []didrouter.Task{cc, d}},
		{"queue", didrouter.TaskFilter{TaskQueueSID: "WQ2"}, []didrouter.Task{b, d}},
		{"combined", didrouter.TaskFilter{WorkflowSID: "WW1", TaskQueueSID: "WQ1", AssignmentStatus: []string{didrouter.TaskPending}}, []didrouter.Task{a}},
		{"none", didrouter.TaskFilter{WorkflowSID: "WW3"}, nil},
	} {
		got, err := f.s.ListTasks(f.ctx, f.ws.SID, tc.f)
		noErr(t, err)
		equalList(t, tc.name, got, tc.want)
	}
}

func (c *contract) waitingTasks(t *testing.T, f *fixture) {
	mk := func(i, priority int, status string) didrouter.Task {
		task := f.newTask("")
		task.Priority, task.AssignmentStatus = priority, status
		task.DateCreated = f.at(time.Duration(i) * time.Second)
		return f.insertTask(task)
	}
	old := mk(0, 0, didrouter.TaskPending)
	urgent := mk(1, 10, didrouter.TaskPending)
	mk(2, 20, didrouter.TaskReserved) // not waiting
	newer := mk(3, 0, didrouter.TaskPending)
	urgentLater := mk(4, 10, didrouter.TaskPending)
	got, err := f.s.WaitingTasks(f.ctx, f.ws.SID, 0)
	noErr(t, err)
	equal(t, "waiting tasks", got, []didrouter.Task{urgent, urgentLater, old, newer})
	got, err = f.s.WaitingTasks(f.ctx, f.ws.SID, 2)
	noErr(t, err)
	equal(t, "first two waiting tasks", got, []didrouter.Task{urgent, urgentLater})
	other := f.workspace()
	got, err = f.s.WaitingTasks(f.ctx, other.SID, 10)
	noErr(t, err)
	if len(got) != 0 {
		t.Errorf("other workspace has %d waiting tasks", len(got))
	}
}

func (c *contract) deleteTask(t *testing.T, f *fixture) {
	task := f.task("CA600")
	w := f.worker("alice", "")
	res := didrouter.Reservation{SID: didrouter.NewSID(didrouter.PrefixReservation), WorkspaceSID: f.ws.SID, TaskSID: task.SID,
		WorkerSID: w.SID, Status: didrouter.ReservationPending, Timeout: 60, DateCreated: f.now, DateUpdated: f.now}
	f.mustTx(func(tx didrouter.Tx) error {
		if err := tx.InsertReservation(f.ctx, res); err != nil {
			return err
		}
		return tx.SetTimer(f.ctx, didrouter.Timer{SID: didrouter.NewSID(didrouter.PrefixTimer), WorkspaceSID: f.ws.SID,
			Kind: didrouter.TimerTask, TaskSID: task.SID, FireAt: f.now})
	})
	f.mustTx(func(tx didrouter.Tx) error { return tx.DeleteTask(f.ctx, f.ws.SID, task.SID) })
	_, err := f.s.GetTask(f.ctx, f.ws.SID, task.SID)
	wantCode(t, err, didrouter.ENOTFOUND, task.SID)
	_, err = f.s.GetReservation(f.ctx, f.ws.SID, res.SID)
	wantCode(t, err, didrouter.ENOTFOUND, res.SID)
	f.mustTx(func(tx didrouter.Tx) error {
		next, err := tx.NextTimer(f.ctx)
		if !next.IsZero() {
			t.Errorf("timer of a deleted task still set for %v", next)
		}
		return err
	})
	// The call sid is free again.
	f.task("CA600")
	err = f.tx(func(tx didrouter.Tx) error { return tx.DeleteTask(f.ctx, f.ws.SID, task.SID) })
	wantCode(t, err, didrouter.ENOTFOUND, task.SID)
}

// configReadsShared: two instances' transactions reading one activity (as
// every availability change does) do not wait for each other.
func (c *contract) configReadsShared(t *testing.T, f *fixture) {
	if c.opts.peer == nil {
		t.Skip("one writer at a time: nothing runs concurrently")
	}
	a := f.activity("Available", true)
	read, release := make(chan error), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- f.s.Tx(f.ctx, func(tx didrouter.Tx) error {
			_, err := tx.GetActivity(f.ctx, f.ws.SID, a.SID)
			read <- err
			<-release
			return nil
		})
	}()
	noErr(t, <-read)
	ctx, cancel := context.WithTimeout(f.ctx, 10*time.Second)
	defer cancel()
	err := c.opts.peer(t, f.s).Tx(ctx, func(tx didrouter.Tx) error {
		_, err := tx.GetActivity(ctx, f.ws.SID, a.SID)
		return err
	})
	close(release)
	noErr(t, <-done)
	if err != nil {
		t.Fatalf("second reader of an activity, while the first transaction is open: %v", err)
	}
}
