package main

import (
	"io"
	"testing"
)

// The profiling and benchmark settings are read by the one config parser,
// off unless set.
func TestParseConfigProfiling(t *testing.T) {
	c, err := parseConfig("serve", nil, serveEnv(map[string]string{"DIDROUTER_API_SECRET": testAPISecret}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.PprofAddr != "" || c.BenchFloor {
		t.Errorf("defaults: pprof %q, bench floor %v", c.PprofAddr, c.BenchFloor)
	}
	for _, addr := range []string{"127.0.0.1:6060", "localhost:6060", "[::1]:6060"} {
		c, err := parseConfig("serve", nil, serveEnv(map[string]string{"DIDROUTER_API_SECRET": testAPISecret,
			"DIDROUTER_PPROF_ADDR": addr, "DIDROUTER_BENCH_FLOOR": "true"}), io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		if c.PprofAddr != addr || !c.BenchFloor {
			t.Errorf("%s: pprof %q, bench floor %v", addr, c.PprofAddr, c.BenchFloor)
		}
	}
}
