package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/didrouter/didrouter/httpmw"
)

// Middleware times every request by its chi route pattern (never the raw
// path, which carries sids) and status code. The pattern is complete only
// after the router has matched the whole path, so it is read after
// next.ServeHTTP; requests no route matched are labelled "unmatched".
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := httpmw.Record(w)
		next.ServeHTTP(sw, r)
		route := httpmw.Route(r, "unmatched")
		status := sw.Status()
		if status == 0 {
			status = http.StatusOK
		}
		m.httpDuration.WithLabelValues(route, strconv.Itoa(status)).Observe(time.Since(start).Seconds())
	})
}
