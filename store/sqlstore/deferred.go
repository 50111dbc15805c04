package sqlstore

import "context"

// Deferrer is implemented by a transaction's DB that can hold back writes
// whose outcome nobody reads before commit (events, timers, change
// notifications) and send them with the next statement or at commit, in
// one round trip. It must send them in order, before any later statement,
// so the transaction sees its own writes as if they had run at once. wrap
// turns a failure of the write into the error its caller would have got.
type Deferrer interface {
	Defer(query string, args []any, wrap func(error) error)
}

// execLater runs a write whose only possible outcome the caller acts on is
// failure of the whole transaction: deferred where the DB can, else now.
func (q *Queries) execLater(ctx context.Context, wrap func(error) error, query string, args ...any) error {
	if d, ok := q.db.(Deferrer); ok {
		d.Defer(query, args, wrap)
		return nil
	}
	if _, err := q.db.Exec(ctx, query, args...); err != nil {
		return wrap(err)
	}
	return nil
}
