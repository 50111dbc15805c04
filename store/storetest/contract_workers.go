package storetest

import (
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
)

func (c *contract) workers(t *testing.T, f *fixture) {
	w := f.newWorker("alice", "+15125550100")
	w.Busy, w.Capacity = 0, 2
	w.DateStatusChanged = time.Time{} // never changed status: the zero time round-trips
	w = f.insertWorker(w)
	got, err := f.s.GetWorker(f.ctx, f.ws.SID, w.SID)
	noErr(t, err)
	equal(t, "worker", got, w)
	got, err = f.s.WorkerByPhoneNumber(f.ctx, f.ws.SID, "+15125550100")
	noErr(t, err)
	equal(t, "worker by phone number", got, w)
	_, err = f.s.WorkerByPhoneNumber(f.ctx, f.ws.SID, "+15125550999")
	wantCode(t, err, didrouter.ENOTFOUND, "+15125550999")
	_, err = f.s.WorkerByPhoneNumber(f.ctx, "WSother", "+15125550100")
	wantCode(t, err, didrouter.ENOTFOUND)
	_, err = f.s.GetWorker(f.ctx, "WSother", w.SID)
	wantCode(t, err, didrouter.ENOTFOUND, w.SID)

	// UpdateWorker writes everything but Busy and bumps Version.
	f.mustTx(func(tx didrouter.Tx) error {
		_, _, err := tx.ClaimWorker(f.ctx, f.ws.SID, w.SID, voiceChannel, f.now)
		return err
	})
	upd := w
	upd.FriendlyName, upd.Attributes, upd.ActivitySID, upd.ActivityName = "Alice", `{"x":1}`, "WAoffline", "Offline"
	upd.Available, upd.Capacity, upd.PhoneNumber = false, 3, "+15125550101"
	upd.DateStatusChanged, upd.DateUpdated = f.at(time.Minute), f.at(time.Minute)
	upd.Busy = 42
	f.mustTx(func(tx didrouter.Tx) error { return tx.UpdateWorker(f.ctx, upd) })
	got, err = f.s.GetWorker(f.ctx, f.ws.SID, w.SID)
	noErr(t, err)
	want := normWorker(upd)
	want.Busy = 1
	if got.Version <= w.Version+1 {
		t.Errorf("version after claim and update = %d, want > %d", got.Version, w.Version+1)
	}
	want.Version = got.Version
	equal(t, "updated worker", got, want)
	_, err = f.s.WorkerByPhoneNumber(f.ctx, f.ws.SID, "+15125550100")
	wantCode(t, err, didrouter.ENOTFOUND)

	// Several workers without a phone number.
	for i, name := range []string{"bob", "carol"} {
		nw := f.newWorker(name, "")
		nw.DateCreated = f.at(time.Duration(i+1) * time.Second)
		f.insertWorker(nw)
	}
	var names []string
	noErr(t, f.s.EachWorker(f.ctx, f.ws.SID, func(w didrouter.Worker) error {
		names = append(names, w.FriendlyName)
		return nil
	}))
	equal(t, "EachWorker", names, []string{"Alice", "bob", "carol"})

	f.mustTx(func(tx didrouter.Tx) error { return tx.DeleteWorker(f.ctx, f.ws.SID, w.SID) })
	_, err = f.s.GetWorker(f.ctx, f.ws.SID, w.SID)
	wantCode(t, err, didrouter.ENOTFOUND, w.SID)
	err = f.tx(func(tx didrouter.Tx) error { return tx.DeleteWorker(f.ctx, f.ws.SID, w.SID) })
	wantCode(t, err, didrouter.ENOTFOUND, w.SID)
	err = f.tx(func(tx didrouter.Tx) error { return tx.UpdateWorker(f.ctx, w) })
	wantCode(t, err, didrouter.ENOTFOUND, w.SID)
	err = f.tx(func(tx didrouter.Tx) error { return tx.InsertWorker(f.ctx, f.newWorker("x", "")) })
	noErr(t, err)
	dup := f.newWorker("dup", "")
	f.insertWorker(dup)
	err = f.tx(func(tx didrouter.Tx) error { return tx.InsertWorker(f.ctx, dup) })
	wantCode(t, err, didrouter.ECONFLICT, dup.SID)
	orphan := f.newWorker("orphan", "")
	orphan.WorkspaceSID = "WSmissing"
	err = f.tx(func(tx didrouter.Tx) error { return tx.InsertWorker(f.ctx, orphan) })
	wantCode(t, err, didrouter.ENOTFOUND, "WSmissing")
}

func (c *contract) workerPhoneConflict(t *testing.T, f *fixture) {
	alice := f.worker("alice", "+15125550100")
	bob := f.worker("bob", "+15125550101")
	err := f.tx(func(tx didrouter.Tx) error { return tx.InsertWorker(f.ctx, f.newWorker("carol", "+15125550100")) })
	wantCode(t, err, didrouter.ECONFLICT, "+15125550100", alice.SID)
	bob.PhoneNumber = "+15125550100"
	err = f.tx(func(tx didrouter.Tx) error { return tx.UpdateWorker(f.ctx, bob) })
	wantCode(t, err, didrouter.ECONFLICT, "+15125550100", alice.SID)
	// Keeping one's own number is no conflict.
	f.mustTx(func(tx didrouter.Tx) error { return tx.UpdateWorker(f.ctx, alice) })
	// The same number in another workspace is no conflict either.
	other := f.workspace()
	w := f.newWorker("dave", "+15125550100")
	w.WorkspaceSID = other.SID
	f.mustTx(func(tx didrouter.Tx) error { return tx.InsertWorker(f.ctx, w) })

	// Two transactions racing for one number: exactly one wins, the other
	// gets ECONFLICT (from the unique index, whoever checks first).
	errs := concurrently(c.instances(t, f), 2, func(_ int, s didrouter.Store) error {
		return s.Tx(f.ctx, func(tx didrouter.Tx) error {
			return tx.InsertWorker(f.ctx, f.newWorker("racer", "+15125550177"))
		})
	})
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else {
			wantCode(t, err, didrouter.ECONFLICT, "+15125550177")
		}
	}
	if ok != 1 {
		t.Errorf("%d racing inserts of one phone number succeeded, want 1 (errors %v)", ok, errs)
	}
}

func (c *contract) workerFilters(t *testing.T, f *fixture) {
	a := f.newWorker("alice", "")
	b := f.newWorker("bob", "")
	b.ActivitySID, b.ActivityName, b.Available = "WAoffline", "Offline", false
	b.DateCreated = f.at(time.Second)
	cw := f.newWorker("carol", "")
	cw.DateCreated = f.at(2 * time.Second)
	a, b, cw = f.insertWorker(a), f.insertWorker(b), f.insertWorker(cw)
	yes, no := true, false
	for _, tc := range []struct {
		name string
		f    didrouter.WorkerFilter
		want []didrouter.Worker
	}{
		{"all", didrouter.WorkerFilter{}, []didrouter.Worker{a, b, cw}},
		{"activity sid", didrouter.WorkerFilter{ActivitySID: "WAoffline"}, []didrouter.Worker{b}},
		{"activity name", didrouter.WorkerFilter{ActivityName: "Available"}, []didrouter.Worker{a, cw}},
		{"available", didrouter.WorkerFilter{Available: &yes}, []didrouter.Worker{a, cw}},
		{"unavailable", didrouter.WorkerFilter{Available: &no}, []didrouter.Worker{b}},
		{"friendly name", didrouter.WorkerFilter{FriendlyName: "carol"}, []didrouter.Worker{cw}},
		{"combined", didrouter.WorkerFilter{Available: &yes, FriendlyName: "bob"}, nil},
	} {
		got, err := f.s.ListWorkers(f.ctx, f.ws.SID, tc.f)
		noErr(t, err)
		equalList(t, tc.name, got, tc.want)
	}
}

func (c *contract) claimRelease(t *testing.T, f *fixture) {
	w := f.newWorker("alice", "")
	w.Capacity = 2
	w = f.insertWorker(w)
	// Claim and release return the row as they wrote it.
	claim := func(sid string) (bool, error) {
		t.Helper()
		var (
			ok      bool
			claimed didrouter.Worker
		)
		err := f.tx(func(tx didrouter.Tx) error {
			var err error
			claimed, ok, err = tx.ClaimWorker(f.ctx, f.ws.SID, sid, voiceChannel, f.at(time.Second))
			return err
		})
		if ok {
			stored, err := f.s.GetWorker(f.ctx, f.ws.SID, sid)
			noErr(t, err)
			equal(t, "claimed worker", claimed, stored)
		}
		return ok, err
	}
	release := func(at time.Time) {
		t.Helper()
		released := txValue(f, func(tx didrouter.Tx) (didrouter.Worker, error) {
			return tx.ReleaseWorker(f.ctx, f.ws.SID, w.SID, voiceChannel, at)
		})
		stored, err := f.s.GetWorker(f.ctx, f.ws.SID, w.SID)
		noErr(t, err)
		equal(t, "released worker", released, stored)
	}
	for i, want := range []bool{true, true, false} {
		ok, err := claim(w.SID)
		noErr(t, err)
		if ok != want {
			t.Fatalf("claim %d = %v, want %v", i+1, ok, want)
		}
	}
	got, err := f.s.GetWorker(f.ctx, f.ws.SID, w.SID)
	noErr(t, err)
	if got.Busy != 2 || got.Version <= w.Version {
		t.Errorf("after two claims: busy %d version %d (was %d)", got.Busy, got.Version, w.Version)
	}

	// Idle since is set only when the last claim is released.
	release(f.at(time.Minute))
	got, _ = f.s.GetWorker(f.ctx, f.ws.SID, w.SID)
	if got.Busy != 1 || !got.DateStatusChanged.Equal(w.DateStatusChanged) {
		t.Errorf("after one release: busy %d, status changed %v (want 1, %v)", got.Busy, got.DateStatusChanged, w.DateStatusChanged)
	}
	release(f.at(2 * time.Minute))
	got, _ = f.s.GetWorker(f.ctx, f.ws.SID, w.SID)
	if got.Busy != 0 || !got.DateStatusChanged.Equal(utc(f.at(2*time.Minute))) {
		t.Errorf("after two releases: busy %d, status changed %v (want 0, %v)", got.Busy, got.DateStatusChanged, f.at(2*time.Minute))
	}
	release(f.at(3 * time.Minute)) // floors at zero
	got, _ = f.s.GetWorker(f.ctx, f.ws.SID, w.SID)
	if got.Busy != 0 {
		t.Errorf("release below zero: busy %d", got.Busy)
	}

	// An unavailable worker is not claimed.
	off := f.newWorker("bob", "")
	off.Available = false
	off = f.insertWorker(off)
	ok, err := claim(off.SID)
	noErr(t, err)
	if ok {
		t.Error("claimed an unavailable worker")
	}
	_, err = claim("WKmissing")
	wantCode(t, err, didrouter.ENOTFOUND, "WKmissing")
	err = f.tx(func(tx didrouter.Tx) error {
		_, err := tx.ReleaseWorker(f.ctx, f.ws.SID, "WKmissing", voiceChannel, f.now)
		return err
	})
	wantCode(t, err, didrouter.ENOTFOUND, "WKmissing")
}

// claimChannels: the message channel has a capacity of its own. Claiming
// and releasing it never touches voice (nor the worker's idle time), and a
// worker whose voice is full can still be claimed for a message.
func (c *contract) claimChannels(t *testing.T, f *fixture) {
	w := f.newWorker("alice", "")
	w.Capacity, w.MessageCapacity = 1, 2
	w = f.insertWorker(w)
	claim := func(channel string) bool {
		t.Helper()
		var (
			ok      bool
			claimed didrouter.Worker
		)
		f.mustTx(func(tx didrouter.Tx) error {
			var err error
			claimed, ok, err = tx.ClaimWorker(f.ctx, f.ws.SID, w.SID, channel, f.at(time.Second))
			return err
		})
		if ok {
			stored, err := f.s.GetWorker(f.ctx, f.ws.SID, w.SID)
			noErr(t, err)
			equal(t, "worker claimed for "+channel, claimed, stored)
		}
		return ok
	}
	load := func() (int, int, time.Time) {
		t.Helper()
		got, err := f.s.GetWorker(f.ctx, f.ws.SID, w.SID)
		noErr(t, err)
		return got.Busy, got.MessageBusy, got.DateStatusChanged
	}
	if !claim(voiceChannel) || claim(voiceChannel) {
		t.Fatal("voice: want one claim of a capacity-1 worker")
	}
	for i, want := range []bool{true, true, false} {
		if got := claim(didrouter.MessageChannel); got != want {
			t.Fatalf("message claim %d = %v, want %v (voice full, message capacity 2)", i+1, got, want)
		}
	}
	if busy, msgs, _ := load(); busy != 1 || msgs != 2 {
		t.Fatalf("busy %d, messages %d; want 1 and 2", busy, msgs)
	}
	f.mustTx(func(tx didrouter.Tx) error {
		released, err := tx.ReleaseWorker(f.ctx, f.ws.SID, w.SID, didrouter.MessageChannel, f.at(time.Minute))
		if err == nil && released.MessageBusy != 1 {
			t.Errorf("message release returned %d messages held, want 1", released.MessageBusy)
		}
		return err
	})
	if busy, msgs, idle := load(); busy != 1 || msgs != 1 || !idle.Equal(w.DateStatusChanged) {
		t.Fatalf("after a message release: busy %d, messages %d, idle since %v; want 1, 1, %v", busy, msgs, idle, w.DateStatusChanged)
	}
	f.mustTx(func(tx didrouter.Tx) error {
		_, err := tx.ReleaseWorker(f.ctx, f.ws.SID, w.SID, didrouter.MessageChannel, f.at(2*time.Minute))
		return err
	})
	if busy, msgs, idle := load(); busy != 1 || msgs != 0 || !idle.Equal(w.DateStatusChanged) {
		t.Fatalf("after the last message release: busy %d, messages %d, idle since %v; want 1, 0, unchanged", busy, msgs, idle)
	}
	// UpdateWorker writes the message capacity, never what holds it.
	upd := w
	upd.MessageCapacity, upd.MessageBusy = 5, 42
	f.mustTx(func(tx didrouter.Tx) error { return tx.UpdateWorker(f.ctx, upd) })
	got, err := f.s.GetWorker(f.ctx, f.ws.SID, w.SID)
	noErr(t, err)
	if got.MessageCapacity != 5 || got.MessageBusy != 0 || got.Busy != 1 {
		t.Errorf("after UpdateWorker: message capacity %d, messages %d, busy %d; want 5, 0, 1", got.MessageCapacity, got.MessageBusy, got.Busy)
	}
	// An unavailable worker takes no message either.
	off := f.newWorker("bob", "")
	off.Available, off.MessageCapacity = false, 10
	off = f.insertWorker(off)
	f.mustTx(func(tx didrouter.Tx) error {
		_, ok, err := tx.ClaimWorker(f.ctx, f.ws.SID, off.SID, didrouter.MessageChannel, f.now)
		if ok {
			t.Error("claimed an unavailable worker for a message")
		}
		return err
	})
}

// claimConcurrently: 20 transactions claim one capacity-1 worker at once;
// exactly one may win.
func (c *contract) claimConcurrently(t *testing.T, f *fixture) {
	w := f.worker("alice", "")
	const n = 20
	won := make([]bool, n)
	errs := concurrently(c.instances(t, f), n, func(i int, s didrouter.Store) error {
		return s.Tx(f.ctx, func(tx didrouter.Tx) error {
			_, ok, err := tx.ClaimWorker(f.ctx, f.ws.SID, w.SID, voiceChannel, f.now)
			won[i] = ok
			return err
		})
	})
	wins := winners(t, errs, won)
	if wins != 1 {
		t.Errorf("%d of %d concurrent claims won, want exactly 1", wins, n)
	}
	got, err := f.s.GetWorker(f.ctx, f.ws.SID, w.SID)
	noErr(t, err)
	if got.Busy != 1 {
		t.Errorf("busy = %d after concurrent claims, want 1", got.Busy)
	}
}

// workerRows: EachWorkerRow streams what EachWorker does, column for
// column, in any order; its rows are only valid during the callback, so
// they are copied here.
func (c *contract) workerRows(t *testing.T, f *fixture) {
	var want []didrouter.Worker
	for i := range 300 {
		w := f.newWorker(fmt.Sprintf("w%03d", i), "")
		switch i % 4 {
		case 1:
			w.Attributes = `{"phone_number":"+1512555` + fmt.Sprintf("%04d", i) + `","name":"Zoë \\ \"q\""}`
			w.Available, w.Capacity, w.Busy = false, 3, 2
		case 2:
			w.ActivitySID, w.ActivityName, w.Attributes = "", "", `{}`
			w.DateStatusChanged = time.Time{}
		case 3:
			w.DateCreated = f.at(-time.Duration(i) * time.Second)
		}
		want = append(want, f.insertWorker(w))
	}
	other := f.newWorker("elsewhere", "")
	other.WorkspaceSID = f.workspace().SID
	f.insertWorker(other)

	type row struct {
		SID, FriendlyName, Attributes, ActivitySID, ActivityName string
		Available                                                bool
		Capacity, Busy                                           int
		DateStatusChanged                                        time.Time
		Version                                                  int64
	}
	toRow := func(w didrouter.Worker) row {
		return row{w.SID, w.FriendlyName, w.Attributes, w.ActivitySID, w.ActivityName, w.Available, w.Capacity, w.Busy,
			w.DateStatusChanged, w.Version}
	}
	var got, each []row
	noErr(t, f.s.EachWorkerRow(f.ctx, f.ws.SID, func(w *didrouter.WorkerRow) error {
		got = append(got, row{string(w.SID), string(w.FriendlyName), string(w.Attributes), string(w.ActivitySID),
			string(w.ActivityName), w.Available, w.Capacity, w.Busy, w.DateStatusChanged, w.Version})
		return nil
	}))
	noErr(t, f.s.EachWorker(f.ctx, f.ws.SID, func(w didrouter.Worker) error {
		each = append(each, toRow(w))
		return nil
	}))
	exp := make([]row, 0, len(want))
	for _, w := range want {
		exp = append(exp, toRow(w))
	}
	for _, l := range [][]row{got, each, exp} {
		sort.Slice(l, func(i, j int) bool { return l[i].SID < l[j].SID })
	}
	equal(t, "EachWorkerRow vs inserted", got, exp)
	equal(t, "EachWorkerRow vs EachWorker", got, each)

	n, err := f.s.CountWorkers(f.ctx, f.ws.SID)
	noErr(t, err)
	equal(t, "CountWorkers", n, len(want))
	n, err = f.s.CountWorkers(f.ctx, "WSnone")
	noErr(t, err)
	equal(t, "CountWorkers of a workspace without workers", n, 0)

	// An error from fn stops the stream and comes back as is.
	stop := errors.New("stop")
	n = 0
	err = f.s.EachWorkerRow(f.ctx, f.ws.SID, func(*didrouter.WorkerRow) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("EachWorkerRow after fn failed: %v after %d rows", err, n)
	}
}
