package webhooks

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
)

// A freed slot goes to a call in progress before an older new call, and a
// new call that waits past newCallWait is turned away.
func TestGateCallsInProgressFirst(t *testing.T) {
	clock := didrouter.NewFakeClock(time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC))
	g := newGate(1, time.Second, clock)
	ctx := context.Background()
	leave, err := g.enter(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		who string
		err error
	}
	got := make(chan result, 3)
	wait := func(who string, newCall bool) {
		l, err := g.enter(ctx, newCall)
		got <- result{who, err}
		if err == nil {
			l()
		}
	}
	go wait("new call", true)
	waitQueued(t, g, 0, 1)
	go wait("in progress", false)
	waitQueued(t, g, 1, 1)
	leave()
	if r := <-got; r.who != "in progress" || r.err != nil {
		t.Fatalf("first admitted: %+v, want the call in progress", r)
	}
	if r := <-got; r.who != "new call" || r.err != nil {
		t.Fatalf("then: %+v, want the new call", r)
	}

	leave, _ = g.enter(ctx, false)
	go wait("late new call", true)
	waitQueued(t, g, 0, 1)
	clock.Advance(time.Second)
	if r := <-got; !errors.Is(r.err, errShed) {
		t.Fatalf("new call past its wait: %+v, want errShed", r)
	}
	leave()
	if g.free != 1 || len(g.newCalls) != 0 {
		t.Fatalf("after all left: free %d, %d waiting", g.free, len(g.newCalls))
	}
}

func waitQueued(t *testing.T, g *gate, inProgress, newCalls int) {
	t.Helper()
	for range 500 {
		g.mu.Lock()
		a, b := len(g.inProgress), len(g.newCalls)
		g.mu.Unlock()
		if a == inProgress && b == newCalls {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("waiters never reached %d in progress, %d new", inProgress, newCalls)
}
