package sqlstore

import (
	"context"
	"database/sql"
)

// stdQuerier is what *sql.DB and *sql.Tx have in common.
type stdQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// StdDB adapts a database/sql pool or transaction to DB.
func StdDB(q stdQuerier) DB { return stdDB{q} }

type stdDB struct{ q stdQuerier }

func (d stdDB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := d.q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (d stdDB) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	rows, err := d.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return stdRows{rows}, nil
}

func (d stdDB) QueryRow(ctx context.Context, query string, args ...any) Row {
	return d.q.QueryRowContext(ctx, query, args...)
}

// stdRows drops Close's error: Err reports what went wrong while reading.
type stdRows struct{ *sql.Rows }

func (r stdRows) Close() { _ = r.Rows.Close() }
