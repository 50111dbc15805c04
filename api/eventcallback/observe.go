package eventcallback

import (
	"context"

	"github.com/didrouter/didrouter/api/callback"
	"github.com/didrouter/didrouter/engine"
)

// Observe returns a Store that is st, except that after each committed
// transaction it calls notify with each event the transaction inserted, in
// insertion order. notify runs after commit, outside any transaction, on the
// committing goroutine: it must not block (Dispatcher.Notify only queues).
// A transaction the store retries reports the events of its committed
// attempt alone; one that rolls back reports nothing.
func Observe(st engine.Store, notify func(engine.Event)) engine.Store {
	return callback.Observe(st, func(tx engine.Tx, record func(engine.Event)) engine.Tx {
		return &recordingTx{Tx: tx, record: record}
	}, notify)
}

// recordingTx reports the events a transaction inserts.
type recordingTx struct {
	engine.Tx
	record func(engine.Event)
}

func (t *recordingTx) InsertEvent(ctx context.Context, e engine.Event) error {
	if err := t.Tx.InsertEvent(ctx, e); err != nil {
		return err
	}
	t.record(e)
	return nil
}
