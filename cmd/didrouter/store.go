package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/store/postgres"
	"github.com/didrouter/didrouter/store/postgres/outage"
	"github.com/didrouter/didrouter/store/sqlite"
)

// migratingStore is a store that can apply its own migrations.
type migratingStore interface {
	didrouter.Store
	Migrate(ctx context.Context) error
}

// openStore opens the configured store (Postgres when DATABASE_URL is set,
// else SQLite at DIDROUTER_DATA) and applies pending migrations. kind
// describes it for logs, without a password. The store rides out short
// outages of the database (outage.Store).
func openStore(ctx context.Context, cfg config, clock didrouter.Clock, logger *slog.Logger) (st didrouter.Store, kind string, err error) {
	var s migratingStore
	if cfg.usesPostgres() {
		kind = "postgres"
		pg, err := postgres.Open(ctx, cfg.DatabaseURL, logger)
		if err != nil {
			return nil, "", fmt.Errorf("DATABASE_URL: %w", err)
		}
		s = pg
	} else {
		kind = "sqlite " + cfg.DataPath
		lite, err := sqlite.Open(ctx, cfg.DataPath, logger)
		if err != nil {
			return nil, "", fmt.Errorf("DIDROUTER_DATA: open %s: %w", cfg.DataPath, err)
		}
		s = lite
	}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, "", fmt.Errorf("migrate the %s database: %w", kind, err)
	}
	// A database restart of a few seconds delays the calls it overlaps
	// instead of failing them (see package outage).
	return outage.New(s, outage.Config{Logger: logger, MaxWait: cfg.StoreWait, Clock: clock}), kind, nil
}
