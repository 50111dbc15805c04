// Package postgres is the Postgres didrouter.Store: pgx's native pool, row
// locks and conditional updates for every decision several instances could
// race on, and LISTEN/NOTIFY for the change feed. Times keep microsecond
// precision (timestamptz).
package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/migrations"
	"github.com/didrouter/didrouter/store/sqlstore"
)

// defaultMaxConns replaces pgx's default pool size (4 on a small machine)
// unless the URL sets pool_max_conns: a transaction holds a connection while
// the engine waits on row locks, so a few busy calls must not starve the rest.
const defaultMaxConns = 16

// Store is the Postgres didrouter.Store. Its Reader methods read committed
// state through the pool.
type Store struct {
	*sqlstore.Queries
	// Web is the web pages' sign-in state (didrouter.WebStore).
	sqlstore.Web
	// CallSettings are business hours and voicemail timing (didrouter.CallSettingsStore).
	sqlstore.CallSettings
	pool    *pgxpool.Pool
	dialect *sqlstore.Dialect
	logger  *slog.Logger
}

var (
	_ didrouter.Store             = (*Store)(nil)
	_ didrouter.WebStore          = (*Store)(nil)
	_ didrouter.CallSettingsStore = (*Store)(nil)
)

// Open connects to databaseURL and checks the connection. databaseURL is a
// postgres:// URL or a key=value string, and pgxpool settings such as
// pool_max_conns are honoured. Open does not migrate, so call Migrate or
// the package-level Migrate first.
func Open(ctx context.Context, databaseURL string, logger *slog.Logger) (*Store, error) {
	return open(ctx, databaseURL, logger, func(*pgxpool.Config) {})
}

// open is Open with a last word on the pool's configuration (tests trace
// the statements sent).
func open(ctx context.Context, databaseURL string, logger *slog.Logger, configure func(*pgxpool.Config)) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse database URL: %w", err)
	}
	if !strings.Contains(databaseURL, "pool_max_conns") {
		cfg.MaxConns = defaultMaxConns
	}
	configure(cfg)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: create pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect to %s: %w", describe(cfg), err)
	}
	d := newDialect()
	s := &Store{
		Queries: sqlstore.NewReader(pgxDB{pool}, d),
		pool:    pool,
		dialect: d,
		logger:  logger,
	}
	s.Web, s.CallSettings = sqlstore.NewSideStores(s.Queries, s.Tx)
	return s, nil
}

// describe names the server and database without the password.
func describe(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	return fmt.Sprintf("%s:%d/%s as %s", c.Host, c.Port, c.Database, c.User)
}

// Migrate applies the pending migrations to databaseURL. Several instances
// may run it at once: goose's session lock lets one apply them.
func Migrate(ctx context.Context, databaseURL string, logger *slog.Logger) error {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return fmt.Errorf("postgres: parse database URL: %w", err)
	}
	db := stdlib.OpenDB(*cfg.ConnConfig)
	defer db.Close()
	return migrate(ctx, db, logger)
}

// Migrate applies the pending migrations through the store's pool.
func (s *Store) Migrate(ctx context.Context) error {
	db := stdlib.OpenDBFromPool(s.pool)
	defer db.Close()
	return migrate(ctx, db, s.logger)
}

func migrate(ctx context.Context, db *sql.DB, logger *slog.Logger) error {
	if err := migrations.Up(ctx, db, migrations.DialectPostgres, migrations.WithLogger(logger)); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close closes the pool. Subscriptions have their own connections and end
// with their contexts.
func (s *Store) Close() { s.pool.Close() }

// ConnString is the URL the store was opened with (tests open a second
// instance on the same database with it).
func (s *Store) ConnString() string { return s.pool.Config().ConnString() }

// Connections is the pool's size: the webhooks admit that many at once.
func (s *Store) Connections() int { return int(s.pool.Config().MaxConns) }

// Pool exposes the pgx pool for benchmarks and tools.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }
