package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/didrouter/didrouter"
)

// runMigrate applies the pending database migrations and exits (serve
// also migrates on start; this is for deployments that migrate as a
// separate step).
func runMigrate(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	cfg, err := parseConfig("migrate", args, os.Getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "didrouter migrate: %v\n", err)
		return 2
	}
	logger := newLogger(cfg, stderr)
	st, kind, err := openStore(ctx, cfg, didrouter.SystemClock{}, logger)
	if err != nil {
		fmt.Fprintf(stderr, "didrouter migrate: %v\n", err)
		return 1
	}
	st.Close()
	fmt.Fprintf(stdout, "didrouter migrate: %s is up to date\n", kind)
	return 0
}
