package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/store/sqlstore"
)

// maxAttempts bounds how often Tx runs fn when transactions deadlock or
// fail to serialize.
const maxAttempts = 5

// Tx runs fn in a READ COMMITTED transaction. Its single-row reads lock the
// row: FOR UPDATE for tasks, reservations and workers, FOR SHARE for
// configuration (workspace, activity, queue, workflow, binding), which
// concurrent calls read without modifying. On a deadlock or serialization failure the whole fn runs again,
// up to maxAttempts times. Errors returned by fn come back unchanged.
func (s *Store) Tx(ctx context.Context, fn func(engine.Tx) error) error {
	var err error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(ptx pgx.Tx) error {
			db := &txDB{tx: ptx}
			if err := fn(sqlstore.NewTx(db, s.dialect, func(ctx context.Context, c engine.Change) error {
				return notify(db, c)
			})); err != nil {
				return err
			}
			return db.flush(ctx)
		})
		if err == nil || !retryable(err) {
			return err
		}
		s.logger.DebugContext(ctx, "postgres: transaction raced another, retrying", "attempt", attempt, "err", err)
		if attempt < maxAttempts {
			if werr := sleep(ctx, backoff(attempt)); werr != nil {
				return err
			}
		}
	}
	return fmt.Errorf("postgres: transaction gave up after %d attempts: %w", maxAttempts, err)
}

// backoff spreads retries so that the transactions that collided do not
// collide again.
func backoff(attempt int) time.Duration {
	base := time.Duration(attempt*attempt) * 2 * time.Millisecond
	return base + rand.N(base)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// channel is the LISTEN/NOTIFY channel of change notifications.
const channel = "didrouter_changes"

// changePayload is a Change on the wire.
type changePayload struct {
	Kind         string `json:"k"`
	WorkspaceSID string `json:"w,omitempty"`
	SID          string `json:"s,omitempty"`
}

// notify sends c inside the transaction (with its other deferred writes):
// Postgres delivers it to listeners only if the transaction commits.
func notify(db *txDB, c engine.Change) error {
	b, err := json.Marshal(changePayload{Kind: c.Kind, WorkspaceSID: c.WorkspaceSID, SID: c.SID})
	if err != nil {
		return err
	}
	db.Defer(`SELECT pg_notify($1, $2)`, []any{channel, string(b)}, func(err error) error {
		return fmt.Errorf("postgres: notify %s %s: %w", c.Kind, c.SID, err)
	})
	return nil
}

func decodeChange(payload string) (engine.Change, error) {
	var p changePayload
	if err := json.Unmarshal([]byte(payload), &p); err != nil {
		return engine.Change{}, fmt.Errorf("postgres: decode change notification %q: %w", payload, err)
	}
	return engine.Change{Kind: p.Kind, WorkspaceSID: p.WorkspaceSID, SID: p.SID}, nil
}
