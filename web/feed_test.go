package web

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/store/storetest"
)

// flakySubscribe is a real store whose first subscriptions fail, as while
// the database restarts.
type flakySubscribe struct {
	didrouter.Store
	fail atomic.Int32
}

func (s *flakySubscribe) Subscribe(ctx context.Context) (<-chan didrouter.Change, error) {
	if s.fail.Add(-1) >= 0 {
		return nil, errors.New("connection refused")
	}
	return s.Store.Subscribe(ctx)
}

// The feed keeps trying to subscribe, then has every page re-read and
// wakes a worker's pages on that worker's changes only.
func TestFeedResubscribes(t *testing.T) {
	t.Parallel()
	st := &flakySubscribe{Store: storetest.SQLite(t)}
	st.fail.Store(2)
	f := newFeed()
	alice, bob := f.add("WS1", "WKalice"), f.add("WS1", "WKbob")
	defer f.remove(alice)
	defer f.remove(bob)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.run(ctx, st, didrouter.SystemClock{}, slog.New(slog.DiscardHandler)) }()
	woken := func(l *listener) bool {
		select {
		case <-l.wake:
			return true
		case <-time.After(5 * time.Second):
			return false
		}
	}
	if !woken(alice) || !woken(bob) {
		t.Fatal("no resync after the subscription came back")
	}
	if err := st.Tx(ctx, func(tx didrouter.Tx) error {
		return tx.Notify(ctx, didrouter.Change{Kind: didrouter.ChangeReservation, WorkspaceSID: "WS1", SID: "WKalice"})
	}); err != nil {
		t.Fatal(err)
	}
	if !woken(alice) {
		t.Error("alice's change did not wake her page")
	}
	select {
	case <-bob.wake:
		t.Error("alice's change woke bob's page")
	case <-time.After(100 * time.Millisecond):
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("run: %v", err)
	}
}
