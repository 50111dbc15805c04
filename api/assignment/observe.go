// Package assignment implements TaskRouter's assignment callback. When the
// engine reserves a worker for a task whose workflow has an
// AssignmentCallbackUrl, the reservation's details are POSTed there once the
// reservation is committed. If that fails they go to the
// FallbackAssignmentCallbackUrl. The instruction the application answers,
// such as accept, reject or dequeue, is carried out through the engine.
package assignment

import (
	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/api/callback"
)

// Observe returns a Store that is st, except that after each committed
// transaction that inserted reservations it calls notify with each of them.
// notify runs after commit, outside any transaction, on the committing
// goroutine, so it must not block. Dispatcher.Notify only queues.
//
// Watching the store rather than the engine catches every reservation the
// engine makes without a hook in the state machine. That covers a new task,
// a freed worker and a timer moving a task on. Each is caught once, because
// a transaction the store retries reports only its committed attempt.
func Observe(st didrouter.Store, notify func(didrouter.Reservation)) didrouter.Store {
	return callback.Observe(st, callback.Inserts{Reservation: notify})
}
