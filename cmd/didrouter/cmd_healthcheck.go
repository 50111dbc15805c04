package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// runHealthcheck asks a running server's /healthz and exits 0 when it is
// alive. The container image has no shell or curl, so Docker's HEALTHCHECK
// runs the binary itself.
func runHealthcheck(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	return healthcheckCommand{getenv: os.Getenv}.run(ctx, args, stdout, stderr)
}

// healthcheckCommand holds what healthcheck takes from outside, so tests
// can give their own environment.
type healthcheckCommand struct {
	getenv func(string) string
}

func (c healthcheckCommand) run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", envOrGet(c.getenv, "DIDROUTER_ADDR", defaultAddr), "address the server listens on")
	path := fs.String("path", "/healthz", "path to ask (/healthz: alive, /readyz: ready)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for an answer")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	host, port, err := net.SplitHostPort(*addr)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: bad address %q: %v\n", *addr, err)
		return 2
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	url := "http://" + net.JoinHostPort(host, port) + *path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return 2
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: %s: %v\n", url, err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "healthcheck: %s answered %s: %s\n", url, resp.Status, body)
		return 1
	}
	fmt.Fprintf(stdout, "%s: %s\n", url, resp.Status)
	return 0
}
