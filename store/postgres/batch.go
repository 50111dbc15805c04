package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/didrouter/didrouter/store/sqlstore"
)

// txDB is sqlstore.DB on a transaction that defers the writes nobody
// reads before commit, as sqlstore.Deferrer allows. They travel as one pgx
// batch with the next statement (events: with the next that reads events),
// or with the final flush before COMMIT. A call's transactions write
// several events, timers and notifications each, and sent one by one every
// one of them would cost a round trip to Postgres.
type txDB struct {
	tx      pgx.Tx
	pending sqlstore.Pending
	changes []changePayload // change notifications, sent at commit
}

var _ sqlstore.Deferrer = (*txDB)(nil)

func (d *txDB) Deferred() *sqlstore.Pending { return &d.pending }

// flush sends the deferred writes (before commit).
func (d *txDB) flush(ctx context.Context) error {
	pending := d.pending.Take()
	if len(pending) == 0 {
		return nil
	}
	br, err := d.send(ctx, pending, nil)
	if err != nil {
		return err
	}
	return br.Close()
}

// send queues pending and then last (nil: none) in one batch, and reads
// pending's results. On success the caller reads last's result from br
// and closes it.
func (d *txDB) send(ctx context.Context, pending []sqlstore.Write, last *sqlstore.Write) (pgx.BatchResults, error) {
	b := &pgx.Batch{}
	for _, w := range pending {
		b.Queue(w.Query, w.Args...)
	}
	if last != nil {
		b.Queue(last.Query, last.Args...)
	}
	br := d.tx.SendBatch(ctx, b)
	for _, w := range pending {
		if _, err := br.Exec(); err != nil {
			_ = br.Close() // the batch stops at the first failure; err says why
			return nil, w.Wrap(err)
		}
	}
	return br, nil
}

func (d *txDB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	pending := d.pending.TakeBefore(query)
	if len(pending) == 0 {
		tag, err := d.tx.Exec(ctx, query, args...)
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
	pending := d.pending.TakeBefore(query)
	if len(pending) == 0 {
		return d.tx.Query(ctx, query, args...)
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
	pending := d.pending.TakeBefore(query)
	if len(pending) == 0 {
		return d.tx.QueryRow(ctx, query, args...)
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
