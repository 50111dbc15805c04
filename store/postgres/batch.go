package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/didrouter/didrouter/store/sqlstore"
)

// batchConn is what a transaction needs of its pooled connection.
type batchConn interface {
	pgxQuerier
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// beginStatement opens every transaction of the store.
const beginStatement = "BEGIN ISOLATION LEVEL READ COMMITTED"

// errCommitRolledBack is a COMMIT that Postgres answered with ROLLBACK: a
// statement of the transaction had failed and its error was not returned.
var errCommitRolledBack = errors.New("postgres: commit rolled back: a statement of the transaction failed")

// txDB is sqlstore.DB on one transaction. It sends BEGIN with the
// transaction's first statement and COMMIT with its last writes, and defers
// the writes nobody reads before commit, as sqlstore.Deferrer allows: they
// travel as one pgx batch with the next statement (events: with the next
// that reads events), or with COMMIT. A call's transactions write several
// events, timers and notifications each; sent one by one, and BEGIN and
// COMMIT on their own, each would cost a round trip to Postgres.
type txDB struct {
	conn    batchConn
	begun   bool // BEGIN has been sent
	ending  bool // COMMIT has been sent
	pending sqlstore.Pending
	changes []changePayload // change notifications, sent at commit
}

var _ sqlstore.Deferrer = (*txDB)(nil)

func (d *txDB) Deferred() *sqlstore.Pending { return &d.pending }

// commit sends the deferred writes and COMMIT in one batch. A transaction
// that sent nothing has nothing to commit.
func (d *txDB) commit(ctx context.Context) error {
	pending := d.pending.Take()
	if !d.begun && len(pending) == 0 {
		return nil
	}
	d.ending = true
	br, err := d.send(ctx, pending, &sqlstore.Write{Query: "COMMIT"})
	if err != nil {
		return err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	if tag.String() == "ROLLBACK" {
		return errCommitRolledBack
	}
	return nil
}

// notCommitted is a transaction whose connection failed before its COMMIT
// was sent. Postgres rolled it back with the connection, so running it
// again cannot apply it twice (pgconn.SafeToRetry says so, and the outage
// layer retries it).
type notCommitted struct{ err error }

func (e notCommitted) Error() string     { return e.err.Error() }
func (e notCommitted) Unwrap() error     { return e.err }
func (e notCommitted) SafeToRetry() bool { return true }

// failed is the error a failed transaction returns: err, marked safe to
// retry when the connection died before COMMIT was sent.
func (d *txDB) failed(err error, connClosed bool) error {
	if connClosed && !d.ending {
		return notCommitted{err}
	}
	return err
}

// rollback ends a transaction that failed. A connection left inside a
// transaction is closed, not reused, when it goes back to the pool.
func (d *txDB) rollback(ctx context.Context) {
	if d.begun {
		_, _ = d.conn.Exec(ctx, "ROLLBACK")
	}
}

// direct reports whether query can go to Postgres on its own: the
// transaction is open and no deferred write must precede it.
func (d *txDB) direct(query string) ([]sqlstore.Write, bool) {
	pending := d.pending.TakeBefore(query)
	return pending, d.begun && len(pending) == 0
}

// send queues BEGIN (the first time), pending and then last in one batch,
// and reads the results before last's. The caller reads last's result from
// br and closes it.
func (d *txDB) send(ctx context.Context, pending []sqlstore.Write, last *sqlstore.Write) (pgx.BatchResults, error) {
	b := &pgx.Batch{}
	begin := !d.begun
	if begin {
		b.Queue(beginStatement)
		d.begun = true
	}
	for _, w := range pending {
		b.Queue(w.Query, w.Args...)
	}
	b.Queue(last.Query, last.Args...)
	br := d.conn.SendBatch(ctx, b)
	if begin {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return nil, fmt.Errorf("postgres: begin: %w", err)
		}
	}
	for _, w := range pending {
		if _, err := br.Exec(); err != nil {
			_ = br.Close() // the batch stops at the first failure; err says why
			return nil, w.Wrap(err)
		}
	}
	return br, nil
}

func (d *txDB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	pending, direct := d.direct(query)
	if direct {
		tag, err := d.conn.Exec(ctx, query, args...)
		return tag.RowsAffected(), err
	}
	br, err := d.send(ctx, pending, &sqlstore.Write{Query: query, Args: args})
	if err != nil {
		return 0, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag.RowsAffected(), err
}

func (d *txDB) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	pending, direct := d.direct(query)
	if direct {
		return d.conn.Query(ctx, query, args...)
	}
	br, err := d.send(ctx, pending, &sqlstore.Write{Query: query, Args: args})
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		_ = br.Close()
		return nil, err
	}
	return &batchRows{Rows: rows, br: br}, nil
}

func (d *txDB) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	pending, direct := d.direct(query)
	if direct {
		return d.conn.QueryRow(ctx, query, args...)
	}
	br, err := d.send(ctx, pending, &sqlstore.Write{Query: query, Args: args})
	if err != nil {
		return sqlstore.ErrRow{Err: err}
	}
	return batchRow{row: br.QueryRow(), br: br}
}

// batchRows closes its batch with the rows.
type batchRows struct {
	pgx.Rows
	br pgx.BatchResults
}

func (r *batchRows) Close() {
	r.Rows.Close()
	_ = r.br.Close()
}

// batchRow closes its batch once scanned.
type batchRow struct {
	row pgx.Row
	br  pgx.BatchResults
}

func (r batchRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	return err
}
