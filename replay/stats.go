package replay

import (
	"maps"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in microseconds from 1 µs to 2 min, 3 significant digits.
const (
	histMin    = 1
	histMax    = int64(2 * time.Minute / time.Microsecond)
	histDigits = 3
)

// stats counts requests, latencies per webhook kind and errors. HDR
// histograms are not safe for concurrent use: one mutex guards them.
type stats struct {
	mu     sync.Mutex
	hist   map[string]*hdrhistogram.Histogram
	errors map[string]int64 // "kind/reason"
	// retries are deliveries sent again to another target ("kind/reason"),
	// duplicates webhooks delivered twice on purpose (by kind), byTarget
	// the answers each target gave.
	retries, duplicates, byTarget map[string]int64

	requests atomic.Int64
	failures atomic.Int64
}

func newStats() *stats {
	return &stats{hist: map[string]*hdrhistogram.Histogram{}, errors: map[string]int64{},
		retries: map[string]int64{}, duplicates: map[string]int64{}, byTarget: map[string]int64{}}
}

func (s *stats) observe(kind string, d time.Duration) {
	s.requests.Add(1)
	us := max(d.Microseconds(), histMin)
	s.mu.Lock()
	h := s.hist[kind]
	if h == nil {
		h = hdrhistogram.New(histMin, histMax, histDigits)
		s.hist[kind] = h
	}
	if us > histMax {
		us = histMax
	}
	_ = h.RecordValue(us) // in range by construction
	s.mu.Unlock()
}

func (s *stats) fail(kind, reason string) {
	s.failures.Add(1)
	s.mu.Lock()
	s.errors[kind+"/"+reason]++
	s.mu.Unlock()
}

func (s *stats) retry(kind, reason string) {
	s.mu.Lock()
	s.retries[kind+"/"+reason]++
	s.mu.Unlock()
}

func (s *stats) duplicate(kind string) {
	s.mu.Lock()
	s.duplicates[kind]++
	s.mu.Unlock()
}

func (s *stats) answeredBy(target string) {
	s.mu.Lock()
	s.byTarget[target]++
	s.mu.Unlock()
}

// counters returns copies of the retry, duplicate and per-target counts.
func (s *stats) counters() (retries, duplicates, byTarget map[string]int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.retries), maps.Clone(s.duplicates), maps.Clone(s.byTarget)
}

// Latency summarizes one webhook kind, in milliseconds.
type Latency struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p99_9_ms"`
	Max   float64 `json:"max_ms"`
	Mean  float64 `json:"mean_ms"`
}

func summarize(h *hdrhistogram.Histogram) Latency {
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return Latency{
		Count: h.TotalCount(),
		P50:   ms(h.ValueAtQuantile(50)),
		P90:   ms(h.ValueAtQuantile(90)),
		P99:   ms(h.ValueAtQuantile(99)),
		P999:  ms(h.ValueAtQuantile(99.9)),
		Max:   ms(h.Max()),
		Mean:  h.Mean() / 1000,
	}
}

// snapshot returns the latencies per kind, all kinds merged under "all",
// and the errors.
func (s *stats) snapshot() (map[string]Latency, map[string]int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Latency, len(s.hist)+1)
	all := hdrhistogram.New(histMin, histMax, histDigits)
	for kind, h := range s.hist {
		out[kind] = summarize(h)
		all.Merge(h)
	}
	if all.TotalCount() > 0 {
		out["all"] = summarize(all)
	}
	errs := make(map[string]int64, len(s.errors))
	for k, v := range s.errors {
		errs[k] = v
	}
	return out, errs
}

// p99 of one kind so far (ms), for the progress line.
func (s *stats) p99(kind string) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h := s.hist[kind]; h != nil {
		return float64(h.ValueAtQuantile(99)) / 1000
	}
	return 0
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
