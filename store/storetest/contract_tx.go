package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
)

// pagination: pages follow the date created, then the sid, so rows with
// the same date are split by sid.
func (c *contract) pagination(t *testing.T, f *fixture) {
	var want []didrouter.Worker
	for i := range 7 {
		w := f.newWorker("w", "")
		w.DateCreated = f.at(time.Duration(i/2) * time.Second) // pairs share a date
		want = append(want, f.insertWorker(w))
	}
	all, err := f.s.ListWorkers(f.ctx, f.ws.SID, didrouter.WorkerFilter{})
	noErr(t, err)
	for i := 1; i < len(all); i++ {
		a, b := all[i-1], all[i]
		if a.DateCreated.After(b.DateCreated) || (a.DateCreated.Equal(b.DateCreated) && a.SID >= b.SID) {
			t.Errorf("workers %d and %d out of order: %v %s, %v %s", i-1, i, a.DateCreated, a.SID, b.DateCreated, b.SID)
		}
	}
	if len(all) != len(want) {
		t.Fatalf("listed %d workers, want %d", len(all), len(want))
	}
	var paged []didrouter.Worker
	var sizes []int
	after := ""
	for range 10 {
		page, err := f.s.ListWorkers(f.ctx, f.ws.SID, didrouter.WorkerFilter{Page: didrouter.Page{Size: 3, After: after}})
		noErr(t, err)
		sizes = append(sizes, len(page))
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = page[len(page)-1].SID
	}
	equal(t, "page sizes", sizes, []int{3, 3, 1, 0})
	equal(t, "pages joined", paged, all)

	// Newest first, paged backwards.
	var tasks []didrouter.Task
	for i := range 5 {
		task := f.newTask("")
		task.DateCreated = f.at(time.Duration(i) * time.Second)
		tasks = append(tasks, f.insertTask(task))
	}
	page, err := f.s.ListTasks(f.ctx, f.ws.SID, didrouter.TaskFilter{Newest: true, Page: didrouter.Page{Size: 2, After: tasks[3].SID}})
	noErr(t, err)
	equal(t, "newest page", page, []didrouter.Task{tasks[2], tasks[1]})

	_, err = f.s.ListWorkers(f.ctx, f.ws.SID, didrouter.WorkerFilter{Page: didrouter.Page{After: "WKunknown"}})
	wantCode(t, err, didrouter.EINVALID, "WKunknown")

	// Size 0 means 50; sizes are capped at 1000.
	for i := range 55 {
		w := f.newWorker("bulk", "")
		w.DateCreated = f.at(time.Hour + time.Duration(i)*time.Second)
		f.insertWorker(w)
	}
	page0, err := f.s.ListWorkers(f.ctx, f.ws.SID, didrouter.WorkerFilter{})
	noErr(t, err)
	if len(page0) != 50 {
		t.Errorf("default page has %d workers, want 50", len(page0))
	}
	big, err := f.s.ListWorkers(f.ctx, f.ws.SID, didrouter.WorkerFilter{Page: didrouter.Page{Size: 5000}})
	noErr(t, err)
	if len(big) != 62 {
		t.Errorf("page of 5000 has %d workers, want all 62", len(big))
	}
}

func (c *contract) txRollback(t *testing.T, f *fixture) {
	w := f.newWorker("alice", "+15125550100")
	err := f.tx(func(tx didrouter.Tx) error {
		if err := tx.InsertWorker(f.ctx, w); err != nil {
			return err
		}
		if _, err := tx.GetWorker(f.ctx, f.ws.SID, w.SID); err != nil {
			t.Errorf("worker not visible inside its transaction: %v", err)
		}
		return errSentinel
	})
	if !errors.Is(err, errSentinel) {
		t.Fatalf("Tx returned %v, want the function's error", err)
	}
	_, err = f.s.GetWorker(f.ctx, f.ws.SID, w.SID)
	wantCode(t, err, didrouter.ENOTFOUND, w.SID)
	// The phone number is free: nothing of the rolled-back insert remains.
	f.insertWorker(w)

	// An engine error passes through Tx unchanged.
	err = f.tx(func(tx didrouter.Tx) error { return didrouter.Errorf(didrouter.EUNAVAILABLE, "worker busy") })
	wantCode(t, err, didrouter.EUNAVAILABLE, "worker busy")
	// A canceled context stops the transaction.
	ctx, cancel := context.WithCancel(f.ctx)
	cancel()
	if err := f.s.Tx(ctx, func(tx didrouter.Tx) error { return nil }); err == nil {
		t.Error("Tx with a canceled context succeeded")
	}
}

// receive waits for the next change on ch.
func receive(t *testing.T, ch <-chan didrouter.Change) didrouter.Change {
	t.Helper()
	select {
	case c, ok := <-ch:
		if !ok {
			t.Fatal("change feed closed")
		}
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no change delivered within 10s")
	}
	return didrouter.Change{}
}

// expectChanges reads changes until want arrived, failing on any change in
// reject first.
func expectChanges(t *testing.T, ch <-chan didrouter.Change, want didrouter.Change, reject ...didrouter.Change) {
	t.Helper()
	for {
		c := receive(t, ch)
		for _, r := range reject {
			if c == r {
				t.Fatalf("received %+v, which was never committed", c)
			}
		}
		if c == want {
			return
		}
	}
}

func (c *contract) subscribe(t *testing.T, f *fixture) {
	c.checkFeed(t, f, f.s)
}

func (c *contract) subscribeAcrossInstances(t *testing.T, f *fixture) {
	if c.opts.peer == nil {
		t.Skip("the store is not shared between instances")
	}
	c.checkFeed(t, f, c.opts.peer(t, f.s))
}

// checkFeed subscribes on listener and writes through f.s.
func (c *contract) checkFeed(t *testing.T, f *fixture, listener didrouter.Store) {
	ctx, cancel := context.WithCancel(f.ctx)
	ch, err := listener.Subscribe(ctx)
	noErr(t, err)

	// A rolled-back change is never delivered; the committed one after it is.
	lost := didrouter.Change{Kind: didrouter.ChangeTask, WorkspaceSID: f.ws.SID, SID: "WTrolledback"}
	err = f.tx(func(tx didrouter.Tx) error {
		if err := tx.Notify(f.ctx, lost); err != nil {
			return err
		}
		if err := tx.InsertWorker(f.ctx, f.newWorker("ghost", "")); err != nil {
			return err
		}
		return errSentinel
	})
	if !errors.Is(err, errSentinel) {
		t.Fatalf("Tx returned %v", err)
	}
	w := f.worker("alice", "")
	expectChanges(t, ch, didrouter.Change{Kind: didrouter.ChangeWorker, WorkspaceSID: f.ws.SID, SID: w.SID}, lost)

	// Notify delivers the engine's own changes; writes announce workers,
	// queues, workflows and activities.
	q := didrouter.TaskQueue{SID: didrouter.NewSID(didrouter.PrefixTaskQueue), WorkspaceSID: f.ws.SID, FriendlyName: "q",
		TargetWorkers: "1==1", TaskOrder: didrouter.TaskOrderFIFO, DateCreated: f.now, DateUpdated: f.now}
	timerChange := didrouter.Change{Kind: didrouter.ChangeTimer, WorkspaceSID: f.ws.SID, SID: "WT1"}
	f.mustTx(func(tx didrouter.Tx) error {
		if err := tx.InsertTaskQueue(f.ctx, q); err != nil {
			return err
		}
		// Announcing one change twice in a transaction is allowed.
		if err := tx.Notify(f.ctx, timerChange); err != nil {
			return err
		}
		return tx.Notify(f.ctx, timerChange)
	})
	got := map[didrouter.Change]int{}
	for range 2 {
		got[receive(t, ch)]++
	}
	want := map[didrouter.Change]int{
		{Kind: didrouter.ChangeTaskQueue, WorkspaceSID: f.ws.SID, SID: q.SID}: 1,
		timerChange: 1,
	}
	equal(t, "changes of one transaction", got, want)

	// Many changes of one transaction (more than one notification's worth
	// on Postgres) all arrive, in order.
	var many []didrouter.Change
	f.mustTx(func(tx didrouter.Tx) error {
		for i := range 300 {
			c := didrouter.Change{Kind: didrouter.ChangeTask, WorkspaceSID: f.ws.SID, SID: fmt.Sprintf("WT%032d", i)}
			many = append(many, c)
			if err := tx.Notify(f.ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	var gotMany []didrouter.Change
	for range many {
		gotMany = append(gotMany, receive(t, ch))
	}
	equal(t, "300 changes of one transaction", gotMany, many)

	a := f.activity("Available", true)
	expectChanges(t, ch, didrouter.Change{Kind: didrouter.ChangeActivity, WorkspaceSID: f.ws.SID, SID: a.SID})
	f.mustTx(func(tx didrouter.Tx) error {
		_, _, err := tx.ClaimWorker(f.ctx, f.ws.SID, w.SID, voiceChannel, f.now)
		return err
	})
	expectChanges(t, ch, didrouter.Change{Kind: didrouter.ChangeWorker, WorkspaceSID: f.ws.SID, SID: w.SID})

	// A reservation written or updated names its worker (the agent
	// desktop follows its own calls through the feed).
	task := f.task("CA801")
	r := f.newReservation(task.SID, w.SID, 0)
	f.mustTx(func(tx didrouter.Tx) error { return tx.InsertReservation(f.ctx, r) })
	expectChanges(t, ch, didrouter.Change{Kind: didrouter.ChangeReservation, WorkspaceSID: f.ws.SID, SID: w.SID})
	r.Status = didrouter.ReservationAccepted
	f.mustTx(func(tx didrouter.Tx) error { return tx.UpdateReservation(f.ctx, r) })
	expectChanges(t, ch, didrouter.Change{Kind: didrouter.ChangeReservation, WorkspaceSID: f.ws.SID, SID: w.SID})

	// The feed closes when its context ends.
	cancel()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("change feed still open 10s after its context ended")
		}
	}
}
