package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
)

// deferredWrites: events, timers and notifications may be sent later than
// the call that writes them (with the next statement, or at commit), but a
// transaction still sees its own writes in order, and a write that fails
// fails the transaction and leaves nothing behind.
func (c *contract) deferredWrites(t *testing.T, f *fixture) {
	ev := didrouter.Event{SID: didrouter.NewSID(didrouter.PrefixEvent), WorkspaceSID: f.ws.SID, EventType: "task.created",
		ResourceType: "task", ResourceSID: "WT1", TaskSID: "WT1", Data: "{}", Date: f.now}
	step := f.timer(didrouter.TimerStep, "WT1", "", "", f.at(10*time.Second))
	f.mustTx(func(tx didrouter.Tx) error {
		if err := tx.InsertEvent(f.ctx, ev); err != nil {
			return err
		}
		got, err := tx.ListEvents(f.ctx, f.ws.SID, didrouter.EventFilter{TaskSID: "WT1"})
		noErr(t, err)
		equal(t, "events seen inside the transaction", len(got), 1)
		if err := tx.SetTimer(f.ctx, step); err != nil {
			return err
		}
		next, err := tx.NextTimer(f.ctx)
		noErr(t, err)
		equal(t, "next timer inside the transaction", next, utc(step.FireAt))
		if err := tx.ClearTimers(f.ctx, f.ws.SID, "WT1"); err != nil {
			return err
		}
		// A write, then a commit with only deferred writes pending.
		return tx.SetTimer(f.ctx, f.timer(didrouter.TimerTask, "WT1", "", "", f.at(30*time.Second)))
	})
	got := f.claimTimers(f.at(time.Hour), 0)
	equal(t, "timers after commit", len(got), 1)
	equal(t, "the timer left", got[0].Kind, didrouter.TimerTask)

	// An event of an unknown workspace fails at the latest on commit; the
	// worker written before it in the same transaction is rolled back.
	w := f.newWorker("rolled-back", "")
	err := f.tx(func(tx didrouter.Tx) error {
		if err := tx.InsertWorker(f.ctx, w); err != nil {
			return err
		}
		return tx.InsertEvent(f.ctx, didrouter.Event{SID: didrouter.NewSID(didrouter.PrefixEvent), WorkspaceSID: "WSunknown",
			EventType: "task.created", ResourceType: "task", ResourceSID: "WT2", Data: "{}", Date: f.now})
	})
	wantCode(t, err, didrouter.ENOTFOUND, "WSunknown")
	_, err = f.s.GetWorker(f.ctx, f.ws.SID, w.SID)
	wantCode(t, err, didrouter.ENOTFOUND, w.SID)
}

// eventsTogether: the events of one transaction may go to the database in
// one statement; they still come back whole and in order, before and after
// commit, and one that cannot be written fails the transaction with an
// error that names it and writes none of the others.
func (c *contract) eventsTogether(t *testing.T, f *fixture) {
	var evs []didrouter.Event
	for i, typ := range []string{"task.created", "reservation.created", "task.updated", "reservation.accepted"} {
		evs = append(evs, didrouter.Event{SID: didrouter.NewSID(didrouter.PrefixEvent), WorkspaceSID: f.ws.SID,
			EventType: typ, ResourceType: "task", ResourceSID: "WTtogether", Description: typ, TaskSID: "WTtogether",
			WorkerSID: "WKtogether", ReservationSID: "WRtogether", Data: fmt.Sprintf(`{"i":%d}`, i),
			Date: f.now.Add(time.Duration(i) * time.Microsecond)})
	}
	filter := didrouter.EventFilter{TaskSID: "WTtogether"}
	f.mustTx(func(tx didrouter.Tx) error {
		for i, ev := range evs {
			if err := tx.InsertEvent(f.ctx, ev); err != nil {
				return err
			}
			switch i {
			case 1: // a deferred write of another table in between
				if err := tx.SetTimer(f.ctx, f.timer(didrouter.TimerTask, "WTtogether", "", "", f.at(time.Minute))); err != nil {
					return err
				}
			case 2: // and a statement of another table
				if _, err := tx.GetWorkspace(f.ctx, f.ws.SID); err != nil {
					return err
				}
			}
		}
		got, err := tx.ListEvents(f.ctx, f.ws.SID, filter)
		noErr(t, err)
		equal(t, "events inside the transaction", len(got), len(evs))
		return nil
	})
	got, err := f.s.ListEvents(f.ctx, f.ws.SID, filter)
	noErr(t, err)
	equal(t, "events after commit", len(got), len(evs))
	for i := range evs {
		want := evs[i]
		want.Date = utc(want.Date)
		got[i].Date = utc(got[i].Date)
		equal(t, "event "+want.EventType, got[i], want)
	}

	// A duplicate among several events: nothing of the transaction stays.
	dup := evs[2]
	fresh := didrouter.Event{SID: didrouter.NewSID(didrouter.PrefixEvent), WorkspaceSID: f.ws.SID, EventType: "task.canceled",
		ResourceType: "task", ResourceSID: "WTother", TaskSID: "WTother", Data: "{}", Date: f.now}
	err = f.tx(func(tx didrouter.Tx) error {
		if err := tx.InsertEvent(f.ctx, fresh); err != nil {
			return err
		}
		return tx.InsertEvent(f.ctx, dup)
	})
	wantCode(t, err, didrouter.ECONFLICT, fresh.SID, "already exists")
	left, err := f.s.ListEvents(f.ctx, f.ws.SID, didrouter.EventFilter{TaskSID: "WTother"})
	noErr(t, err)
	equal(t, "events of the failed transaction", len(left), 0)
}

// timersTogether: the timers one transaction sets may go in one statement;
// setting a timer twice still leaves the second, and clearing a task's
// timers still clears only those set before.
func (c *contract) timersTogether(t *testing.T, f *fixture) {
	step2 := f.timer(didrouter.TimerStep, "WTtimers", "", "", f.at(20*time.Second))
	step3 := f.timer(didrouter.TimerStep, "WTtimers", "", "", f.at(30*time.Second))
	task := f.timer(didrouter.TimerTask, "WTtimers", "", "", f.at(40*time.Second))
	res := f.timer(didrouter.TimerReservation, "WTtimers", "WRtimers", "WKtimers", f.at(50*time.Second))
	f.mustTx(func(tx didrouter.Tx) error {
		for _, tm := range []didrouter.Timer{f.timer(didrouter.TimerStep, "WTtimers", "", "", f.at(10*time.Second)), task, step2, res} {
			if err := tx.SetTimer(f.ctx, tm); err != nil {
				return err
			}
		}
		if _, err := tx.GetWorkspace(f.ctx, f.ws.SID); err != nil { // a statement of another table
			return err
		}
		if err := tx.ClearTimers(f.ctx, f.ws.SID, "WTtimers", didrouter.TimerStep, didrouter.TimerTask); err != nil {
			return err
		}
		return tx.SetTimer(f.ctx, step3)
	})
	got := f.claimTimers(f.at(time.Hour), 0)
	equal(t, "timers after commit", len(got), 2)
	equal(t, "the step timer set after the clear", got[0], withUTC(step3))
	equal(t, "the reservation timer", got[1], withUTC(res))

	// A timer of an unknown workspace fails the transaction, naming it.
	err := f.tx(func(tx didrouter.Tx) error {
		if err := tx.SetTimer(f.ctx, task); err != nil {
			return err
		}
		lost := f.timer(didrouter.TimerTask, "WTlost", "", "", f.at(time.Minute))
		lost.WorkspaceSID = "WSunknown"
		return tx.SetTimer(f.ctx, lost)
	})
	wantCode(t, err, didrouter.ENOTFOUND, "WSunknown")
	equal(t, "timers after the failed transaction", len(f.claimTimers(f.at(time.Hour), 0)), 0)
}

func withUTC(tm didrouter.Timer) didrouter.Timer {
	tm.FireAt = utc(tm.FireAt)
	return tm
}
