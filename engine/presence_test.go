package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/store/storetest"
)

const away = engine.DefaultAgentAway

// withAway replaces the harness's engine by one with that away time.
func (h *harness) withAway(d time.Duration) {
	h.t.Helper()
	h.eng = h.engineWith("test", func(c *engine.Config) { c.AgentAway = d })
}

// page reports a page event through tr, failing the test on error.
func (h *harness) page(tr engine.PresenceTracker, what string, w didrouter.Worker, id string) {
	h.t.Helper()
	var err error
	switch what {
	case "open":
		err = tr.AgentPageOpen(h.ctx, h.ws.SID, w.SID, id)
	case "beat":
		err = tr.AgentPageHeartbeat(h.ctx, h.ws.SID, w.SID, id)
	case "close":
		err = tr.AgentPageClosed(h.ctx, h.ws.SID, w.SID, id)
	default:
		h.t.Fatalf("unknown page event %q", what)
	}
	if err != nil {
		h.t.Fatalf("page %s %s of %s: %v", id, what, w.FriendlyName, err)
	}
}

// beatFor keeps the page heartbeating every 20 s for d, firing timers.
func (h *harness) beatFor(tr engine.PresenceTracker, w didrouter.Worker, id string, d time.Duration) {
	h.t.Helper()
	for step := 20 * time.Second; d > 0; d -= step {
		h.advance(step)
		h.page(tr, "beat", w, id)
	}
}

// The agent's page closes: after the away time, not before, she is Offline,
// with an event that says why, announced on the change feed. While the
// page heartbeats nothing happens, and an agent who never opened the
// desktop (a SIP phone) is never moved.
func TestAgentAwayMovesToOffline(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h.withAway(away)
		alice := h.worker("alice", "", "Available")
		bob := h.worker("bob", "", "Available")
		h.page(h.eng, "open", alice, "tab-1")
		h.beatFor(h.eng, alice, "tab-1", 3*away)
		h.wantActivity(alice, "Available", "while the page heartbeats")

		feed, err := h.store.Subscribe(h.ctx)
		if err != nil {
			t.Fatal(err)
		}
		h.page(h.eng, "close", alice, "tab-1")
		h.advance(away - time.Second)
		h.wantActivity(alice, "Available", "just before the away time")
		h.advance(time.Second)
		h.wantActivity(alice, "Offline", "at the away time")
		wantWorkerChange(t, feed, alice)
		evs := h.activityEvents(alice)
		if len(evs) != 1 {
			t.Fatalf("%d activity events, want 1", len(evs))
		}
		d := eventData(t, evs[0])
		if d["reason"] != engine.ReasonAway || d["away_seconds"] != float64(120) ||
			d["worker_activity_name"] != "Offline" || d["worker_previous_activity"] != "Available" {
			t.Errorf("event data %v, want reason away, away_seconds 120, Available -> Offline", d)
		}
		if !strings.Contains(evs[0].Description, "desktop") {
			t.Errorf("description %q does not say why", evs[0].Description)
		}
		ch, ok, err := h.eng.LastActivityChange(h.ctx, h.ws.SID, alice.SID, t0)
		if err != nil || !ok || ch.Reason != engine.ReasonAway || ch.Away != away || ch.ActivityName != "Offline" {
			t.Errorf("LastActivityChange = %+v, %v, %v", ch, ok, err)
		}
		h.advance(10 * away)
		if n := len(h.activityEvents(alice)); n != 1 {
			t.Errorf("%d activity events later, want still 1", n)
		}
		h.wantActivity(bob, "Available", "bob never opened the desktop")
		if _, ok, err := h.eng.LastActivityChange(h.ctx, h.ws.SID, bob.SID, t0); ok || err != nil {
			t.Errorf("bob has an activity change (%v)", err)
		}
	})
}

// Closing and reopening within the away time cancels the move; a page that
// stops heartbeating without closing (a laptop lid, a crashed instance)
// counts as gone from its last heartbeat.
func TestAgentAwayReopenCancels(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h.withAway(away)
		alice := h.worker("alice", "", "Available")
		h.page(h.eng, "open", alice, "tab-1")
		h.page(h.eng, "close", alice, "tab-1")
		h.advance(away / 2)
		h.page(h.eng, "open", alice, "tab-2") // a reload: a new tab id
		h.beatFor(h.eng, alice, "tab-2", 2*away)
		h.wantActivity(alice, "Available", "after reopening")

		// tab-2 goes silent: Offline one away time after its last heartbeat.
		h.advance(away - time.Second)
		h.wantActivity(alice, "Available", "just before the away time")
		h.advance(time.Second)
		h.wantActivity(alice, "Offline", "a page silent for the away time")
	})
}

// Of two pages, the last one closing counts.
func TestAgentAwayLastPageCounts(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h.withAway(away)
		alice := h.worker("alice", "", "Available")
		h.page(h.eng, "open", alice, "tab-1")
		h.page(h.eng, "open", alice, "tab-2")
		h.page(h.eng, "close", alice, "tab-1")
		h.beatFor(h.eng, alice, "tab-2", 2*away)
		h.wantActivity(alice, "Available", "while tab-2 is open")
		h.page(h.eng, "close", alice, "tab-2")
		h.advance(away)
		h.wantActivity(alice, "Offline", "after both tabs closed")
	})
}

// A worker already Offline is left alone (no event); a page heard of again
// afterwards (the laptop woke up) is tracked again.
func TestAgentAwayLeavesOfflineAlone(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h.withAway(away)
		alice := h.worker("alice", "", "Available")
		h.page(h.eng, "open", alice, "tab-1")
		h.setActivity(alice, "Offline")
		h.page(h.eng, "close", alice, "tab-1")
		h.advance(2 * away)
		if evs := h.activityEvents(alice); len(evs) != 1 || eventData(t, evs[0])["reason"] != nil {
			t.Fatalf("activity events %+v, want only her own", evs)
		}

		h.page(h.eng, "beat", alice, "tab-9") // not stored: taken as opened
		h.setActivity(alice, "Available")
		h.advance(away)
		h.wantActivity(alice, "Offline", "the woken page went silent again")
		if evs := h.activityEvents(alice); eventData(t, evs[len(evs)-1])["reason"] != engine.ReasonAway {
			t.Errorf("last activity event %+v, want the away move", evs[len(evs)-1])
		}
	})
}

// A call ringing the agent when she is moved moves on at once to another
// agent, as when she sets Offline herself.
func TestAgentAwayGivesUpTheRingingCall(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h.withAway(away)
		alice := h.worker("alice", "", "Available")
		bob := h.worker("bob", "", "Available")
		h.page(h.eng, "open", alice, "tab-1")
		h.page(h.eng, "close", alice, "tab-1")
		h.advance(time.Second)
		res := h.call("+12125550100", 0)
		h.wantReserved(res, alice) // idle longest
		h.advance(away)
		h.wantActivity(alice, "Offline", "at the away time")
		if got := h.reservation(res.Reservation.SID).Status; got != didrouter.ReservationRejected {
			t.Fatalf("alice's reservation %s, want rejected", got)
		}
		if r := h.live(res.Task.SID); r == nil || r.WorkerSID != bob.SID {
			t.Fatalf("live reservation %+v, want bob's", r)
		}
	})
}

// With the away time off nothing is tracked and nobody is moved.
func TestAgentAwayOff(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h.withAway(0)
		alice := h.worker("alice", "", "Available")
		h.page(h.eng, "open", alice, "tab-1")
		h.page(h.eng, "close", alice, "tab-1")
		h.page(h.eng, "beat", alice, "tab-2")
		if n := h.advance(10 * away); n != 0 {
			t.Errorf("%d timers fired with the away time off", n)
		}
		h.wantActivity(alice, "Available", "with the away time off")
	})
}

// Pages may report to any instance: one opens, another heartbeats and
// closes, a third one's timer loop moves the worker.
func TestAgentAwayAcrossInstances(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h.withAway(away)
		other := h.engineWith("other", func(c *engine.Config) { c.AgentAway = away })
		third := h.engineWith("third", func(c *engine.Config) { c.AgentAway = away })
		alice := h.worker("alice", "", "Available")
		h.page(h.eng, "open", alice, "tab-1")
		h.beatFor(other, alice, "tab-1", 2*away) // h.advance fires timers on h.eng
		h.wantActivity(alice, "Available", "heartbeats on another instance")
		h.page(other, "close", alice, "tab-1")
		h.clock.Advance(away)
		if _, err := third.RunDueTimers(h.ctx); err != nil {
			t.Fatal(err)
		}
		h.wantActivity(alice, "Offline", "the third instance's timer")
		if err := h.eng.Sync(h.ctx); err != nil { // the harness's invariants read h.eng's index
			t.Fatal(err)
		}
	})
}

// Heartbeats come well within the away time, also a short one.
func TestAgentPageHeartbeatEvery(t *testing.T) {
	h := newHarness(t, storetest.SQLite(t))
	for _, tc := range []struct{ away, want time.Duration }{
		{0, 0}, {away, 20 * time.Second}, {time.Hour, 20 * time.Second}, {4 * time.Second, time.Second},
	} {
		if got := h.engineWith("x", func(c *engine.Config) { c.AgentAway = tc.away }).AgentPageHeartbeatEvery(); got != tc.want {
			t.Errorf("away %v: heartbeat every %v, want %v", tc.away, got, tc.want)
		}
	}
}

// Bad page ids and unknown workers are refused with a clear error.
func TestAgentPageInput(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h.withAway(away)
		alice := h.worker("alice", "", "Available")
		for _, id := range []string{"", "tab 1", "<script>", "tab/1", strings.Repeat("a", 65), "tab-é"} {
			for _, fn := range []func() error{
				func() error { return h.eng.AgentPageOpen(h.ctx, h.ws.SID, alice.SID, id) },
				func() error { return h.eng.AgentPageHeartbeat(h.ctx, h.ws.SID, alice.SID, id) },
				func() error { return h.eng.AgentPageClosed(h.ctx, h.ws.SID, alice.SID, id) },
			} {
				if err := fn(); didrouter.ErrorCode(err) != didrouter.EINVALID || !strings.Contains(didrouter.ErrorMessage(err), "page id") {
					t.Errorf("page id %q: %v, want EINVALID about the page id", id, err)
				}
			}
		}
		if err := h.eng.AgentPageOpen(h.ctx, h.ws.SID, "WKnobody", "tab-1"); didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
			t.Errorf("unknown worker: %v, want ENOTFOUND", err)
		}
		if err := h.eng.AgentPageHeartbeat(h.ctx, h.ws.SID, "WKnobody", "tab-1"); didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
			t.Errorf("heartbeat of an unknown worker: %v, want ENOTFOUND", err)
		}
		if err := h.eng.AgentPageHeartbeat(h.ctx, "WSother", alice.SID, "tab-1"); didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
			t.Errorf("heartbeat in another workspace: %v, want ENOTFOUND", err)
		}
		h.page(h.eng, "open", alice, strings.Repeat("a", 64))
	})
}
