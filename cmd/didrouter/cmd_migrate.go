package main

import (
	"context"
	"fmt"
	"io"

	"github.com/didrouter/didrouter"
)

// runMigrate applies the pending database migrations and exits (serve
// also migrates on start; this is for deployments that migrate as a
// separate step).
func runMigrate(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	cfg, logger, code, ok := startConfig("migrate", args, stderr)
	if !ok {
		return code
	}
	st, kind, err := openStore(ctx, cfg, didrouter.SystemClock{}, logger)
	if err != nil {
		fmt.Fprintf(stderr, "didrouter migrate: %v\n", err)
		return 1
	}
	st.Close()
	fmt.Fprintf(stdout, "didrouter migrate: %s is up to date\n", kind)
	return 0
}
