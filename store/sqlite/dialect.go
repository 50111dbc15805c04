package sqlite

import (
	"errors"
	"time"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/didrouter/didrouter/store/sqlstore"
)

func newDialect() *sqlstore.Dialect {
	return &sqlstore.Dialect{
		Name:      "sqlite",
		Unindexed: func(col string) string { return "+" + col },
		// Transactions are exclusive writers already: no row locks.
		ForUpdate:  "",
		SkipLocked: "",
		// Unix microseconds: the precision Postgres keeps, and Go's zero
		// time (year 1) still fits in an int64.
		Time: func(t time.Time) any { return t.UnixMicro() },
		UniqueViolation: func(err error) (string, bool) {
			e := sqliteError(err)
			if e == nil {
				return "", false
			}
			switch e.Code() {
			case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
				return e.Error(), true // names the columns: "UNIQUE constraint failed: t.a, t.b"
			}
			return "", false
		},
		ForeignKeyViolation: func(err error) bool {
			e := sqliteError(err)
			return e != nil && e.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
		},
	}
}

func sqliteError(err error) *sqlite.Error {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// busy reports whether a transaction failed only because the file was
// locked by another connection (or process) for longer than busy_timeout.
func busy(err error) bool {
	e := sqliteError(err)
	if e == nil {
		return false
	}
	primary := e.Code() & 0xff
	return primary == sqlite3.SQLITE_BUSY || primary == sqlite3.SQLITE_LOCKED
}
