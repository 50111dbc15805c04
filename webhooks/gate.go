package webhooks

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/didrouter/didrouter"
)

// Defaults of the admission gate (Config.Concurrency, Config.NewCallWait).
const (
	DefaultConcurrency = 16              // the Postgres store's default pool size
	DefaultNewCallWait = 2 * time.Second // then a new caller hears "lines busy" and comes back
)

// lifoAfter is how long the oldest new call may wait before the newest
// goes first.
const lifoAfter = 500 * time.Millisecond

// errBusy says a new call's webhook found no free slot within
// Config.NewCallWait. It did nothing in the store: busyHold answers it.
var errBusy = didrouter.Errorf(didrouter.EUNAVAILABLE, "every webhook slot is taken; new call held")

// class orders the webhooks waiting at the gate.
type class int

const (
	// inProgress: a call the server already took (an agent answering, a
	// dial's outcome, a hang-up). Finishing it frees an agent and keeps
	// the records whole, so it goes first, oldest first.
	inProgress class = iota
	// newCall: a call's routing step, and the queue's wait polls. Oldest
	// first while the queue drains quickly; once the oldest has waited
	// lifoAfter the server is past capacity, and the newest goes first, so
	// that the calls admitted start at once and finish in time instead of
	// all of them waiting until they time out.
	newCall
	// ownGate: the webhook's function enters the gate itself, as a new
	// call, once it knows it needs the store (incoming's greeting does
	// not).
	ownGate
)

// gate bounds how many webhooks work at once. Past what the database can
// commit, an unbounded queue makes every webhook wait until it times out:
// the work done for the late ones is wasted, hang-ups are lost, agents stay
// busy. With the gate, the database works at its pace on webhooks that
// still have time, calls in progress first, and a new call that finds no
// slot soon hears that the lines are busy and comes back.
type gate struct {
	clock       didrouter.Clock
	newCallWait time.Duration

	mu      sync.Mutex
	free    int
	waiting [2][]waiter // by class, in arrival order
}

type waiter struct {
	ready chan struct{}
	since time.Time
}

func newGate(slots int, newCallWait time.Duration, clock didrouter.Clock) *gate {
	return &gate{clock: clock, newCallWait: newCallWait, free: slots}
}

// enter waits for a slot and returns the function that gives it back. A
// new call waits at most newCallWait (errBusy); any webhook stops waiting
// when ctx ends.
func (g *gate) enter(ctx context.Context, c class) (func(), error) {
	if g == nil {
		return func() {}, nil
	}
	if c != inProgress && c != newCall {
		return nil, fmt.Errorf("webhooks: no gate class %d", c)
	}
	g.mu.Lock()
	if g.free > 0 {
		g.free--
		g.mu.Unlock()
		return g.leave, nil
	}
	ready := make(chan struct{})
	var timeout <-chan time.Time
	if c == newCall {
		timeout = g.clock.After(g.newCallWait)
	}
	g.waiting[c] = append(g.waiting[c], waiter{ready, g.clock.Now()})
	g.mu.Unlock()

	var err error
	select {
	case <-ready:
		return g.leave, nil
	case <-timeout:
		err = errBusy
	case <-ctx.Done():
		err = fmt.Errorf("wait for a webhook slot: %w", ctx.Err())
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.remove(ready, c) {
		return nil, err
	}
	// The slot came at the moment the wait ended: keep it.
	return g.leave, nil
}

// remove takes ready out of its queue; false when leave handed it a slot.
func (g *gate) remove(ready chan struct{}, c class) bool {
	q := g.waiting[c]
	for i, w := range q {
		if w.ready == ready {
			g.waiting[c] = append(q[:i], q[i+1:]...)
			return true
		}
	}
	return false
}

// leave hands the slot to the oldest call in progress waiting, else to a
// new call (see newCall), else frees it.
func (g *gate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if q := g.waiting[inProgress]; len(q) > 0 {
		close(q[0].ready)
		g.waiting[inProgress] = q[1:]
		return
	}
	q := g.waiting[newCall]
	switch {
	case len(q) == 0:
		g.free++
	case g.clock.Now().Sub(q[0].since) < lifoAfter:
		close(q[0].ready)
		g.waiting[newCall] = q[1:]
	default:
		close(q[len(q)-1].ready)
		g.waiting[newCall] = q[:len(q)-1]
	}
}

// queued says how many webhooks of each class wait (tests and metrics).
func (g *gate) queued() (inProgressWaiting, newCallsWaiting int) {
	if g == nil {
		return 0, 0
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.waiting[inProgress]), len(g.waiting[newCall])
}

// Waiting says how many webhooks wait at the admission gate: of calls in
// progress, and of new calls.
func (h *Handler) Waiting() (inProgress, newCalls int) { return h.gate.queued() }
