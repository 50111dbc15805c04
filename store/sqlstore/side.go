package sqlstore

import (
	"context"
	"errors"

	"github.com/didrouter/didrouter"
)

// TxFunc is a store's Tx method.
type TxFunc func(ctx context.Context, fn func(didrouter.Tx) error) error

// sideStore is what the side stores for web sessions and call settings are
// made of. They read on the pool and write in the store's own transactions,
// so that SQLite's single writer and Postgres's retries apply to them as to
// every other write.
type sideStore struct {
	q    *Queries
	tx   TxFunc
	name string
}

// write runs fn in a transaction of the store. Its transactions must be
// this package's, whose statements fn writes with.
func (s sideStore) write(ctx context.Context, fn func(t *Tx) error) error {
	return s.tx(ctx, func(etx didrouter.Tx) error {
		t, ok := etx.(*Tx)
		if !ok {
			return errors.New("sqlstore: " + s.name + " needs the store's own transactions")
		}
		return fn(t)
	})
}
