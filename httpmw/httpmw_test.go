package httpmw_test

import (
	"bufio"
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter/httpmw"
)

func TestRecorderStatus(t *testing.T) {
	for _, tc := range []struct {
		name  string
		serve func(http.ResponseWriter)
		want  int
	}{
		{"nothing written", func(http.ResponseWriter) {}, 0},
		{"body only", func(w http.ResponseWriter) { _, _ = w.Write([]byte("x")) }, http.StatusOK},
		{"status then body", func(w http.ResponseWriter) { w.WriteHeader(http.StatusTeapot); _, _ = w.Write([]byte("x")) }, http.StatusTeapot},
		{"first status kept", func(w http.ResponseWriter) { w.WriteHeader(http.StatusNotFound); w.WriteHeader(http.StatusOK) }, http.StatusNotFound},
	} {
		rec := httpmw.Record(httptest.NewRecorder())
		tc.serve(rec)
		if got := rec.Status(); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}
}

// An event stream behind the recorder reaches the client before the
// handler returns, both through the Flusher interface and through
// http.ResponseController, which also sets the connection's deadlines.
func TestRecorderPassesFlushAndDeadlines(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httpmw.Record(w)
		rc := http.NewResponseController(rec)
		if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("SetWriteDeadline through the recorder: %v", err)
		}
		_, _ = rec.Write([]byte("data: one\n"))
		http.Flusher(rec).Flush()
		_, _ = rec.Write([]byte("data: two\n"))
		if err := rc.Flush(); err != nil {
			t.Errorf("Flush through the recorder: %v", err)
		}
		<-release
	}))
	defer srv.Close()
	defer close(release)
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for _, want := range []string{"data: one\n", "data: two\n"} {
		line, err := br.ReadString('\n')
		if err != nil || line != want {
			t.Fatalf("read %q, %v; want %q while the handler still runs", line, err, want)
		}
	}
}

func TestRoute(t *testing.T) {
	var got string
	r := chi.NewRouter()
	r.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			next.ServeHTTP(w, req)
			got = httpmw.Route(req, "unmatched")
		})
	})
	r.Get("/v1/Workers/{sid}", func(w http.ResponseWriter, r *http.Request) {})
	for path, want := range map[string]string{"/v1/Workers/WK1": "/v1/Workers/{sid}", "/elsewhere": "unmatched"} {
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
		if got != want {
			t.Errorf("%s: route %q, want %q", path, got, want)
		}
	}
	if got := httpmw.Route(httptest.NewRequest(http.MethodGet, "/x", nil), "none"); got != "none" {
		t.Errorf("outside chi: %q", got)
	}
}

// A panic is answered by the fail function and logged with its stack; the
// abort panic is passed on for net/http to cut the connection.
func TestRecover(t *testing.T) {
	var logs bytes.Buffer
	mw := httpmw.Recover(slog.New(slog.NewTextHandler(&logs, nil)), "request panicked", func(w http.ResponseWriter) {
		http.Error(w, "sorry", http.StatusInternalServerError)
	})
	rec := httptest.NewRecorder()
	mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("nil map") })).
		ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	if rec.Code != http.StatusInternalServerError || strings.TrimSpace(rec.Body.String()) != "sorry" {
		t.Errorf("answer %d %q", rec.Code, rec.Body)
	}
	if l := logs.String(); !strings.Contains(l, "request panicked") || !strings.Contains(l, "nil map") || !strings.Contains(l, "goroutine") {
		t.Errorf("log %s", l)
	}
	defer func() {
		if p := recover(); p != http.ErrAbortHandler {
			t.Errorf("abort panic: %v", p)
		}
	}()
	mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })).
		ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/x", nil))
	t.Error("the abort panic was swallowed")
}
