package storetest

import (
	"testing"

	"github.com/didrouter/didrouter"
)

// Each runs fn against a fresh Postgres store and a fresh SQLite store, as
// parallel subtests "postgres" and "sqlite". It marks t parallel too.
func Each(t *testing.T, fn func(t *testing.T, st didrouter.Store)) {
	t.Parallel()
	t.Run("postgres", func(t *testing.T) { t.Parallel(); fn(t, Postgres(t)) })
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); fn(t, SQLite(t)) })
}
