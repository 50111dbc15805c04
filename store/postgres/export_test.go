package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// OpenTraced is Open with tracer seeing every statement and batch sent.
func OpenTraced(ctx context.Context, databaseURL string, tracer pgx.QueryTracer) (*Store, error) {
	return open(ctx, databaseURL, nil, func(cfg *pgxpool.Config) { cfg.ConnConfig.Tracer = tracer })
}

// ErrCommitRolledBack is the error of a COMMIT that Postgres rolled back.
var ErrCommitRolledBack = errCommitRolledBack
