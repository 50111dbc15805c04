package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/metrics"
	"github.com/didrouter/didrouter/routing"
	"github.com/didrouter/didrouter/store/storetest"
	"github.com/didrouter/didrouter/webhooks"
)

// testRouter serves newRouter over a fresh SQLite store with ready as the
// readiness check; the logs (debug and up) go to the returned buffer.
func testRouter(t *testing.T, ready func(context.Context) error) (string, *syncBuffer) {
	t.Helper()
	st := storetest.SQLite(t)
	clock := didrouter.NewFakeClock(time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC))
	ws, err := engine.Seed(context.Background(), st, clock)
	if err != nil {
		t.Fatal(err)
	}
	norm, err := routing.NewNormalizer("US")
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	eng, err := engine.New(engine.Config{Store: st, Clock: clock, Logger: logger, Normalizer: norm, InstanceID: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	wh, err := webhooks.NewHandler(webhooks.Config{
		Engine: eng, Store: st, Normalizer: norm, Clock: clock, Logger: logger,
		PublicURL: "https://calls.example.com", AuthToken: "tok", WorkspaceSID: ws.SID,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(newRouter(wh, nil, nil, ready, logger, metrics.New()))
	t.Cleanup(srv.Close)
	return srv.URL, logs
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// /readyz answers anyone, so it says "not ready" and no more: the store's
// connection error (hosts, users, databases) goes to the log, once per
// reason however often a balancer asks.
func TestReadyzKeepsDetailsInTheLog(t *testing.T) {
	var (
		mu  sync.Mutex
		err error
	)
	setErr := func(e error) { mu.Lock(); err = e; mu.Unlock() }
	base, logs := testRouter(t, func(context.Context) error { mu.Lock(); defer mu.Unlock(); return err })
	detail := "failed to connect to host=db.internal user=didrouter database=calls: password authentication failed"
	setErr(errors.New("store: " + detail))
	for range 3 {
		if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || body != "not ready\n" {
			t.Fatalf("/readyz with the store down: %d %q, want 503 \"not ready\"", code, body)
		}
	}
	if n := strings.Count(logs.String(), detail); n != 1 {
		t.Errorf("the reason is logged %d times, want once:\n%s", n, logs)
	}
	setErr(nil)
	if code, body := get(t, base+"/readyz"); code != http.StatusOK || body != "ready\n" {
		t.Fatalf("/readyz when ready: %d %q", code, body)
	}
	if !strings.Contains(logs.String(), "ready again") {
		t.Errorf("no \"ready again\" logged:\n%s", logs)
	}
	setErr(errDraining)
	if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || body != "not ready: draining\n" {
		t.Fatalf("/readyz while draining: %d %q", code, body)
	}
}

// A request no route matches is logged with its path clipped: the path is
// anyone's, and can be nearly a megabyte.
func TestAccessLogClipsUnmatchedPaths(t *testing.T) {
	base, logs := testRouter(t, func(context.Context) error { return nil })
	before := len(logs.String())
	if code, _ := get(t, base+"/"+strings.Repeat("x", 60000)); code != http.StatusNotFound {
		t.Fatalf("unknown path: %d, want 404", code)
	}
	if logged := logs.String()[before:]; len(logged) == 0 || len(logged) > 1024 {
		t.Fatalf("logged %d bytes for one request, want under 1 KB", len(logged))
	}
}
