package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/store/postgres"
	"github.com/didrouter/didrouter/store/storetest"
)

// Instances starting at once on an empty database migrate it once, without
// failing each other.
func TestMigrateConcurrently(t *testing.T) {
	url := storetest.EmptyPostgresURL(t)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = postgres.Migrate(t.Context(), url, nil)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migration %d: %v", i, err)
		}
	}
	s, err := postgres.Open(t.Context(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(t.Context()); err != nil {
		t.Errorf("migrating a migrated database: %v", err)
	}
	if _, err := s.ListWorkspaces(t.Context()); err != nil {
		t.Errorf("schema not usable after migration: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := postgres.Open(ctx, "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2", nil); err == nil {
		t.Error("Open of an unreachable server succeeded")
	}
	if _, err := postgres.Open(ctx, "::not a url::", nil); err == nil {
		t.Error("Open of a malformed URL succeeded")
	}
}

// A change feed whose connection dies reconnects, says so with a
// ChangeResync, and goes on delivering changes.
func TestSubscribeReconnects(t *testing.T) {
	s := storetest.Postgres(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ch, err := s.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var killed int
	err = s.Pool().QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()`).Scan(&killed)
	if err != nil || killed != 1 {
		t.Fatalf("terminated %d listeners (%v), want 1", killed, err)
	}
	if c := next(t, ch); c.Kind != didrouter.ChangeResync {
		t.Fatalf("first change after the connection died = %+v, want a resync", c)
	}
	want := didrouter.Change{Kind: didrouter.ChangeTimer, WorkspaceSID: "WS1", SID: "WT1"}
	if err := s.Tx(ctx, func(tx didrouter.Tx) error { return tx.Notify(ctx, want) }); err != nil {
		t.Fatal(err)
	}
	if c := next(t, ch); c != want {
		t.Fatalf("change after reconnecting = %+v, want %+v", c, want)
	}
}

func next(t *testing.T, ch <-chan didrouter.Change) didrouter.Change {
	t.Helper()
	select {
	case c, ok := <-ch:
		if !ok {
			t.Fatal("change feed closed")
		}
		return c
	case <-time.After(15 * time.Second):
		t.Fatal("no change within 15s")
	}
	return didrouter.Change{}
}
