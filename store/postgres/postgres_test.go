package postgres_test

import (
	"context"
	"testing"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/store/postgres"
	"github.com/didrouter/didrouter/store/storetest"
)

func TestContract(t *testing.T) {
	storetest.RunContract(t,
		func(t *testing.T) didrouter.Store { return storetest.Postgres(t) },
		storetest.WithPeer(func(t *testing.T, s didrouter.Store) didrouter.Store {
			peer, err := postgres.Open(context.Background(), s.(*postgres.Store).ConnString(), nil)
			if err != nil {
				t.Fatalf("open a second instance: %v", err)
			}
			t.Cleanup(peer.Close)
			return peer
		}))
}

func BenchmarkStore(b *testing.B) {
	storetest.RunBenchmarks(b, func(b *testing.B) didrouter.Store { return storetest.Postgres(b) })
}
