package eventcallback

import (
	"context"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/api/callback"
)

// Observe returns a Store that is st, except that after each committed
// transaction it calls notify with each event the transaction inserted, in
// insertion order. notify runs after commit, outside any transaction, on the
// committing goroutine: it must not block (Dispatcher.Notify only queues).
// A transaction the store retries reports the events of its committed
// attempt alone; one that rolls back reports nothing.
func Observe(st didrouter.Store, notify func(didrouter.Event)) didrouter.Store {
	return callback.Observe(st, func(tx didrouter.Tx, record func(didrouter.Event)) didrouter.Tx {
		return &recordingTx{Tx: tx, record: record}
	}, notify)
}

// recordingTx reports the events a transaction inserts.
type recordingTx struct {
	didrouter.Tx
	record func(didrouter.Event)
}

func (t *recordingTx) InsertEvent(ctx context.Context, e didrouter.Event) error {
	if err := t.Tx.InsertEvent(ctx, e); err != nil {
		return err
	}
	t.record(e)
	return nil
}
