package storetest

import (
	"testing"
	"time"

	"github.com/didrouter/didrouter"
)

func (f *fixture) countMissed(worker string) int {
	f.t.Helper()
	return txValue(f, func(tx didrouter.Tx) (int, error) { return tx.CountMissedCall(f.ctx, f.ws.SID, worker) })
}

// missedCalls: the count goes up one per call, back to zero on clear, and
// is not a worker change (Version stays).
func (c *contract) missedCalls(t *testing.T, f *fixture) {
	alice, bob := f.worker("alice", ""), f.worker("bob", "")
	for want := 1; want <= 3; want++ {
		if got := f.countMissed(alice.SID); got != want {
			t.Fatalf("missed call %d counted as %d", want, got)
		}
	}
	if got := f.countMissed(bob.SID); got != 1 {
		t.Errorf("bob's first missed call counted as %d: the count is per worker", got)
	}
	got, err := f.s.GetWorker(f.ctx, f.ws.SID, alice.SID)
	noErr(t, err)
	if got.Version != alice.Version {
		t.Errorf("counting missed calls bumped the version %d -> %d", alice.Version, got.Version)
	}
	f.mustTx(func(tx didrouter.Tx) error { return tx.ClearMissedCalls(f.ctx, f.ws.SID, alice.SID) })
	f.mustTx(func(tx didrouter.Tx) error { return tx.ClearMissedCalls(f.ctx, f.ws.SID, alice.SID) }) // nothing to clear: no error
	if got := f.countMissed(alice.SID); got != 1 {
		t.Errorf("after clearing, a missed call counted as %d, want 1", got)
	}
	if got := f.countMissed(bob.SID); got != 2 {
		t.Errorf("clearing alice's count changed bob's: %d, want 2", got)
	}
	// A rolled back count is not kept.
	err = f.tx(func(tx didrouter.Tx) error {
		if _, err := tx.CountMissedCall(f.ctx, f.ws.SID, alice.SID); err != nil {
			return err
		}
		return errSentinel
	})
	if err != errSentinel {
		t.Fatalf("rolled back transaction: %v", err)
	}
	if got := f.countMissed(alice.SID); got != 2 {
		t.Errorf("after a rolled back count: %d, want 2", got)
	}
	err = f.tx(func(tx didrouter.Tx) error {
		_, err := tx.CountMissedCall(f.ctx, f.ws.SID, "WKnobody")
		return err
	})
	wantCode(t, err, didrouter.ENOTFOUND, "WKnobody")
	err = f.tx(func(tx didrouter.Tx) error {
		_, err := tx.CountMissedCall(f.ctx, "WSother", alice.SID)
		return err
	})
	wantCode(t, err, didrouter.ENOTFOUND)
}

func (f *fixture) touchPage(worker, page string, at time.Time) bool {
	f.t.Helper()
	return txValue(f, func(tx didrouter.Tx) (bool, error) {
		return tx.TouchAgentPage(f.ctx, didrouter.AgentPage{WorkspaceSID: f.ws.SID, WorkerSID: worker,
			PageID: page, OpenedAt: at, LastSeen: at})
	})
}

func (f *fixture) agentPages(worker string) []didrouter.AgentPage {
	f.t.Helper()
	return txValue(f, func(tx didrouter.Tx) ([]didrouter.AgentPage, error) { return tx.AgentPages(f.ctx, f.ws.SID, worker) })
}

// agentPages: a page is stored on first touch, moved on by later ones,
// forgotten one by one or all at once, and goes with its worker.
func (c *contract) agentPages(t *testing.T, f *fixture) {
	alice, bob := f.worker("alice", ""), f.worker("bob", "")
	if got := f.agentPages(alice.SID); len(got) != 0 {
		t.Fatalf("pages of a new worker: %+v", got)
	}
	if !f.touchPage(alice.SID, "tab-1", f.now) {
		t.Error("first touch of tab-1 did not create it")
	}
	if !f.touchPage(alice.SID, "tab-2", f.at(time.Second)) {
		t.Error("first touch of tab-2 did not create it")
	}
	if f.touchPage(alice.SID, "tab-1", f.at(20*time.Second)) {
		t.Error("second touch of tab-1 created it again")
	}
	f.touchPage(bob.SID, "tab-1", f.now) // another worker's tab of the same name
	page := func(id string, opened, seen time.Duration) didrouter.AgentPage {
		return didrouter.AgentPage{WorkspaceSID: f.ws.SID, WorkerSID: alice.SID, PageID: id,
			OpenedAt: utc(f.at(opened)), LastSeen: utc(f.at(seen))}
	}
	equal(t, "alice's pages", f.agentPages(alice.SID), []didrouter.AgentPage{page("tab-1", 0, 20*time.Second), page("tab-2", time.Second, time.Second)})

	f.mustTx(func(tx didrouter.Tx) error { return tx.DeleteAgentPage(f.ctx, f.ws.SID, alice.SID, "tab-1") })
	f.mustTx(func(tx didrouter.Tx) error { return tx.DeleteAgentPage(f.ctx, f.ws.SID, alice.SID, "tab-1") }) // gone already: no error
	equal(t, "after closing tab-1", f.agentPages(alice.SID), []didrouter.AgentPage{page("tab-2", time.Second, time.Second)})
	if got := f.agentPages(bob.SID); len(got) != 1 {
		t.Errorf("closing alice's tab-1 changed bob's pages: %+v", got)
	}
	f.touchPage(alice.SID, "tab-3", f.now)
	f.mustTx(func(tx didrouter.Tx) error { return tx.DeleteAgentPages(f.ctx, f.ws.SID, alice.SID) })
	if got := f.agentPages(alice.SID); len(got) != 0 {
		t.Errorf("after forgetting every page: %+v", got)
	}
	err := f.tx(func(tx didrouter.Tx) error {
		_, err := tx.TouchAgentPage(f.ctx, didrouter.AgentPage{WorkspaceSID: f.ws.SID, WorkerSID: "WKnobody",
			PageID: "tab-1", OpenedAt: f.now, LastSeen: f.now})
		return err
	})
	wantCode(t, err, didrouter.ENOTFOUND, "WKnobody")
	f.mustTx(func(tx didrouter.Tx) error { return tx.DeleteWorker(f.ctx, f.ws.SID, bob.SID) })
	if got := f.agentPages(bob.SID); len(got) != 0 {
		t.Errorf("pages of a deleted worker: %+v", got)
	}
}

// workerTimers: an away timer is keyed by its worker, and ClearWorkerTimers
// deletes only the given worker's timers of the given kinds.
func (c *contract) workerTimers(t *testing.T, f *fixture) {
	away1 := f.timer(didrouter.TimerAway, "", "", "WK1", f.at(10*time.Second))
	away2 := f.timer(didrouter.TimerAway, "", "", "WK1", f.at(20*time.Second)) // replaces away1
	away3 := f.timer(didrouter.TimerAway, "", "", "WK2", f.at(30*time.Second))
	wrap := f.timer(didrouter.TimerWrapup, "WT1", "", "WK1", f.at(40*time.Second))
	f.setTimers(away1, away2, away3, wrap)
	equal(t, "timers", f.claimTimers(f.at(time.Hour), 0), []didrouter.Timer{normTimer(away2), normTimer(away3), normTimer(wrap)})

	f.setTimers(away2, away3, wrap)
	f.mustTx(func(tx didrouter.Tx) error { return tx.ClearWorkerTimers(f.ctx, f.ws.SID, "WK1", didrouter.TimerAway) })
	equal(t, "after clearing WK1's away timer", sids(f.claimTimers(f.at(time.Hour), 0)), []string{away3.SID, wrap.SID})
	f.setTimers(away2, away3, wrap)
	f.mustTx(func(tx didrouter.Tx) error { return tx.ClearWorkerTimers(f.ctx, f.ws.SID, "WK1") })
	equal(t, "after clearing every timer of WK1", sids(f.claimTimers(f.at(time.Hour), 0)), []string{away3.SID})

	err := f.tx(func(tx didrouter.Tx) error {
		return tx.SetTimer(f.ctx, f.timer(didrouter.TimerAway, "", "", "", f.now))
	})
	wantCode(t, err, didrouter.EINVALID)
}
