package replay_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/api"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/routing"
	"github.com/didrouter/didrouter/store/storetest"
	"github.com/didrouter/didrouter/webhooks"
)

const (
	authToken = "replay-test-token"
	apiKey    = "SKreplaytest"
	apiSecret = "replaysecret"
)

// stores runs fn on a fresh Postgres store and a fresh SQLite store.
func stores(t *testing.T, fn func(t *testing.T, st didrouter.Store)) {
	storetest.Each(t, fn)
}

// server is a whole didrouter (engine, webhooks, admin API) on a real
// HTTP server and the real clock, as `didrouter serve` wires it. wrap,
// when set, stands between the webhooks and the engine (to misroute).
func server(t *testing.T, st didrouter.Store, wrap func(webhooks.Engine) webhooks.Engine) *httptest.Server {
	t.Helper()
	return serverWith(t, st, wrap, nil)
}

// serverWith is server with changes to the webhooks' configuration.
func serverWith(t *testing.T, st didrouter.Store, wrap func(webhooks.Engine) webhooks.Engine, adjust func(*webhooks.Config)) *httptest.Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	clock := didrouter.SystemClock{}
	ws, err := engine.Seed(ctx, st, clock)
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	norm, err := routing.NewNormalizer("US")
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	eng, err := engine.New(engine.Config{Store: st, Clock: clock, Logger: logger, Normalizer: norm, InstanceID: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- eng.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	for deadline := time.Now().Add(10 * time.Second); !eng.Ready(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("engine never became ready")
		}
	}
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	var whEngine webhooks.Engine = eng
	if wrap != nil {
		whEngine = wrap(eng)
	}
	cfg := webhooks.Config{
		Engine: whEngine, Store: st, Normalizer: norm, Clock: clock, Logger: logger,
		PublicURL: srv.URL, AuthToken: authToken, WorkspaceSID: ws.SID, WaitPause: time.Second,
	}
	if adjust != nil {
		adjust(&cfg)
	}
	wh, err := webhooks.NewHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := api.NewHandler(api.Config{Engine: eng, Store: st, Clock: clock, Logger: logger, APIKey: apiKey, APISecret: apiSecret})
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	wh.Mount(r)
	admin.Mount(r)
	handler = r
	return srv
}
