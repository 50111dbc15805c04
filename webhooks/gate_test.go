package webhooks

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
)

// A freed slot goes to the oldest call in progress, then to the oldest new
// call, or to the newest once the oldest has waited lifoAfter; a new call
// that waits past newCallWait is held, a call in progress waits as long as
// its context.
func TestGateOrder(t *testing.T) {
	clock := didrouter.NewFakeClock(time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC))
	g := newGate(1, 2*time.Second, clock)
	ctx := context.Background()
	leave, err := g.enter(ctx, inProgress)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		who string
		err error
	}
	got := make(chan result, 8)
	admitted := make(chan func(), 8)
	wait := func(who string, c class) {
		l, err := g.enter(ctx, c)
		got <- result{who, err}
		if err == nil {
			admitted <- l
		}
	}
	go wait("new call 1", newCall)
	waitQueued(t, g, 0, 1)
	go wait("new call 2", newCall)
	waitQueued(t, g, 0, 2)
	go wait("new call 3", newCall)
	waitQueued(t, g, 0, 3)
	go wait("in progress 1", inProgress)
	waitQueued(t, g, 1, 3)
	go wait("in progress 2", inProgress)
	waitQueued(t, g, 2, 3)

	for _, want := range []string{"in progress 1", "in progress 2", "new call 1", "past capacity: new call 3", "new call 2"} {
		if want == "past capacity: new call 3" {
			clock.Advance(lifoAfter)
			want = "new call 3"
		}
		leave()
		r := <-got
		if r.who != want || r.err != nil {
			t.Fatalf("admitted %+v, want %s", r, want)
		}
		leave = <-admitted
	}

	go wait("late new call", newCall)
	waitQueued(t, g, 0, 1)
	go wait("patient call in progress", inProgress)
	waitQueued(t, g, 1, 1)
	clock.Advance(2 * time.Second)
	if r := <-got; r.who != "late new call" || !errors.Is(r.err, errBusy) {
		t.Fatalf("new call past its wait: %+v, want errBusy", r)
	}
	clock.Advance(time.Minute)
	leave()
	if r := <-got; r.who != "patient call in progress" || r.err != nil {
		t.Fatalf("call in progress after a minute: %+v, want admitted", r)
	}
	(<-admitted)()
	if in, nc := g.queued(); g.free != 1 || in != 0 || nc != 0 {
		t.Fatalf("after all left: %d free, %d and %d waiting", g.free, in, nc)
	}
}

// A webhook whose context ends stops waiting and takes no slot.
func TestGateContextEnds(t *testing.T) {
	g := newGate(1, time.Hour, didrouter.NewFakeClock(time.Now()))
	leave, err := g.enter(context.Background(), inProgress)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := g.enter(ctx, inProgress)
		done <- err
	}()
	waitQueued(t, g, 1, 0)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("enter after its context ended: %v", err)
	}
	leave()
	if in, nc := g.queued(); g.free != 1 || in != 0 || nc != 0 {
		t.Fatalf("after all left: %d free, %d and %d waiting", g.free, in, nc)
	}
}

func waitQueued(t *testing.T, g *gate, inProgressWaiting, newCallsWaiting int) {
	t.Helper()
	for range 1000 {
		if a, b := g.queued(); a == inProgressWaiting && b == newCallsWaiting {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	a, b := g.queued()
	t.Fatalf("waiting: %d in progress and %d new calls, want %d and %d", a, b, inProgressWaiting, newCallsWaiting)
}
