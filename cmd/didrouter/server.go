package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter/api"
	"github.com/didrouter/didrouter/httpmw"
	"github.com/didrouter/didrouter/logsafe"
	"github.com/didrouter/didrouter/metrics"
	"github.com/didrouter/didrouter/web"
	"github.com/didrouter/didrouter/webhooks"
)

// readyTimeout bounds one readiness check.
const readyTimeout = 2 * time.Second

// newRouter assembles the server's HTTP handler. It serves the Twilio
// webhooks, the admin API unless admin is nil, and the health endpoints.
// /healthz says the process answers. /readyz says it can take calls, with
// the store reachable and the worker index loaded. /metrics serves m's
// registry, and every request is timed by route pattern and status. The web
// pages, unless pages is nil, sit at /agent/ and /admin/. more adds handlers
// with routes of their own, such as SCIM at /scim/v2.
func newRouter(wh *webhooks.Handler, admin *api.Handler, pages *web.Handler, ready func(context.Context) error, logger *slog.Logger, m *metrics.Metrics, more ...mounter) http.Handler {
	r := chi.NewRouter()
	r.Use(accessLog(logger), m.Middleware)
	r.Method(http.MethodGet, "/metrics", m.Handler())
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	rl := &readyLog{logger: logger}
	r.Get("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := ready(ctx); err != nil {
			rl.notReady(ctx, err)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(notReadyText(err)))
			return
		}
		rl.ready(ctx)
		_, _ = w.Write([]byte("ready\n"))
	})
	wh.Mount(r)
	if admin != nil {
		admin.Mount(r)
	}
	if pages != nil {
		pages.Mount(r)
	}
	for _, h := range more {
		h.Mount(r) // SCIM provisioning
	}
	return r
}

// notReadyText is what /readyz answers anyone who asks while not ready. It
// gives no details, because a store's connection error names hosts, users
// and databases, and those go to the log only. Draining is said, because it
// is didrouter's own state and tells an operator why a balancer took the
// instance out.
func notReadyText(err error) string {
	if errors.Is(err, errDraining) {
		return "not ready: draining\n"
	}
	return "not ready\n"
}

// readyLog logs why /readyz fails, once per reason, because a balancer asks
// every few seconds. It logs once more when the instance is ready again.
type readyLog struct {
	logger *slog.Logger
	mu     sync.Mutex
	last   string // the reason last logged; "" = ready
}

func (l *readyLog) notReady(ctx context.Context, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err.Error() == l.last {
		return
	}
	l.last = err.Error()
	l.logger.WarnContext(ctx, "not ready", "err", err)
}

func (l *readyLog) ready(ctx context.Context) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == "" {
		return
	}
	l.last = ""
	l.logger.InfoContext(ctx, "ready again")
}

// accessLog writes one debug line per request, labelled with the route
// pattern (not the raw path, which carries sids).
func accessLog(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			sw := httpmw.Record(w)
			next.ServeHTTP(sw, r)
			// Where no route matched, the path is anyone's: it is clipped.
			route := httpmw.Route(r, logsafe.Clip(r.URL.Path))
			logger.DebugContext(r.Context(), "http request", "method", r.Method, "route", route,
				"status", sw.Status(), "duration_ms", time.Since(start).Milliseconds())
		})
	}
}
