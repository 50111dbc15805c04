package eventcallback

import (
	"context"

	"github.com/didrouter/didrouter/engine"
)

// Observe returns a Store that is st, except that after each committed
// transaction it calls notify with each event the transaction inserted, in
// insertion order. notify runs after commit, outside any transaction, on the
// committing goroutine: it must not block (Dispatcher.Notify only queues).
// A transaction the store retries reports the events of its committed
// attempt alone; one that rolls back reports nothing.
func Observe(st engine.Store, notify func(engine.Event)) engine.Store {
	return &observed{Store: st, notify: notify}
}

type observed struct {
	engine.Store
	notify func(engine.Event)
}

func (o *observed) Tx(ctx context.Context, fn func(engine.Tx) error) error {
	var made []engine.Event
	err := o.Store.Tx(ctx, func(tx engine.Tx) error {
		made = made[:0] // a retried attempt starts afresh
		return fn(&recordingTx{Tx: tx, made: &made})
	})
	if err != nil {
		return err
	}
	for _, e := range made {
		o.notify(e)
	}
	return nil
}

// recordingTx remembers the events a transaction inserts.
type recordingTx struct {
	engine.Tx
	made *[]engine.Event
}

func (t *recordingTx) InsertEvent(ctx context.Context, e engine.Event) error {
	if err := t.Tx.InsertEvent(ctx, e); err != nil {
		return err
	}
	*t.made = append(*t.made, e)
	return nil
}
