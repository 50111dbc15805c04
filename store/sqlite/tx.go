package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/store/sqlstore"
)

// maxAttempts bounds how often Tx runs fn when the file stays locked.
const maxAttempts = 5

// Tx runs fn in one write transaction. Transactions of this Store run one
// at a time (a Go semaphore, which hands over faster than SQLite's busy
// polling); fn must not start another Tx. The changes fn announces are
// delivered to subscribers after commit.
func (s *Store) Tx(ctx context.Context, fn func(didrouter.Tx) error) error {
	select {
	case s.writer <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.writer }()
	var err error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		var changes []didrouter.Change
		err = s.attempt(ctx, fn, &changes)
		if err == nil {
			s.feed.publish(changes)
			return nil
		}
		if !busy(err) {
			return err
		}
		s.logger.DebugContext(ctx, "database busy, retrying", "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt) * 10 * time.Millisecond):
		}
	}
	return fmt.Errorf("sqlite: transaction gave up after %d attempts: %w", maxAttempts, err)
}

func (s *Store) attempt(ctx context.Context, fn func(didrouter.Tx) error, changes *[]didrouter.Change) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = tx.Rollback() // the error that brought us here matters more
		}
	}()
	queue := func(_ context.Context, c didrouter.Change) error {
		*changes = append(*changes, c)
		return nil
	}
	db := sqlstore.NewDeferringDB(sqlstore.StdDB(cached{c: s.stmts, tx: tx}))
	if err := fn(sqlstore.NewTx(db, s.dialect, queue)); err != nil {
		return err
	}
	if err := db.Flush(ctx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	committed = true
	return nil
}
