package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/store/postgres"
	"github.com/didrouter/didrouter/store/storetest"
)

// roundTrips counts what the pool sends: each statement on its own and
// each batch is one round trip to Postgres.
type roundTrips struct {
	mu  sync.Mutex
	n   int
	log []string
}

func (r *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	r.add(d.SQL)
	return ctx
}

func (r *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (r *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	r.add(fmt.Sprintf("batch of %d", d.Batch.Len()))
	return ctx
}

func (r *roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (r *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

func (r *roundTrips) add(what string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	r.log = append(r.log, what)
}

func (r *roundTrips) take() (int, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, log := r.n, r.log
	r.n, r.log = 0, nil
	return n, log
}

func openTraced(t *testing.T) (*postgres.Store, *roundTrips) {
	t.Helper()
	trips := &roundTrips{}
	s, err := postgres.OpenTraced(t.Context(), storetest.PostgresURL(t), trips)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, trips
}

func insertWorkspace(t *testing.T, s *postgres.Store) didrouter.Workspace {
	t.Helper()
	now := time.Now()
	ws := didrouter.Workspace{SID: didrouter.NewSID(didrouter.PrefixWorkspace), FriendlyName: "Trips",
		DateCreated: now, DateUpdated: now}
	if err := s.Tx(t.Context(), func(tx didrouter.Tx) error { return tx.InsertWorkspace(t.Context(), ws) }); err != nil {
		t.Fatal(err)
	}
	return ws
}

// A transaction costs no round trip of its own: BEGIN travels with its
// first statement, COMMIT with its deferred writes.
func TestTransactionRoundTrips(t *testing.T) {
	s, trips := openTraced(t)
	ctx := t.Context()
	ws := insertWorkspace(t, s)
	now := ws.DateCreated
	readThenTimer := func(tx didrouter.Tx) error {
		if _, err := tx.GetWorkspace(ctx, ws.SID); err != nil {
			return err
		}
		return tx.SetTimer(ctx, didrouter.Timer{WorkspaceSID: ws.SID, Kind: didrouter.TimerTask, TaskSID: "WTtrips",
			FireAt: now.Add(time.Hour)})
	}
	// The first run prepares the statements; the second shows the steady state.
	for range 2 {
		trips.take()
		if err := s.Tx(ctx, readThenTimer); err != nil {
			t.Fatal(err)
		}
	}
	if n, log := trips.take(); n != 2 {
		t.Errorf("a read and a deferred write took %d round trips, want 2 (BEGIN with the read, the write with COMMIT): %q", n, log)
	}
	if err := s.Tx(ctx, func(didrouter.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if n, log := trips.take(); n != 0 {
		t.Errorf("an empty transaction took %d round trips, want 0: %q", n, log)
	}
	next := time.Time{}
	if err := s.Tx(ctx, func(tx didrouter.Tx) (err error) { next, err = tx.NextTimer(ctx); return err }); err != nil {
		t.Fatal(err)
	}
	if !next.Equal(now.Add(time.Hour).Truncate(time.Microsecond)) {
		t.Errorf("the deferred timer was not committed: next timer %v", next)
	}
}

// A transaction whose function swallowed a statement's error does not
// commit: Postgres answers its COMMIT with ROLLBACK, and Tx says so.
func TestSwallowedErrorDoesNotCommit(t *testing.T) {
	s, _ := openTraced(t)
	ctx := t.Context()
	ws := insertWorkspace(t, s)
	other := ws
	other.SID = didrouter.NewSID(didrouter.PrefixWorkspace)
	err := s.Tx(ctx, func(tx didrouter.Tx) error {
		if err := tx.InsertWorkspace(ctx, other); err != nil {
			return err
		}
		if err := tx.InsertWorkspace(ctx, ws); err == nil {
			t.Error("inserting a workspace twice succeeded")
		}
		return nil
	})
	if !errors.Is(err, postgres.ErrCommitRolledBack) {
		t.Errorf("Tx after a swallowed error: %v, want %v", err, postgres.ErrCommitRolledBack)
	}
	if _, err := s.GetWorkspace(ctx, other.SID); didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
		t.Errorf("the rolled-back transaction's first insert is visible: %v", err)
	}
	// The connection is clean for the next transaction.
	for range 20 {
		if err := s.Tx(ctx, func(tx didrouter.Tx) error { _, err := tx.GetWorkspace(ctx, ws.SID); return err }); err != nil {
			t.Fatalf("a transaction after the rolled-back one: %v", err)
		}
	}
}

// Connections is the pool's size, which the webhooks' gate follows: the
// default, or pool_max_conns from the URL.
func TestConnections(t *testing.T) {
	url := storetest.PostgresURL(t)
	s, err := postgres.Open(t.Context(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.Connections(); got != 16 {
		t.Errorf("default pool: %d connections, want 16", got)
	}
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	small, err := postgres.Open(t.Context(), url+sep+"pool_max_conns=5", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	if got := small.Connections(); got != 5 {
		t.Errorf("pool_max_conns=5: %d connections", got)
	}
}
