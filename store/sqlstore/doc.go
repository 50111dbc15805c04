// Package sqlstore is the SQL shared by store/postgres and store/sqlite. It
// is one implementation of didrouter.Reader and didrouter.Tx, written
// against the tiny query interface DB and a Dialect. The Dialect holds the
// few differences, which are row locks, the time encoding and how a unique
// violation looks. Both dialects accept $N placeholders, ON CONFLICT and
// RETURNING, so the statements are shared verbatim.
//
// Inside a transaction, single-row reads of tasks, reservations and workers
// lock the row for update; reads of configuration rows take a shared lock,
// so that concurrent calls reading one workspace or activity do not queue.
//
// Times are stored in UTC, truncated to the microsecond. Postgres keeps
// microseconds, and truncating in both stores makes a value read back
// compare equal to the value written, truncated the same way.
package sqlstore
