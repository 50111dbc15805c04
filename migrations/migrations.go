// Package migrations holds didrouter's SQL schema, one goose v3 migration
// set per dialect, embedded in the binary, and applies it.
package migrations

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Postgres holds the Postgres migrations under "postgres/".
//
//go:embed postgres/*.sql
var Postgres embed.FS

// SQLite holds the SQLite migrations under "sqlite/".
//
//go:embed sqlite/*.sql
var SQLite embed.FS

// Dialect names a migration set.
type Dialect string

const (
	DialectPostgres Dialect = "postgres"
	DialectSQLite   Dialect = "sqlite"
)

// FS returns the migration files of dialect, rooted at the directory that
// holds them.
func FS(dialect Dialect) (fs.FS, error) {
	switch dialect {
	case DialectPostgres:
		return fs.Sub(Postgres, "postgres")
	case DialectSQLite:
		return fs.Sub(SQLite, "sqlite")
	default:
		return nil, fmt.Errorf("migrations: unknown dialect %q (want %q or %q)", dialect, DialectPostgres, DialectSQLite)
	}
}

// Option configures Up.
type Option func(*options)

type options struct {
	logger *slog.Logger
}

// WithLogger logs each applied migration to logger (Up is silent otherwise).
func WithLogger(logger *slog.Logger) Option {
	return func(o *options) { o.logger = logger }
}

// Up applies every pending migration of dialect to db. On Postgres it holds
// a session-level advisory lock meanwhile, so that several instances
// starting at once apply each migration exactly once.
func Up(ctx context.Context, db *sql.DB, dialect Dialect, opts ...Option) error {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	p, err := newProvider(db, dialect)
	if err != nil {
		return err
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrations: apply %s migrations: %w", dialect, err)
	}
	if o.logger != nil {
		for _, r := range results {
			o.logger.InfoContext(ctx, "migration applied", "dialect", string(dialect),
				"version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
		}
	}
	return nil
}

// Versions reports the schema version db is at and the newest one this
// binary knows.
func Versions(ctx context.Context, db *sql.DB, dialect Dialect) (current, latest int64, err error) {
	p, err := newProvider(db, dialect)
	if err != nil {
		return 0, 0, err
	}
	current, latest, err = p.GetVersions(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("migrations: read %s schema version: %w", dialect, err)
	}
	return current, latest, nil
}

// Fingerprint is a hash of dialect's migration files: equal fingerprints
// mean equal schemas (tests name their template database after it).
func Fingerprint(dialect Dialect) (string, error) {
	fsys, err := FS(dialect)
	if err != nil {
		return "", err
	}
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return "", fmt.Errorf("migrations: list %s files: %w", dialect, err)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return "", fmt.Errorf("migrations: read %s: %w", name, err)
		}
		fmt.Fprintf(h, "%s %d\n", name, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func newProvider(db *sql.DB, dialect Dialect) (*goose.Provider, error) {
	fsys, err := FS(dialect)
	if err != nil {
		return nil, err
	}
	// goose would print to stdout; Up logs the results itself.
	opts := []goose.ProviderOption{goose.WithSlog(slog.New(slog.DiscardHandler)), goose.WithDisableGlobalRegistry(true)}
	var gooseDialect goose.Dialect
	switch dialect {
	case DialectPostgres:
		gooseDialect = goose.DialectPostgres
		// Probe every second for up to five minutes: a peer may be migrating.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
		if err != nil {
			return nil, fmt.Errorf("migrations: postgres locker: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	case DialectSQLite:
		gooseDialect = goose.DialectSQLite3
	}
	p, err := goose.NewProvider(gooseDialect, db, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("migrations: %s provider: %w", dialect, err)
	}
	return p, nil
}
