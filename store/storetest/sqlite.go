package storetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/didrouter/didrouter/store/sqlite"
)

// SQLite returns a migrated store on a new file in t.TempDir(), closed when
// the test ends.
func SQLite(t testing.TB) *sqlite.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "didrouter.db"), nil)
	if err != nil {
		t.Fatalf("storetest: open SQLite store: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}
