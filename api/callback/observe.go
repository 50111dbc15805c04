package callback

import (
	"context"

	"github.com/didrouter/didrouter"
)

// Inserts are told the rows a committed transaction inserted: the
// assignment dispatcher its reservations, the event dispatcher its events.
// A nil func is not told.
type Inserts struct {
	Reservation func(didrouter.Reservation)
	Event       func(didrouter.Event)
}

// Observe returns a Store that is st, except that after each committed
// transaction it tells tell of each row the transaction inserted, in
// insertion order. tell runs after commit, outside any transaction, on the
// committing goroutine, so it must not block. A transaction the store
// retries reports only its committed attempt, and one that rolls back
// reports nothing.
func Observe(st didrouter.Store, tell Inserts) didrouter.Store {
	return &observed{Store: st, tell: tell}
}

type observed struct {
	didrouter.Store
	tell Inserts
}

func (o *observed) Tx(ctx context.Context, fn func(didrouter.Tx) error) error {
	var told []func()
	err := o.Store.Tx(ctx, func(tx didrouter.Tx) error {
		told = told[:0] // a retried attempt starts afresh
		return fn(&recordingTx{Tx: tx, tell: o.tell, told: &told})
	})
	if err != nil {
		return err
	}
	for _, f := range told {
		f()
	}
	return nil
}

// recordingTx notes the rows a transaction inserts, to tell after commit.
type recordingTx struct {
	didrouter.Tx
	tell Inserts
	told *[]func()
}

func (t *recordingTx) InsertReservation(ctx context.Context, r didrouter.Reservation) error {
	return note(t, t.Tx.InsertReservation(ctx, r), t.tell.Reservation, r)
}

func (t *recordingTx) InsertEvent(ctx context.Context, e didrouter.Event) error {
	return note(t, t.Tx.InsertEvent(ctx, e), t.tell.Event, e)
}

// note has tell told of v after commit, when its insert succeeded.
func note[T any](t *recordingTx, err error, tell func(T), v T) error {
	if err == nil && tell != nil {
		*t.told = append(*t.told, func() { tell(v) })
	}
	return err
}
