package storetest

import (
	"testing"
	"time"

	"github.com/didrouter/didrouter/engine"
)

func (f *fixture) newReservation(taskSID, workerSID string, i int) engine.Reservation {
	return engine.Reservation{SID: engine.NewSID(engine.PrefixReservation), WorkspaceSID: f.ws.SID, TaskSID: taskSID,
		WorkerSID: workerSID, Status: engine.ReservationPending, Timeout: 60,
		DateCreated: f.at(time.Duration(i) * time.Second), DateUpdated: f.at(time.Duration(i) * time.Second)}
}

func normReservation(r engine.Reservation) engine.Reservation {
	r.DateCreated, r.DateUpdated = utc(r.DateCreated), utc(r.DateUpdated)
	return r
}

func (c *contract) reservations(t *testing.T, f *fixture) {
	task := f.task("CA700")
	alice, bob := f.worker("alice", ""), f.worker("bob", "")
	insert := func(r engine.Reservation) error {
		return f.tx(func(tx engine.Tx) error { return tx.InsertReservation(f.ctx, r) })
	}
	update := func(r engine.Reservation) error {
		return f.tx(func(tx engine.Tx) error { return tx.UpdateReservation(f.ctx, r) })
	}
	r1 := f.newReservation(task.SID, alice.SID, 0)
	noErr(t, insert(r1))
	got, err := f.s.GetReservation(f.ctx, f.ws.SID, r1.SID)
	noErr(t, err)
	equal(t, "reservation", got, normReservation(r1))

	// One pending-or-accepted reservation per task.
	r2 := f.newReservation(task.SID, bob.SID, 1)
	wantCode(t, insert(r2), engine.ECONFLICT, task.SID)
	r1.Status, r1.DateUpdated = engine.ReservationAccepted, f.at(time.Minute)
	noErr(t, update(r1))
	wantCode(t, insert(r2), engine.ECONFLICT, task.SID)
	r1.Status = engine.ReservationCompleted
	noErr(t, update(r1))
	noErr(t, insert(r2))
	got, err = f.s.GetReservation(f.ctx, f.ws.SID, r1.SID)
	noErr(t, err)
	equal(t, "updated reservation", got, normReservation(r1))
	// Reviving an old reservation while another is pending conflicts too.
	r1.Status = engine.ReservationPending
	wantCode(t, update(r1), engine.ECONFLICT, task.SID)

	other := f.task("CA701")
	r3 := f.newReservation(other.SID, alice.SID, 2)
	r3.Status = engine.ReservationRejected
	noErr(t, insert(r3))
	r1.Status = engine.ReservationCompleted
	for _, tc := range []struct {
		name string
		f    engine.ReservationFilter
		want []engine.Reservation
	}{
		{"all", engine.ReservationFilter{}, []engine.Reservation{r1, r2, r3}},
		{"task", engine.ReservationFilter{TaskSID: task.SID}, []engine.Reservation{r1, r2}},
		{"worker", engine.ReservationFilter{WorkerSID: alice.SID}, []engine.Reservation{r1, r3}},
		{"status", engine.ReservationFilter{Status: engine.ReservationPending}, []engine.Reservation{r2}},
		{"combined", engine.ReservationFilter{WorkerSID: bob.SID, Status: engine.ReservationRejected}, nil},
		{"worker newest first", engine.ReservationFilter{WorkerSID: alice.SID, Newest: true}, []engine.Reservation{r3, r1}},
		{"newest page", engine.ReservationFilter{Newest: true, Page: engine.Page{Size: 1, After: r2.SID}}, []engine.Reservation{r1}},
	} {
		got, err := f.s.ListReservations(f.ctx, f.ws.SID, tc.f)
		noErr(t, err)
		var want []engine.Reservation
		for _, r := range tc.want {
			want = append(want, normReservation(r))
		}
		if len(got) == 0 {
			got = nil
		}
		equal(t, tc.name, got, want)
	}

	// TaskReservations reads a task's reservations in some statuses, oldest first.
	for _, tc := range []struct {
		name     string
		task     string
		statuses []string
		want     []engine.Reservation
	}{
		{"every status", task.SID, nil, []engine.Reservation{r1, r2}},
		{"one status", task.SID, []string{engine.ReservationPending}, []engine.Reservation{r2}},
		{"statuses", task.SID, []string{engine.ReservationCompleted, engine.ReservationPending}, []engine.Reservation{r1, r2}},
		{"other task", other.SID, []string{engine.ReservationPending}, nil},
	} {
		var got []engine.Reservation
		f.mustTx(func(tx engine.Tx) error {
			var err error
			got, err = tx.TaskReservations(f.ctx, f.ws.SID, tc.task, tc.statuses...)
			return err
		})
		var want []engine.Reservation
		for _, r := range tc.want {
			want = append(want, normReservation(r))
		}
		if len(got) == 0 {
			got = nil
		}
		equal(t, "task reservations, "+tc.name, got, want)
	}
	// It locks what it returns: of transactions that each end the task's
	// pending reservation, exactly one finds it pending.
	const n = 8
	ended := make([]bool, n)
	errs := concurrently(c.instances(t, f), n, func(i int, s engine.Store) error {
		return s.Tx(f.ctx, func(tx engine.Tx) error {
			ended[i] = false
			list, err := tx.TaskReservations(f.ctx, f.ws.SID, task.SID, engine.ReservationPending)
			if err != nil || len(list) == 0 {
				return err
			}
			r := list[0]
			r.Status = engine.ReservationCanceled
			ended[i] = true
			return tx.UpdateReservation(f.ctx, r)
		})
	})
	wins := 0
	for i := range n {
		noErr(t, errs[i])
		if ended[i] {
			wins++
		}
	}
	if wins != 1 {
		t.Errorf("%d transactions ended the one pending reservation, want 1", wins)
	}

	// LockReservation reads a reservation with its task, and locks both:
	// of transactions that each end a pending reservation, one finds it pending.
	r4 := f.newReservation(other.SID, bob.SID, 4)
	noErr(t, insert(r4))
	f.mustTx(func(tx engine.Tx) error {
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
		wantCode(t, err, engine.ENOTFOUND, r4.SID)
		_, _, err = tx.LockReservation(f.ctx, f.ws.SID, "WRmissing")
		wantCode(t, err, engine.ENOTFOUND, "WRmissing")
		return nil
	})
	clear(ended)
	errs = concurrently(c.instances(t, f), n, func(i int, s engine.Store) error {
		return s.Tx(f.ctx, func(tx engine.Tx) error {
			ended[i] = false
			_, r, err := tx.LockReservation(f.ctx, f.ws.SID, r4.SID)
			if err != nil || r.Status != engine.ReservationPending {
				return err
			}
			r.Status = engine.ReservationCanceled
			ended[i] = true
			return tx.UpdateReservation(f.ctx, r)
		})
	})
	wins = 0
	for i := range n {
		noErr(t, errs[i])
		if ended[i] {
			wins++
		}
	}
	if wins != 1 {
		t.Errorf("%d transactions ended pending reservation %s, want 1", wins, r4.SID)
	}

	_, err = f.s.GetReservation(f.ctx, "WSother", r1.SID)
	wantCode(t, err, engine.ENOTFOUND, r1.SID)
	missing := f.newReservation(task.SID, alice.SID, 3)
	wantCode(t, update(missing), engine.ENOTFOUND, missing.SID)
	wantCode(t, insert(f.newReservation("WTmissing", alice.SID, 3)), engine.ENOTFOUND, "WTmissing")
	wantCode(t, insert(r3), engine.ECONFLICT, r3.SID)
}

func (c *contract) events(t *testing.T, f *fixture) {
	mk := func(i int, typ, task, worker, res string) engine.Event {
		e := engine.Event{SID: engine.NewSID(engine.PrefixEvent), WorkspaceSID: f.ws.SID, EventType: typ,
			ResourceType: "task", ResourceSID: task, Description: typ + " happened", TaskSID: task, WorkerSID: worker,
			ReservationSID: res, Data: `{"i":` + string(rune('0'+i)) + `}`, Date: f.at(time.Duration(i) * time.Second)}
		if worker != "" && task == "" {
			e.ResourceType, e.ResourceSID = "worker", worker
		}
		f.mustTx(func(tx engine.Tx) error { return tx.InsertEvent(f.ctx, e) })
		e.Date = utc(e.Date)
		return e
	}
	e0 := mk(0, engine.EventTaskCreated, "WT1", "", "")
	e1 := mk(1, engine.EventReservationCreated, "WT1", "WK1", "WR1")
	e2 := mk(2, engine.EventWorkerActivityUpdate, "", "WK1", "")
	e3 := mk(3, engine.EventReservationCreated, "WT2", "WK2", "WR2")
	e4 := mk(4, engine.EventTaskCanceled, "WT2", "", "")
	for _, tc := range []struct {
		name string
		f    engine.EventFilter
		want []engine.Event
	}{
		{"all", engine.EventFilter{}, []engine.Event{e0, e1, e2, e3, e4}},
		{"type", engine.EventFilter{EventType: engine.EventReservationCreated}, []engine.Event{e1, e3}},
		{"resource", engine.EventFilter{ResourceSID: "WK1"}, []engine.Event{e2}},
		{"resource task", engine.EventFilter{ResourceSID: "WT2"}, []engine.Event{e3, e4}},
		{"resource unknown kind", engine.EventFilter{ResourceSID: "WAnone"}, nil},
		{"task", engine.EventFilter{TaskSID: "WT2"}, []engine.Event{e3, e4}},
		{"worker", engine.EventFilter{WorkerSID: "WK1"}, []engine.Event{e1, e2}},
		{"reservation", engine.EventFilter{ReservationSID: "WR2"}, []engine.Event{e3}},
		{"start date (inclusive)", engine.EventFilter{StartDate: e3.Date}, []engine.Event{e3, e4}},
		{"end date (inclusive)", engine.EventFilter{EndDate: e1.Date}, []engine.Event{e0, e1}},
		{"date range", engine.EventFilter{StartDate: f.at(500 * time.Millisecond), EndDate: f.at(2500 * time.Millisecond)}, []engine.Event{e1, e2}},
		{"combined", engine.EventFilter{TaskSID: "WT1", WorkerSID: "WK1", EventType: engine.EventReservationCreated}, []engine.Event{e1}},
		{"page", engine.EventFilter{Page: engine.Page{Size: 2, After: e1.SID}}, []engine.Event{e2, e3}},
		{"none", engine.EventFilter{TaskSID: "WT9"}, nil},
		{"worker's latest", engine.EventFilter{WorkerSID: "WK1", Newest: true, Page: engine.Page{Size: 1}}, []engine.Event{e2}},
		{"newest page", engine.EventFilter{Newest: true, Page: engine.Page{Size: 2, After: e3.SID}}, []engine.Event{e2, e1}},
	} {
		got, err := f.s.ListEvents(f.ctx, f.ws.SID, tc.f)
		noErr(t, err)
		if len(got) == 0 {
			got = nil
		}
		equal(t, tc.name, got, tc.want)
	}
	other := f.workspace()
	got, err := f.s.ListEvents(f.ctx, other.SID, engine.EventFilter{})
	noErr(t, err)
	if len(got) != 0 {
		t.Errorf("other workspace lists %d events", len(got))
	}
}
