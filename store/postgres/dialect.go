package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/didrouter/didrouter/store/sqlstore"
)

// Postgres error codes the store reacts to.
const (
	codeUniqueViolation      = "23505"
	codeForeignKeyViolation  = "23503"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
)

// seedLockKey is the advisory lock LockWorkspaces takes ("didrseed").
const seedLockKey = 0x6469_6472_7365_6564

func newDialect() *sqlstore.Dialect {
	return &sqlstore.Dialect{
		Name:       "postgres",
		Unindexed:  func(col string) string { return col },
		ForUpdate:  " FOR UPDATE",
		ForShare:   " FOR SHARE",
		SkipLocked: " FOR UPDATE SKIP LOCKED",
		Time:       func(t time.Time) any { return t },
		UniqueViolation: func(err error) (string, bool) {
			if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == codeUniqueViolation {
				return pgErr.ConstraintName, true
			}
			return "", false
		},
		ForeignKeyViolation: func(err error) bool { return pgCode(err) == codeForeignKeyViolation },
		LockWorkspaces:      fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", int64(seedLockKey)),
	}
}

// pgCode is the Postgres error code of err, or "" for an error that did
// not come from the server.
func pgCode(err error) string {
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		return pgErr.Code
	}
	return ""
}

// retryable reports whether a transaction failed only because it raced
// another one and may simply run again.
func retryable(err error) bool {
	code := pgCode(err)
	return code == codeDeadlockDetected || code == codeSerializationFailure
}

// pgxQuerier is what a pool and a transaction have in common.
type pgxQuerier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// pgxDB adapts pgx to sqlstore.DB.
type pgxDB struct{ q pgxQuerier }

func (d pgxDB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := d.q.Exec(ctx, query, args...)
	return tag.RowsAffected(), err
}

func (d pgxDB) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	return d.q.Query(ctx, query, args...)
}

func (d pgxDB) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return d.q.QueryRow(ctx, query, args...)
}
