// Package sqlite is the embedded didrouter.Store. It keeps one file with
// modernc.org/sqlite, which is pure Go, in WAL mode so that reads run while
// a write is in progress.
//
// A SQLite file belongs to one didrouter process. Write transactions are
// serialized in the process and by BEGIN IMMEDIATE in the file, and the
// change feed is delivered in the process only. Several instances sharing
// state need the Postgres store.
//
// Times are stored as unix microseconds in UTC. That is the precision
// Postgres keeps, so both stores give back equal values for the same input.
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/fileperm"
	"github.com/didrouter/didrouter/migrations"
	"github.com/didrouter/didrouter/store/sqlstore"
)

// Connection settings: wait up to 10 s for a lock held by another
// connection, enforce foreign keys, write-ahead log, and start every
// transaction as a writer (BEGIN IMMEDIATE) so that it never has to upgrade
// a read lock midway, which SQLite can only refuse.
const dsnParams = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)" +
	"&_pragma=synchronous(NORMAL)&_txlock=immediate"

// maxOpenConns bounds the pool: one writer at a time plus concurrent readers.
const maxOpenConns = 8

// Store is the SQLite didrouter.Store. Its Reader methods read committed state.
type Store struct {
	*sqlstore.Queries
	// Web is the web pages' sign-in state (didrouter.WebStore).
	sqlstore.Web
	// CallSettings are business hours and voicemail timing (didrouter.CallSettingsStore).
	sqlstore.CallSettings
	db      *sql.DB
	dialect *sqlstore.Dialect
	logger  *slog.Logger
	stmts   *stmtCache
	writer  chan struct{} // holds a token while a transaction runs
	feed    *hub
	closed  sync.Once
}

var (
	_ didrouter.Store             = (*Store)(nil)
	_ didrouter.WebStore          = (*Store)(nil)
	_ didrouter.CallSettingsStore = (*Store)(nil)
)

// Open opens (creating if needed) the database file at path and applies the
// pending migrations: the file belongs to this process, so there is no
// separate migration step.
func Open(ctx context.Context, path string, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case path == "":
		return nil, fmt.Errorf("sqlite: no database file given")
	case path == ":memory:" || strings.HasPrefix(path, "file::memory:"):
		return nil, fmt.Errorf("sqlite: an in-memory database is not supported (each pooled connection would see its own); use a file")
	case strings.ContainsRune(path, '?'):
		return nil, fmt.Errorf("sqlite: database file %q: the name must not contain '?'", path)
	case strings.HasPrefix(path, "file:"):
		// A URI names its file in a way only SQLite reads: the file could
		// not be created private (below).
		return nil, fmt.Errorf("sqlite: database file %q: give a file name, not a file: URI", path)
	}
	// The file holds callers' numbers and emails. SQLite would create it
	// 0644 and gives its -wal and -shm files the database file's mode, so
	// creating it 0600 first keeps all three private; files an older
	// version made wider are narrowed.
	if err := fileperm.Create(path); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		fileperm.Tighten(ctx, f, logger)
	}
	db, err := sql.Open("sqlite", path+"?"+dsnParams)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(maxOpenConns)
	db.SetMaxIdleConns(maxOpenConns)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	d := newDialect()
	stmts := newStmtCache(db)
	s := &Store{
		Queries: sqlstore.NewReader(sqlstore.StdDB(cached{c: stmts}), d),
		db:      db,
		stmts:   stmts,
		dialect: d,
		logger:  logger,
		writer:  make(chan struct{}, 1),
		feed:    newHub(),
	}
	s.Web, s.CallSettings = sqlstore.NewSideStores(s.Queries, s.Tx)
	if err := s.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Migrate applies the pending migrations (Open already did).
func (s *Store) Migrate(ctx context.Context) error {
	if err := migrations.Up(ctx, s.db, migrations.DialectSQLite, migrations.WithLogger(s.logger)); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}

// Ping checks that the database file is usable.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Close closes the database. Calling it again does nothing.
func (s *Store) Close() {
	s.closed.Do(func() {
		s.stmts.close()
		if err := s.db.Close(); err != nil {
			s.logger.Warn("closing the database failed", "err", err)
		}
	})
}

// Subscribe delivers the changes committed through this Store until ctx
// ends, then closes the channel. Changes queue up without bound while the
// receiver is busy, so that a commit never waits for a reader.
func (s *Store) Subscribe(ctx context.Context) (<-chan didrouter.Change, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.feed.subscribe(ctx), nil
}
