// Package httpmw holds the HTTP middleware pieces the server's handlers
// share: a recorder of the answer's status and the route that matched,
// which the access log and the request metrics read, and the recovery
// from a handler's panic.
package httpmw

import (
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/go-chi/chi/v5"
)

// Recorder is a ResponseWriter that remembers the status it answered.
type Recorder struct {
	http.ResponseWriter
	status int
}

// Record wraps w.
func Record(w http.ResponseWriter) *Recorder { return &Recorder{ResponseWriter: w} }

// Status is the first status written: 200 once a body was written
// without one, 0 while nothing has been written.
func (s *Recorder) Status() int { return s.status }

// WriteHeader remembers the first status and passes it on.
func (s *Recorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Write passes b on; a body without a status is answered 200.
func (s *Recorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Flush passes a flush on, so an event stream behind the recorder still
// reaches the client as it is written. A writer that cannot flush is left
// alone, as it would be without the recorder.
func (s *Recorder) Flush() {
	_ = http.NewResponseController(s.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection: event streams
// flush and set their own write deadlines through it.
func (s *Recorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Route is the chi route pattern that matched r, or fallback when none
// did. Labels and log lines use it rather than the raw path, which
// carries sids. Call it after the router has served r: the pattern is
// complete only once the whole path has been matched.
func Route(r *http.Request, fallback string) string {
	if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
		return rc.RoutePattern()
	}
	return fallback
}

// Recover turns a handler's panic into the answer fail writes (a 500);
// the panic and its stack go to the log only, as msg. The panic that
// aborts a response on purpose (http.ErrAbortHandler) is passed on.
func Recover(log *slog.Logger, msg string, fail func(http.ResponseWriter)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if p := recover(); p != nil {
					if p == http.ErrAbortHandler {
						panic(p)
					}
					log.ErrorContext(r.Context(), msg, "method", r.Method, "path", r.URL.Path,
						"panic", p, "stack", string(debug.Stack()))
					fail(w)
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}
