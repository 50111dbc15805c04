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
			e, ok := errors.AsType[*sqlite.Error](err)
			if !ok {
				return "", false
			}
			switch e.Code() {
			case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
				return e.Error(), true // names the columns: "UNIQUE constraint failed: t.a, t.b"
			}
			return "", false
		},
		ForeignKeyViolation: func(err error) bool { return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY },
	}
}

// sqliteCode is the extended result code of err, or 0 (SQLITE_OK) for an
// error that did not come from SQLite.
func sqliteCode(err error) int {
	if e, ok := errors.AsType[*sqlite.Error](err); ok {
		return e.Code()
	}
	return 0
}

// busy reports whether a transaction failed only because the file was
// locked by another connection (or process) for longer than busy_timeout.
func busy(err error) bool {
	primary := sqliteCode(err) & 0xff
	return primary == sqlite3.SQLITE_BUSY || primary == sqlite3.SQLITE_LOCKED
}
