package eventcallback

import (
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
	return callback.Observe(st, callback.Inserts{Event: notify})
}
