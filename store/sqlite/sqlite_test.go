package sqlite_test

import (
	"testing"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/store/storetest"
)

func TestContract(t *testing.T) {
	storetest.RunContract(t, func(t *testing.T) didrouter.Store { return storetest.SQLite(t) })
}

func BenchmarkStore(b *testing.B) {
	storetest.RunBenchmarks(b, func(b *testing.B) didrouter.Store { return storetest.SQLite(b) })
}
