package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
)

func (f *fixture) timer(kind, task, res, worker string, fireAt time.Time) didrouter.Timer {
	return didrouter.Timer{SID: didrouter.NewSID(didrouter.PrefixTimer), WorkspaceSID: f.ws.SID, Kind: kind, TaskSID: task,
		ReservationSID: res, WorkerSID: worker, TaskVersion: 3, FireAt: fireAt}
}

func (f *fixture) setTimers(timers ...didrouter.Timer) {
	f.t.Helper()
	f.mustTx(func(tx didrouter.Tx) error {
		for _, tm := range timers {
			if err := tx.SetTimer(f.ctx, tm); err != nil {
				return err
			}
		}
		return nil
	})
}

func (f *fixture) claimTimers(now time.Time, limit int) []didrouter.Timer {
	f.t.Helper()
	return txValue(f, func(tx didrouter.Tx) ([]didrouter.Timer, error) { return tx.ClaimDueTimers(f.ctx, now, limit) })
}

func (f *fixture) nextTimer() time.Time {
	f.t.Helper()
	return txValue(f, func(tx didrouter.Tx) (time.Time, error) { return tx.NextTimer(f.ctx) })
}

func normTimer(tm didrouter.Timer) didrouter.Timer {
	tm.FireAt = utc(tm.FireAt)
	return tm
}

func sids(timers []didrouter.Timer) []string {
	var out []string
	for _, tm := range timers {
		out = append(out, tm.SID)
	}
	return out
}

// timers: SetTimer replaces the timer of the same kind and guard.
func (c *contract) timers(t *testing.T, f *fixture) {
	if next := f.nextTimer(); !next.IsZero() {
		t.Fatalf("NextTimer of an empty store = %v", next)
	}
	step1 := f.timer(didrouter.TimerStep, "WT1", "", "", f.at(10*time.Second))
	step2 := f.timer(didrouter.TimerStep, "WT1", "", "", f.at(20*time.Second)) // replaces step1
	task1 := f.timer(didrouter.TimerTask, "WT1", "", "", f.at(30*time.Second))
	res1 := f.timer(didrouter.TimerReservation, "WT1", "WR1", "WK1", f.at(5*time.Second))
	res2 := f.timer(didrouter.TimerReservation, "WT1", "WR2", "WK2", f.at(6*time.Second)) // another reservation: kept
	wrap0 := f.timer(didrouter.TimerWrapup, "WT1", "", "WK1", f.at(35*time.Second))
	wrap1 := f.timer(didrouter.TimerWrapup, "WT1", "", "WK1", f.at(40*time.Second)) // same task: replaces wrap0
	wrap2 := f.timer(didrouter.TimerWrapup, "WT2", "", "WK1", f.at(50*time.Second)) // another task of the worker: kept
	step3 := f.timer(didrouter.TimerStep, "WT2", "", "", f.at(60*time.Second))
	f.setTimers(step1, step2, task1, res1, res2, wrap0, wrap1, wrap2, step3)
	if next := f.nextTimer(); !next.Equal(utc(res1.FireAt)) {
		t.Errorf("NextTimer = %v, want %v", next, res1.FireAt)
	}
	got := f.claimTimers(f.at(time.Hour), 0)
	equal(t, "timers", got, []didrouter.Timer{normTimer(res1), normTimer(res2), normTimer(step2),
		normTimer(task1), normTimer(wrap1), normTimer(wrap2), normTimer(step3)})

	// ClearTimers: only the given kinds of the given task, or all of its kinds.
	f.setTimers(step1, task1, res1, step3)
	f.mustTx(func(tx didrouter.Tx) error {
		return tx.ClearTimers(f.ctx, f.ws.SID, "WT1", didrouter.TimerStep, didrouter.TimerTask)
	})
	got = f.claimTimers(f.at(time.Hour), 0)
	equal(t, "after clearing step and task timers", sids(got), []string{res1.SID, step3.SID})
	f.setTimers(step1, task1, res1, step3)
	f.mustTx(func(tx didrouter.Tx) error { return tx.ClearTimers(f.ctx, f.ws.SID, "WT1") })
	got = f.claimTimers(f.at(time.Hour), 0)
	equal(t, "after clearing every timer of WT1", sids(got), []string{step3.SID})

	// A timer without kind or guard is refused.
	err := f.tx(func(tx didrouter.Tx) error { return tx.SetTimer(f.ctx, f.timer("", "WT1", "", "", f.now)) })
	wantCode(t, err, didrouter.EINVALID)
	err = f.tx(func(tx didrouter.Tx) error {
		return tx.SetTimer(f.ctx, f.timer(didrouter.TimerReservation, "WT1", "", "", f.now))
	})
	wantCode(t, err, didrouter.EINVALID)
}

func (c *contract) claimDueTimers(t *testing.T, f *fixture) {
	var all []didrouter.Timer
	for i := range 5 {
		all = append(all, f.timer(didrouter.TimerStep, didrouter.NewSID(didrouter.PrefixTask), "", "", f.at(time.Duration(i)*time.Second)))
	}
	f.setTimers(all...)
	// Due means FireAt <= now, inclusive; earliest first; up to limit.
	got := f.claimTimers(f.at(3*time.Second), 2)
	equal(t, "first claim", sids(got), sids(all[:2]))
	got = f.claimTimers(f.at(3*time.Second), 10)
	equal(t, "second claim", sids(got), sids(all[2:4]))
	got = f.claimTimers(f.at(3*time.Second), 10)
	if len(got) != 0 {
		t.Errorf("claimed %v again", sids(got))
	}
	if next := f.nextTimer(); !next.Equal(utc(all[4].FireAt)) {
		t.Errorf("NextTimer = %v, want %v", next, all[4].FireAt)
	}
}

func (c *contract) claimDueTimersRollback(t *testing.T, f *fixture) {
	tm := f.timer(didrouter.TimerTask, "WT1", "", "", f.now)
	f.setTimers(tm)
	err := f.tx(func(tx didrouter.Tx) error {
		got, err := tx.ClaimDueTimers(f.ctx, f.now, 10)
		if err != nil {
			return err
		}
		if len(got) != 1 {
			t.Errorf("claimed %d timers, want 1", len(got))
		}
		return errSentinel
	})
	if err != errSentinel {
		t.Fatalf("Tx returned %v, want the function's error", err)
	}
	got := f.claimTimers(f.now, 10)
	equal(t, "timers after rollback", got, []didrouter.Timer{normTimer(tm)})
}

// claimDueTimersConcurrently: claimers running at once never share a timer,
// and together they claim every due timer.
func (c *contract) claimDueTimersConcurrently(t *testing.T, f *fixture) {
	const n = 60
	var all []didrouter.Timer
	for i := range n {
		all = append(all, f.timer(didrouter.TimerStep, didrouter.NewSID(didrouter.PrefixTask), "", "", f.at(time.Duration(i)*time.Millisecond)))
	}
	f.setTimers(all...)
	stores := c.instances(t, f)
	if len(stores) > 1 {
		c.skipLocked(t, f, stores[1])
	}
	var mu sync.Mutex
	seen := map[string]int{}
	errs := concurrently(stores, 4, func(_ int, s didrouter.Store) error {
		for {
			var got []didrouter.Timer
			err := s.Tx(f.ctx, func(tx didrouter.Tx) error {
				var err error
				got, err = tx.ClaimDueTimers(f.ctx, f.at(time.Hour), 3)
				return err
			})
			if err != nil || len(got) == 0 {
				return err
			}
			mu.Lock()
			for _, tm := range got {
				seen[tm.SID]++
			}
			mu.Unlock()
		}
	})
	for _, err := range errs {
		noErr(t, err)
	}
	for _, tm := range all {
		if seen[tm.SID] != 1 {
			t.Errorf("timer %s claimed %d times, want once", tm.SID, seen[tm.SID])
		}
	}
}

// skipLocked: while one instance holds claimed timers in an open
// transaction, another instance claims the rest without waiting.
func (c *contract) skipLocked(t *testing.T, f *fixture, peer didrouter.Store) {
	tm1 := f.timer(didrouter.TimerTask, didrouter.NewSID(didrouter.PrefixTask), "", "", f.at(-2*time.Hour))
	tm2 := f.timer(didrouter.TimerTask, didrouter.NewSID(didrouter.PrefixTask), "", "", f.at(-time.Hour))
	f.setTimers(tm1, tm2)
	claimed, release := make(chan []didrouter.Timer), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- f.s.Tx(f.ctx, func(tx didrouter.Tx) error {
			got, err := tx.ClaimDueTimers(f.ctx, f.at(-time.Hour), 1)
			claimed <- got
			<-release
			return err
		})
	}()
	first := <-claimed
	var second []didrouter.Timer
	// A claimer that waits for the first one's locks would wait forever.
	ctx, cancel := context.WithTimeout(f.ctx, 10*time.Second)
	defer cancel()
	err := peer.Tx(ctx, func(tx didrouter.Tx) error {
		var err error
		second, err = tx.ClaimDueTimers(ctx, f.at(-time.Hour), 1)
		return err
	})
	close(release)
	if err != nil {
		t.Fatalf("second claimer, while the first holds its timers: %v (does the claim skip locked rows?)", err)
	}
	noErr(t, <-done)
	equal(t, "first claimer", sids(first), []string{tm1.SID})
	equal(t, "second claimer", sids(second), []string{tm2.SID})
}
