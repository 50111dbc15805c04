package webhooks

import (
	"context"
	"sync"
	"time"

	"github.com/didrouter/didrouter"
)

// Defaults of the admission gate (Config.Concurrency, Config.NewCallWait).
const (
	DefaultConcurrency = 16          // the Postgres store's default pool size
	DefaultNewCallWait = time.Second // then a new call hears "please hold" and comes back
)

// errShed says a new call's webhook waited Config.NewCallWait for a slot
// and was turned away; its fallback answers it.
var errShed = didrouter.Errorf(didrouter.EUNAVAILABLE, "the server is at capacity; new call turned away")

// gate bounds how many webhooks work at once. Past what the database can
// commit, an unbounded queue makes every webhook wait until it times out,
// calls in progress included. With the gate, webhooks of calls in progress
// (answer, dial outcome, ...) get a free slot before new calls, and a new
// call waits at most newCallWait: then its fallback holds the caller and
// brings the call back a moment later. So the calls the server admits
// finish in time, and the ones it cannot take yet hear a message at once.
type gate struct {
	clock       didrouter.Clock
	newCallWait time.Duration

	mu         sync.Mutex
	free       int
	inProgress []chan struct{} // waiters, oldest first
	newCalls   []chan struct{}
}

func newGate(slots int, newCallWait time.Duration, clock didrouter.Clock) *gate {
	return &gate{clock: clock, newCallWait: newCallWait, free: slots}
}

// enter waits for a slot and returns the function that gives it back. A
// new call waits at most newCallWait (errShed); any webhook stops waiting
// when ctx ends.
func (g *gate) enter(ctx context.Context, newCall bool) (func(), error) {
	if g == nil {
		return func() {}, nil
	}
	g.mu.Lock()
	if g.free > 0 && len(g.inProgress) == 0 && (!newCall || len(g.newCalls) == 0) {
		g.free--
		g.mu.Unlock()
		return g.leave, nil
	}
	ready := make(chan struct{})
	if newCall {
		g.newCalls = append(g.newCalls, ready)
	} else {
		g.inProgress = append(g.inProgress, ready)
	}
	g.mu.Unlock()

	var timeout <-chan time.Time
	if newCall {
		timeout = g.clock.After(g.newCallWait)
	}
	var err error
	select {
	case <-ready:
		return g.leave, nil
	case <-timeout:
		err = errShed
	case <-ctx.Done():
		err = ctx.Err()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.remove(ready, newCall) {
		return nil, err
	}
	// The slot came at the moment the wait ended: keep it.
	return g.leave, nil
}

// remove takes ready out of its queue; false when leave handed it a slot.
func (g *gate) remove(ready chan struct{}, newCall bool) bool {
	q := &g.inProgress
	if newCall {
		q = &g.newCalls
	}
	for i, w := range *q {
		if w == ready {
			*q = append((*q)[:i], (*q)[i+1:]...)
			return true
		}
	}
	return false
}

// leave hands the slot to the oldest waiting call in progress, else to the
// oldest new call, else frees it.
func (g *gate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case len(g.inProgress) > 0:
		close(g.inProgress[0])
		g.inProgress = g.inProgress[1:]
	case len(g.newCalls) > 0:
		close(g.newCalls[0])
		g.newCalls = g.newCalls[1:]
	default:
		g.free++
	}
}
