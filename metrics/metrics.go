// Package metrics holds didrouter's Prometheus collectors and the hooks
// that feed them. The collectors live on a registry of their own, never the
// global one, so that tests and several servers in one process stay apart.
// The hooks are an HTTP middleware, a Store decorator and a call-decision
// observer for the webhooks.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Call outcomes counted by didrouter_calls_total.
const (
	OutcomeOwnerAnswered = "owner_answered" // answered at the first target of its filter (the number's owner in the DID workflow)
	OutcomeFallback      = "fallback"       // answered after falling back (Everyone in the DID workflow)
	OutcomeQueued        = "queued"         // the caller was put in the queue to wait (counted each time)
	OutcomeAbandoned     = "abandoned"      // the task was canceled before anyone answered
)

// latencyBuckets suit webhooks that should answer in milliseconds (seconds).
var latencyBuckets = []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Metrics is one server's set of collectors. Its methods are safe for
// concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	httpDuration  *prometheus.HistogramVec
	calls         *prometheus.CounterVec
	decisions     *prometheus.CounterVec
	reservations  *prometheus.CounterVec
	waitSeconds   prometheus.Histogram
	storeDuration *prometheus.HistogramVec
	storeErrors   *prometheus.CounterVec
	unanswered    *prometheus.CounterVec
}

// The webhooks' decisions that unanswered counts (docs/voicemail.md), by
// its kind label.
var unansweredKinds = map[string]string{
	"voicemail-task": "voicemail",
	"callback":       "callback_request",
	"after-hours":    "after_hours",
}

// New returns the collectors registered on a new registry, with the Go
// runtime and process collectors beside them.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "didrouter_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by chi route pattern and status code.",
			Buckets: latencyBuckets,
		}, []string{"route", "status"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "didrouter_calls_total",
			Help: "Calls by outcome: owner_answered (answered at the first target: the number's owner), fallback " +
				"(answered by someone else: Everyone), queued (caller put in the queue to wait, each time), " +
				"abandoned (task canceled before anyone answered).",
		}, []string{"outcome"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "didrouter_call_decisions_total",
			Help: "Call decisions of the voice webhooks (dial, enqueue, leave, connect, release, complete, cancel, hangup, busy, ...).",
		}, []string{"decision"}),
		reservations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "didrouter_reservations_total",
			Help: "Reservation transitions committed by this instance, by result (created, accepted, rejected, timeout, canceled, rescinded, completed, wrapup).",
		}, []string{"result"}),
		waitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "didrouter_task_wait_seconds",
			Help:    "Time from a task's creation to the reservation accepted for it (the caller's wait until answered).",
			Buckets: []float64{.1, .5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600},
		}),
		storeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "didrouter_store_duration_seconds",
			Help:    "Store latency by operation (a read, or a whole transaction: tx).",
			Buckets: latencyBuckets,
		}, []string{"op"}),
		unanswered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "didrouter_unanswered_calls_total",
			Help: "What became of calls nobody answered, by kind: voicemail (a message saved as a voicemail task), " +
				"callback_request (a caller asked to be called back), after_hours (a call to a closed line).",
		}, []string{"kind"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "didrouter_store_errors_total",
			Help: "Store operations that failed for another reason than a missing row or a conflict, by operation.",
		}, []string{"op"}),
	}
	m.reg.MustRegister(m.httpDuration, m.calls, m.decisions, m.reservations, m.waitSeconds,
		m.storeDuration, m.storeErrors, m.unanswered,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Outcomes start at zero, so a dashboard sees every series from the first scrape.
	for _, o := range []string{OutcomeOwnerAnswered, OutcomeFallback, OutcomeQueued, OutcomeAbandoned} {
		m.calls.WithLabelValues(o)
	}
	for _, k := range unansweredKinds {
		m.unanswered.WithLabelValues(k)
	}
	return m
}

// Registry is where the collectors live; more can be registered on it.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text format (/metrics).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Decision counts one call decision of the webhooks; an "enqueue" is also
// a queued call.
func (m *Metrics) Decision(decision string) {
	m.decisions.WithLabelValues(decision).Inc()
	if kind, ok := unansweredKinds[decision]; ok {
		m.unanswered.WithLabelValues(kind).Inc()
	}
	if decision == "enqueue" {
		m.calls.WithLabelValues(OutcomeQueued).Inc()
	}
}

func (m *Metrics) callAnswered(owner bool, wait time.Duration) {
	outcome := OutcomeFallback
	if owner {
		outcome = OutcomeOwnerAnswered
	}
	m.calls.WithLabelValues(outcome).Inc()
	m.waitSeconds.Observe(wait.Seconds())
}
