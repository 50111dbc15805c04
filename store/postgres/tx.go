package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/didrouter/didrouter"
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
func (s *Store) Tx(ctx context.Context, fn func(didrouter.Tx) error) error {
	var err error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		err = s.runTx(ctx, fn)
		if err == nil || !retryable(err) {
			return err
		}
		s.logger.DebugContext(ctx, "transaction raced another, retrying", "attempt", attempt, "err", err)
		if attempt < maxAttempts {
			if werr := sleep(ctx, backoff(attempt)); werr != nil {
				return err
			}
		}
	}
	return fmt.Errorf("postgres: transaction gave up after %d attempts: %w", maxAttempts, err)
}

// runTx runs fn once in a transaction on one pooled connection. BEGIN goes
// with fn's first statement and COMMIT with its last writes (txDB), so a
// transaction costs no round trip of its own.
func (s *Store) runTx(ctx context.Context, fn func(didrouter.Tx) error) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: acquire a connection: %w", err)
	}
	defer conn.Release()
	db := &txDB{conn: conn}
	err = fn(sqlstore.NewTx(db, s.dialect, func(ctx context.Context, c didrouter.Change) error {
		return notify(db, c)
	}))
	if err == nil {
		err = sendChanges(db)
	}
	if err == nil {
		err = db.commit(ctx)
	}
	if err != nil {
		db.rollback(ctx)
		err = db.failed(err, conn.Conn().IsClosed())
	}
	return err
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

// maxPayload keeps one notification under Postgres' 8000-byte limit.
const maxPayload = 7000

// notify adds c to the transaction's change notifications, sent by
// sendChanges just before commit. Postgres delivers a transaction's
// notifications only if it commits, and drops duplicates within one
// transaction; the changes here are kept in order and deduplicated the same
// way.
func notify(db *txDB, c didrouter.Change) error {
	p := changePayload{Kind: c.Kind, WorkspaceSID: c.WorkspaceSID, SID: c.SID}
	if !slices.Contains(db.changes, p) {
		db.changes = append(db.changes, p)
	}
	return nil
}

// sendChanges defers one pg_notify carrying the transaction's changes as a
// JSON array (several when they would not fit one payload): one statement
// per transaction instead of one per change.
func sendChanges(db *txDB) error {
	for rest := db.changes; len(rest) > 0; {
		n, b, err := fitPayload(rest)
		if err != nil {
			return err
		}
		first := rest[0]
		db.pending.Add(`SELECT pg_notify($1, $2)`, []any{channel, string(b)}, func(err error) error {
			return fmt.Errorf("postgres: notify %s %s and %d more: %w", first.Kind, first.SID, n-1, err)
		})
		rest = rest[n:]
	}
	db.changes = nil
	return nil
}

// fitPayload encodes the longest head of cs (at least one) that fits
// maxPayload, and says how many it took.
func fitPayload(cs []changePayload) (int, []byte, error) {
	n := len(cs)
	for {
		b, err := json.Marshal(cs[:n])
		if err != nil {
			return 0, nil, err
		}
		if len(b) <= maxPayload || n == 1 {
			return n, b, nil
		}
		n = max(1, n*maxPayload/len(b))
		if n == len(cs) {
			n--
		}
	}
}

// decodeChanges reads one notification: a JSON array of changes, or a
// single change object as older versions sent it.
func decodeChanges(payload string) ([]didrouter.Change, error) {
	var ps []changePayload
	if strings.HasPrefix(strings.TrimSpace(payload), "{") {
		var p changePayload
		if err := json.Unmarshal([]byte(payload), &p); err != nil {
			return nil, fmt.Errorf("postgres: decode change notification %q: %w", payload, err)
		}
		ps = []changePayload{p}
	} else if err := json.Unmarshal([]byte(payload), &ps); err != nil {
		return nil, fmt.Errorf("postgres: decode change notification %q: %w", payload, err)
	}
	out := make([]didrouter.Change, len(ps))
	for i, p := range ps {
		out[i] = didrouter.Change{Kind: p.Kind, WorkspaceSID: p.WorkspaceSID, SID: p.SID}
	}
	return out, nil
}
