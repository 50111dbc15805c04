package storetest

import (
	"testing"
	"time"

	"github.com/didrouter/didrouter"
)

func (f *fixture) newReservation(taskSID, workerSID string, i int) didrouter.Reservation {
	return didrouter.Reservation{SID: didrouter.NewSID(didrouter.PrefixReservation), WorkspaceSID: f.ws.SID, TaskSID: taskSID,
		WorkerSID: workerSID, Status: didrouter.ReservationPending, Timeout: 60,
		DateCreated: f.at(time.Duration(i) * time.Second), DateUpdated: f.at(time.Duration(i) * time.Second)}
}

func normReservation(r didrouter.Reservation) didrouter.Reservation {
	r.DateCreated, r.DateUpdated = utc(r.DateCreated), utc(r.DateUpdated)
	return r
}

func (c *contract) reservations(t *testing.T, f *fixture) {
	task := f.task("CA700")
	alice, bob := f.worker("alice", ""), f.worker("bob", "")
	insert := func(r didrouter.Reservation) error {
		return f.tx(func(tx didrouter.Tx) error { return tx.InsertReservation(f.ctx, r) })
	}
	update := func(r didrouter.Reservation) error {
		return f.tx(func(tx didrouter.Tx) error { return tx.UpdateReservation(f.ctx, r) })
	}
	r1 := f.newReservation(task.SID, alice.SID, 0)
	noErr(t, insert(r1))
	got, err := f.s.GetReservation(f.ctx, f.ws.SID, r1.SID)
	noErr(t, err)
	equal(t, "reservation", got, normReservation(r1))

	// One pending-or-accepted reservation per task.
	r2 := f.newReservation(task.SID, bob.SID, 1)
	wantCode(t, insert(r2), didrouter.ECONFLICT, task.SID)
	r1.Status, r1.DateUpdated = didrouter.ReservationAccepted, f.at(time.Minute)
	noErr(t, update(r1))
	wantCode(t, insert(r2), didrouter.ECONFLICT, task.SID)
	r1.Status = didrouter.ReservationCompleted
	noErr(t, update(r1))
	noErr(t, insert(r2))
	got, err = f.s.GetReservation(f.ctx, f.ws.SID, r1.SID)
	noErr(t, err)
	equal(t, "updated reservation", got, normReservation(r1))
	// Reviving an old reservation while another is pending conflicts too.
	r1.Status = didrouter.ReservationPending
	wantCode(t, update(r1), didrouter.ECONFLICT, task.SID)

	other := f.task("CA701")
	r3 := f.newReservation(other.SID, alice.SID, 2)
	r3.Status = didrouter.ReservationRejected
	noErr(t, insert(r3))
	r1.Status = didrouter.ReservationCompleted
	for _, tc := range []struct {
		name string
		f    didrouter.ReservationFilter
		want []didrouter.Reservation
	}{
		{"all", didrouter.ReservationFilter{}, []didrouter.Reservation{r1, r2, r3}},
		{"task", didrouter.ReservationFilter{TaskSID: task.SID}, []didrouter.Reservation{r1, r2}},
		{"worker", didrouter.ReservationFilter{WorkerSID: alice.SID}, []didrouter.Reservation{r1, r3}},
		{"status", didrouter.ReservationFilter{Status: didrouter.ReservationPending}, []didrouter.Reservation{r2}},
		{"combined", didrouter.ReservationFilter{WorkerSID: bob.SID, Status: didrouter.ReservationRejected}, nil},
		{"worker newest first", didrouter.ReservationFilter{WorkerSID: alice.SID, Newest: true}, []didrouter.Reservation{r3, r1}},
		{"newest page", didrouter.ReservationFilter{Newest: true, Page: didrouter.Page{Size: 1, After: r2.SID}}, []didrouter.Reservation{r1}},
	} {
		got, err := f.s.ListReservations(f.ctx, f.ws.SID, tc.f)
		noErr(t, err)
		var want []didrouter.Reservation
		for _, r := range tc.want {
			want = append(want, normReservation(r))
		}
		equalList(t, tc.name, got, want)
	}

	// TaskReservations reads a task's reservations in some statuses, oldest first.
	for _, tc := range []struct {
		name     string
		task     string
		statuses []string
		want     []didrouter.Reservation
	}{
		{"every status", task.SID, nil, []didrouter.Reservation{r1, r2}},
		{"one status", task.SID, []string{didrouter.ReservationPending}, []didrouter.Reservation{r2}},
		{"statuses", task.SID, []string{didrouter.ReservationCompleted, didrouter.ReservationPending}, []didrouter.Reservation{r1, r2}},
		{"other task", other.SID, []string{didrouter.ReservationPending}, nil},
	} {
		got := txValue(f, func(tx didrouter.Tx) ([]didrouter.Reservation, error) {
			return tx.TaskReservations(f.ctx, f.ws.SID, tc.task, tc.statuses...)
		})
		var want []didrouter.Reservation
		for _, r := range tc.want {
			want = append(want, normReservation(r))
		}
		equalList(t, "task reservations, "+tc.name, got, want)
	}
	// It locks what it returns: of transactions that each end the task's
	// pending reservation, exactly one finds it pending.
	const n = 8
	ended := make([]bool, n)
	errs := concurrently(c.instances(t, f), n, func(i int, s didrouter.Store) error {
		return s.Tx(f.ctx, func(tx didrouter.Tx) error {
			ended[i] = false
			list, err := tx.TaskReservations(f.ctx, f.ws.SID, task.SID, didrouter.ReservationPending)
			if err != nil || len(list) == 0 {
				return err
			}
			r := list[0]
			r.Status = didrouter.ReservationCanceled
			ended[i] = true
			return tx.UpdateReservation(f.ctx, r)
		})
	})
	wins := winners(t, errs, ended)
	if wins != 1 {
		t.Errorf("%d transactions ended the one pending reservation, want 1", wins)
	}

	// LockReservation reads a reservation with its task, and locks both:
	// of transactions that each end a pending reservation, one finds it pending.
	r4 := f.newReservation(other.SID, bob.SID, 4)
	noErr(t, insert(r4))
	f.mustTx(func(tx didrouter.Tx) error {
		gotTask, gotRes, err := tx.LockReservation(f.ctx, f.ws.SID, r4.SID)
		if err != nil {
			return err
		}
		wantTask, err := tx.GetTask(f.ctx, f.ws.SID, other.SID)
		if err != nil {
			return err
		}
		equal(t, "locked reservation's task", gotTask, wantTask)
		equal(t, "locked reservation", gotRes, normReservation(r4))
		_, _, err = tx.LockReservation(f.ctx, "WSother", r4.SID)
		wantCode(t, err, didrouter.ENOTFOUND, r4.SID)
		_, _, err = tx.LockReservation(f.ctx, f.ws.SID, "WRmissing")
		wantCode(t, err, didrouter.ENOTFOUND, "WRmissing")
		return nil
	})
	clear(ended)
	errs = concurrently(c.instances(t, f), n, func(i int, s didrouter.Store) error {
		return s.Tx(f.ctx, func(tx didrouter.Tx) error {
			ended[i] = false
			_, r, err := tx.LockReservation(f.ctx, f.ws.SID, r4.SID)
			if err != nil || r.Status != didrouter.ReservationPending {
				return err
			}
			r.Status = didrouter.ReservationCanceled
			ended[i] = true
			return tx.UpdateReservation(f.ctx, r)
		})
	})
	wins = winners(t, errs, ended)
	if wins != 1 {
		t.Errorf("%d transactions ended pending reservation %s, want 1", wins, r4.SID)
	}

	_, err = f.s.GetReservation(f.ctx, "WSother", r1.SID)
	wantCode(t, err, didrouter.ENOTFOUND, r1.SID)
	missing := f.newReservation(task.SID, alice.SID, 3)
	wantCode(t, update(missing), didrouter.ENOTFOUND, missing.SID)
	wantCode(t, insert(f.newReservation("WTmissing", alice.SID, 3)), didrouter.ENOTFOUND, "WTmissing")
	wantCode(t, insert(r3), didrouter.ECONFLICT, r3.SID)
}

func (c *contract) events(t *testing.T, f *fixture) {
	mk := func(i int, typ, task, worker, res string) didrouter.Event {
		e := didrouter.Event{SID: didrouter.NewSID(didrouter.PrefixEvent), WorkspaceSID: f.ws.SID, EventType: typ,
			ResourceType: "task", ResourceSID: task, Description: typ + " happened", TaskSID: task, WorkerSID: worker,
			ReservationSID: res, Data: `{"i":` + string(rune('0'+i)) + `}`, Date: f.at(time.Duration(i) * time.Second)}
		if worker != "" && task == "" {
			e.ResourceType, e.ResourceSID = "worker", worker
		}
		f.mustTx(func(tx didrouter.Tx) error { return tx.InsertEvent(f.ctx, e) })
		e.Date = utc(e.Date)
		return e
	}
	e0 := mk(0, didrouter.EventTaskCreated, "WT1", "", "")
	e1 := mk(1, didrouter.EventReservationCreated, "WT1", "WK1", "WR1")
	e2 := mk(2, didrouter.EventWorkerActivityUpdate, "", "WK1", "")
	e3 := mk(3, didrouter.EventReservationCreated, "WT2", "WK2", "WR2")
	e4 := mk(4, didrouter.EventTaskCanceled, "WT2", "", "")
	for _, tc := range []struct {
		name string
		f    didrouter.EventFilter
		want []didrouter.Event
	}{
		{"all", didrouter.EventFilter{}, []didrouter.Event{e0, e1, e2, e3, e4}},
		{"type", didrouter.EventFilter{EventType: didrouter.EventReservationCreated}, []didrouter.Event{e1, e3}},
		{"resource", didrouter.EventFilter{ResourceSID: "WK1"}, []didrouter.Event{e2}},
		{"resource task", didrouter.EventFilter{ResourceSID: "WT2"}, []didrouter.Event{e3, e4}},
		{"resource unknown kind", didrouter.EventFilter{ResourceSID: "WAnone"}, nil},
		{"task", didrouter.EventFilter{TaskSID: "WT2"}, []didrouter.Event{e3, e4}},
		{"worker", didrouter.EventFilter{WorkerSID: "WK1"}, []didrouter.Event{e1, e2}},
		{"reservation", didrouter.EventFilter{ReservationSID: "WR2"}, []didrouter.Event{e3}},
		{"start date (inclusive)", didrouter.EventFilter{StartDate: e3.Date}, []didrouter.Event{e3, e4}},
		{"end date (inclusive)", didrouter.EventFilter{EndDate: e1.Date}, []didrouter.Event{e0, e1}},
		{"date range", didrouter.EventFilter{StartDate: f.at(500 * time.Millisecond), EndDate: f.at(2500 * time.Millisecond)}, []didrouter.Event{e1, e2}},
		{"combined", didrouter.EventFilter{TaskSID: "WT1", WorkerSID: "WK1", EventType: didrouter.EventReservationCreated}, []didrouter.Event{e1}},
		{"page", didrouter.EventFilter{Page: didrouter.Page{Size: 2, After: e1.SID}}, []didrouter.Event{e2, e3}},
		{"none", didrouter.EventFilter{TaskSID: "WT9"}, nil},
		{"worker's latest", didrouter.EventFilter{WorkerSID: "WK1", Newest: true, Page: didrouter.Page{Size: 1}}, []didrouter.Event{e2}},
		{"newest page", didrouter.EventFilter{Newest: true, Page: didrouter.Page{Size: 2, After: e3.SID}}, []didrouter.Event{e2, e1}},
	} {
		got, err := f.s.ListEvents(f.ctx, f.ws.SID, tc.f)
		noErr(t, err)
		equalList(t, tc.name, got, tc.want)
	}
	other := f.workspace()
	got, err := f.s.ListEvents(f.ctx, other.SID, didrouter.EventFilter{})
	noErr(t, err)
	if len(got) != 0 {
		t.Errorf("other workspace lists %d events", len(got))
	}
}
