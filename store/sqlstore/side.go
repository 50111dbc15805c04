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

// Web implements didrouter.WebStore.
type Web struct{ sideStore }

var _ didrouter.WebStore = Web{}

// CallSettings implements didrouter.CallSettingsStore.
type CallSettings struct{ sideStore }

var _ didrouter.CallSettingsStore = CallSettings{}

// NewSideStores returns the web and call settings stores of a store: q
// reads committed state, tx is the store's Tx method (whose transactions
// must be *Tx values).
func NewSideStores(q *Queries, tx TxFunc) (Web, CallSettings) {
	return Web{sideStore{q: q, tx: tx, name: "the web store"}},
		CallSettings{sideStore{q: q, tx: tx, name: "the call settings store"}}
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
