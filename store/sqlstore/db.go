package sqlstore

import (
	"context"
	"time"
)

// DB runs statements: a connection pool or an open transaction.
type DB interface {
	// Exec runs a statement and reports how many rows it touched.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	// QueryRow's Scan fails with an error matching sql.ErrNoRows when the
	// query returned no row.
	QueryRow(ctx context.Context, query string, args ...any) Row
}

// Row is one result row.
type Row interface {
	Scan(dest ...any) error
}

// Rows iterates a result.
type Rows interface {
	Row
	Next() bool
	Err() error
	Close()
}

// Dialect holds what differs between the two databases.
type Dialect struct {
	// Name prefixes wrapped errors ("postgres", "sqlite").
	Name string
	// ForUpdate is appended to single-row reads inside a transaction
	// (" FOR UPDATE" on Postgres; SQLite's write transactions are exclusive).
	ForUpdate string
	// ForShare is appended to reads of configuration rows inside a
	// transaction (" FOR SHARE" on Postgres).
	ForShare string
	// SkipLocked is appended to the subquery choosing due timers
	// (" FOR UPDATE SKIP LOCKED" on Postgres).
	SkipLocked string
	// Time encodes a time as a statement argument. It receives a UTC time
	// truncated to the microsecond.
	Time func(time.Time) any
	// UniqueViolation reports whether err is a unique-constraint violation,
	// with a detail naming the constraint or its columns.
	UniqueViolation func(err error) (detail string, ok bool)
	// ForeignKeyViolation reports whether err is a foreign-key violation.
	ForeignKeyViolation func(err error) bool
	// LockWorkspaces is a statement that makes transactions creating
	// workspaces wait for each other. On Postgres it takes a
	// transaction-scoped advisory lock. It is "" on SQLite, where write
	// transactions run one at a time anyway.
	LockWorkspaces string
	// Unindexed writes a column so that the planner does not pick an index
	// for it. SQLite writes "+col", and Postgres the column as it is. A
	// list filtered by task or worker must use that column's index.
	// Without statistics SQLite prefers the workspace's date index, which
	// serves the ORDER BY, and walks every row of the workspace.
	Unindexed func(col string) string
}
