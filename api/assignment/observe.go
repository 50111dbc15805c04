// Package assignment implements TaskRouter's assignment callback: when the
// engine reserves a worker for a task whose workflow has an
// AssignmentCallbackUrl, the reservation's details are POSTed there (then
// to the FallbackAssignmentCallbackUrl if that fails) after the reservation
// is committed, and the instruction the application answers (accept,
// reject, dequeue) is carried out through the engine.
package assignment

import (
	"context"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/api/callback"
)

// Observe returns a Store that is st, except that after each committed
// transaction that inserted reservations it calls notify with each of them.
// notify runs after commit, outside any transaction, on the committing
// goroutine: it must not block (Dispatcher.Notify only queues).
//
// Watching the store rather than the engine catches every reservation the
// engine makes (a new task, a freed worker, a timer moving a task on) with
// no hook in the state machine, and only once: a transaction the store
// retries reports the reservations of its committed attempt alone.
func Observe(st didrouter.Store, notify func(didrouter.Reservation)) didrouter.Store {
	return callback.Observe(st, func(tx didrouter.Tx, record func(didrouter.Reservation)) didrouter.Tx {
		return &recordingTx{Tx: tx, record: record}
	}, notify)
}

// recordingTx reports the reservations a transaction inserts.
type recordingTx struct {
	didrouter.Tx
	record func(didrouter.Reservation)
}

func (t *recordingTx) InsertReservation(ctx context.Context, r didrouter.Reservation) error {
	if err := t.Tx.InsertReservation(ctx, r); err != nil {
		return err
	}
	t.record(r)
	return nil
}
