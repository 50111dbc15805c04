package degraded

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/store/storetest"
)

// Instances that saw the same members split the workers without overlap
// and without leaving anyone out. An instance not heard for a while no
// longer gets a share.
func TestMembersSplitWorkers(t *testing.T) {
	now := time.Now()
	names := []string{"i1", "i2", "i3"}
	views := map[string]*Members{}
	for _, self := range names {
		m := NewMembers(self, nil, nil)
		for _, other := range names {
			m.heard(other, now.Add(-time.Second))
		}
		m.heard("gone", now.Add(-time.Minute))
		views[self] = m
	}
	for i := range 300 {
		w := fmt.Sprintf("WK%032d", i)
		owners := 0
		for _, m := range views {
			if m.Mine(w, now) {
				owners++
			}
		}
		if owners != 1 {
			t.Fatalf("worker %s has %d owners, want 1", w, owners)
		}
	}
	if alive := views["i1"].Alive(now); len(alive) != 3 {
		t.Fatalf("alive: %v, want the three live instances", alive)
	}
	alone := NewMembers("solo", nil, nil)
	if !alone.Mine("WKany", now) {
		t.Fatal("a lone instance must own every worker")
	}
}

// When the feed itself stopped, this instance stopped hearing even its own
// heartbeat, and the others are judged as of then. So a database restart
// that breaks every feed does not make each instance think it is alone.
func TestMembersJudgedWhenTheFeedLastWorked(t *testing.T) {
	now := time.Now()
	m := NewMembers("i1", nil, nil)
	m.heard("i1", now.Add(-40*time.Second)) // the feed broke 40 s ago
	m.heard("i2", now.Add(-45*time.Second))
	m.heard("i3", now.Add(-90*time.Second)) // gone long before that
	if alive := m.Alive(now); len(alive) != 2 || alive[0] != "i1" || alive[1] != "i2" {
		t.Fatalf("alive %v, want [i1 i2]", alive)
	}
}

// Only an instance that has heard its own heartbeats without a break for
// longer than memberTTL may take a silent instance for gone.
func TestMembersListening(t *testing.T) {
	t0 := time.Now()
	m := NewMembers("me", nil, nil)
	if m.Listening(t0) {
		t.Fatal("listening before hearing anything")
	}
	at := t0
	for ; at.Sub(t0) <= memberTTL; at = at.Add(heartbeatEvery) {
		m.heard("me", at)
		if m.Listening(at) {
			t.Fatalf("listening after %v only", at.Sub(t0))
		}
	}
	m.heard("me", at)
	if !m.Listening(at) {
		t.Fatalf("not listening after %v of heartbeats", at.Sub(t0))
	}
	if m.Listening(at.Add(selfGap + time.Second)) {
		t.Fatal("listening although our own heartbeat has not come back")
	}
	// The feed was down for a while, so the count starts over.
	later := at.Add(time.Minute)
	m.heard("me", later)
	if m.Listening(later.Add(heartbeatEvery)) {
		t.Fatal("listening right after a break in the feed")
	}
}

// Heartbeats heard through the store's feed are dated by the clock the
// members were given, so a test or a replay on a fake clock judges who is
// alive on that clock's time, not the wall clock's.
func TestMembersDateHeartbeatsWithTheirClock(t *testing.T) {
	start := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	clock := didrouter.NewFakeClock(start)
	m := NewMembers("me", clock, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.Run(ctx, storetest.SQLite(t))
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		m.mu.Lock()
		at, ok := m.seen["me"]
		m.mu.Unlock()
		if ok {
			if at.Before(start) || at.After(clock.Now()) {
				t.Fatalf("own heartbeat dated %v, want a time of the fake clock (%v to %v)", at, start, clock.Now())
			}
			return
		}
		// The first heartbeat may go out before the feed is subscribed.
		// Moving the fake clock sends the next one.
		clock.Advance(heartbeatEvery)
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("own heartbeat never heard through the feed")
}
