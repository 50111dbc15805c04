package web

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/didrouter/didrouter"
)

// feed hands the store's change feed to the open event streams. An
// instance holds one subscription, a Postgres LISTEN connection, however
// many agent pages are open. A change only wakes the streams it concerns,
// and each re-reads its agent's state from the store.
type feed struct {
	mu    sync.Mutex
	byKey map[string]map[*listener]struct{} // by workspace and worker
}

// listener is one open event stream.
type listener struct {
	key, workspaceSID string
	wake              chan struct{} // one pending wake-up is enough: the stream re-reads everything
}

func newFeed() *feed { return &feed{byKey: map[string]map[*listener]struct{}{}} }

func feedKey(workspaceSID, workerSID string) string { return workspaceSID + "/" + workerSID }

func (f *feed) add(workspaceSID, workerSID string) *listener {
	l := &listener{key: feedKey(workspaceSID, workerSID), workspaceSID: workspaceSID, wake: make(chan struct{}, 1)}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.byKey[l.key] == nil {
		f.byKey[l.key] = map[*listener]struct{}{}
	}
	f.byKey[l.key][l] = struct{}{}
	return l
}

func (f *feed) remove(l *listener) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.byKey[l.key], l)
	if len(f.byKey[l.key]) == 0 {
		delete(f.byKey, l.key)
	}
}

// dispatch wakes the listeners a change concerns. A change to a worker's row
// or its reservations wakes that worker's pages. A change to a workspace's
// activities or settings wakes all pages of the workspace. A resync wakes
// every page.
func (f *feed) dispatch(c didrouter.Change) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch c.Kind {
	case didrouter.ChangeWorker, didrouter.ChangeReservation:
		for l := range f.byKey[feedKey(c.WorkspaceSID, c.SID)] {
			l.poke()
		}
		f.pokeWorkspace(c.WorkspaceSID)
	case didrouter.ChangeTask:
		f.pokeWorkspace(c.WorkspaceSID)
	case didrouter.ChangeActivity, didrouter.ChangeWorkspace, didrouter.ChangeResync:
		for _, set := range f.byKey {
			for l := range set {
				if c.Kind == didrouter.ChangeResync || l.workspaceSID == c.WorkspaceSID {
					l.poke()
				}
			}
		}
	}
}

func (l *listener) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Backoff of run while the store refuses a subscription.
const (
	minResubscribe = 500 * time.Millisecond
	maxResubscribe = 30 * time.Second
)

// run dispatches the store's changes until ctx ends. When the feed closes
// or cannot be opened, as when the database is down, it subscribes again
// with backoff. It then has every page re-read, because changes were lost
// meanwhile. The pages' heartbeats refresh them in between.
func (f *feed) run(ctx context.Context, st didrouter.Store, clock didrouter.Clock, log *slog.Logger) error {
	wait := minResubscribe
	lost := false
	for {
		ch, err := st.Subscribe(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			log.WarnContext(ctx, "change feed subscribe failed, retrying", "err", err, "in", wait.String())
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-clock.After(wait):
			}
			wait = min(2*wait, maxResubscribe)
			lost = true
			continue
		}
		wait = minResubscribe
		if lost {
			f.dispatch(didrouter.Change{Kind: didrouter.ChangeResync})
		}
		for c := range ch {
			f.dispatch(c)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		log.WarnContext(ctx, "change feed closed, resubscribing")
		lost = true
	}
}
