package callback

import (
	"context"

	"github.com/didrouter/didrouter"
)

// Observe returns a Store that is st, except that wrap wraps each
// transaction's Tx and calls record for what it sees written, such as a
// reservation or an event. After the transaction commits, notify is called
// with each recorded item in order. notify runs after commit, outside any
// transaction, on the committing goroutine, so it must not block. A
// transaction the store retries reports only its committed attempt, and
// one that rolls back reports nothing.
func Observe[T any](st didrouter.Store, wrap func(tx didrouter.Tx, record func(T)) didrouter.Tx, notify func(T)) didrouter.Store {
	return &observed[T]{Store: st, wrap: wrap, notify: notify}
}

type observed[T any] struct {
	didrouter.Store
	wrap   func(didrouter.Tx, func(T)) didrouter.Tx
	notify func(T)
}

func (o *observed[T]) Tx(ctx context.Context, fn func(didrouter.Tx) error) error {
	var made []T
	record := func(v T) { made = append(made, v) }
	err := o.Store.Tx(ctx, func(tx didrouter.Tx) error {
		made = made[:0] // a retried attempt starts afresh
		return fn(o.wrap(tx, record))
	})
	if err != nil {
		return err
	}
	for _, v := range made {
		o.notify(v)
	}
	return nil
}
