package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/didrouter/didrouter"
)

// Tx implements didrouter.Tx on an open transaction. Create one per attempt:
// it remembers which changes it already announced.
type Tx struct {
	Queries
	notify func(ctx context.Context, c didrouter.Change) error
	seen   map[didrouter.Change]struct{}
}

// NewTx wraps an open transaction. notify queues a change for delivery
// after commit (pg_notify inside the transaction on Postgres, an in-process
// list on SQLite); each distinct change reaches it once.
func NewTx(db DB, d *Dialect, notify func(ctx context.Context, c didrouter.Change) error) *Tx {
	return &Tx{Queries: Queries{db: db, d: d, lock: d.ForUpdate, share: d.ForShare}, notify: notify}
}

var _ didrouter.Tx = (*Tx)(nil)

func (t *Tx) Notify(ctx context.Context, c didrouter.Change) error {
	if _, dup := t.seen[c]; dup {
		return nil
	}
	if err := t.notify(ctx, c); err != nil {
		return t.wrap(err, "notify %s %s", c.Kind, c.SID)
	}
	if t.seen == nil {
		t.seen = make(map[didrouter.Change]struct{})
	}
	t.seen[c] = struct{}{}
	return nil
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
