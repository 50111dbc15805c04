package replay

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Report is what a run saw.
type Report struct {
	Target      string   `json:"target"` // the targets, comma-separated
	Targets     []string `json:"targets"`
	RunID       string   `json:"run_id"`
	Calls       int      `json:"calls_scripted"`
	Placed      int      `json:"calls_placed"`
	Workers     int      `json:"workers"`
	Speed       float64  `json:"speed"`
	SeedSeconds float64  `json:"seed_seconds,omitempty"`

	DurationS      float64 `json:"duration_s"`
	CallsPerSec    float64 `json:"calls_per_s"`    // calls placed per second of the run
	RequestsPerSec float64 `json:"requests_per_s"` // webhooks answered per second
	Requests       int64   `json:"requests"`
	ScheduleLagMS  float64 `json:"schedule_lag_max_ms"` // how late the latest call started (the generator keeping up)

	Latency map[string]Latency `json:"latency"` // per webhook kind, and "all"
	Errors  map[string]int64   `json:"errors"`  // "kind/reason": webhooks that failed (after any retries)
	// Retries are deliveries sent again to another target after a
	// transport error, a timeout or a 5xx ("kind/reason"); the webhook's
	// outcome is judged on its last attempt.
	Retries    map[string]int64 `json:"retries,omitempty"`
	Duplicates map[string]int64 `json:"duplicates,omitempty"` // webhooks delivered twice on purpose, by kind
	ByTarget   map[string]int64 `json:"answers_by_target,omitempty"`
	Results    map[string]int   `json:"results"` // answered, abandoned, ended, cut, error
	Offers     map[string]int   `json:"first_offer"`

	Checks   []Check  `json:"checks"`
	Failures []string `json:"failed_calls,omitempty"` // timelines of a few calls that hit errors
	OK       bool     `json:"ok"`

	calls []*callRecord
}

// CallOutcome is one placed call as replay saw it.
type CallOutcome struct {
	CallSID      string
	To           string
	Scripted     string    // the scripted outcome
	Result       string    // answered, abandoned, ended, cut, error
	FirstOffer   string    // the contact first rung, "queue", or ""
	AnsweredBy   string    // the contact who answered
	Rings        int       // <Dial>s played
	Fallbacks    int       // fallback TwiML answers the call went on through
	BusyHolds    int       // "lines busy" holds before the server took the call
	IncomingSent time.Time // the webhook that routed the call (incoming, or its routing step after the greeting): sent …
	IncomingDone time.Time // … and answered (zero: never answered)
	Errors       []string
	Timeline     string // the call's steps on one line
}

// Outcomes lists every placed call, in script order.
func (rep *Report) Outcomes() []CallOutcome {
	out := make([]CallOutcome, len(rep.calls))
	for i, c := range rep.calls {
		out[i] = CallOutcome{CallSID: c.CallSID, To: c.To, Scripted: c.Outcome, Result: c.Result, FirstOffer: c.FirstOffer,
			AnsweredBy: c.AnsweredBy, Rings: len(c.Rings), Fallbacks: c.Fallbacks, BusyHolds: c.BusyHolds, IncomingSent: c.IncomingSent,
			IncomingDone: c.IncomingDone, Errors: c.Errors, Timeline: timeline(c)}
	}
	return out
}

func (rep *Report) fill(r *runner, calls []*callRecord, elapsed time.Duration, lag time.Duration) {
	rep.Placed = len(calls)
	rep.DurationS = elapsed.Seconds()
	rep.Requests = r.tw.stats.requests.Load()
	if s := elapsed.Seconds(); s > 0 {
		rep.CallsPerSec = float64(len(calls)) / s
		rep.RequestsPerSec = float64(rep.Requests) / s
	}
	rep.ScheduleLagMS = float64(lag) / float64(time.Millisecond)
	rep.Latency, rep.Errors = r.tw.stats.snapshot()
	rep.Retries, rep.Duplicates, rep.ByTarget = r.tw.stats.counters()
	rep.calls = calls
	rep.Results, rep.Offers = map[string]int{}, map[string]int{}
	for _, c := range calls {
		rep.Results[c.Result]++
		switch {
		case c.FirstOffer == "":
			rep.Offers["none"]++
		case c.FirstOffer == "queue":
			rep.Offers["queue"]++
		default:
			rep.Offers["rang a worker"]++
		}
		if len(c.Errors) > 0 && len(rep.Failures) < maxExamples {
			rep.Failures = append(rep.Failures, strings.Join(c.Errors, "; ")+"\n  "+timeline(c))
		}
	}
}

// judge decides OK: no webhook errors and every check passed (a check
// turned off on purpose does not count).
func (rep *Report) judge(cfg Config) {
	rep.OK = len(rep.Errors) == 0
	for _, c := range rep.Checks {
		if !c.Passed && !(c.Skipped == "turned off") {
			rep.OK = false
		}
	}
}

// WriteJSON writes the report for machines.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// kindOrder is the order webhook kinds are listed in.
var kindOrder = []string{kindIncoming, kindRoute, kindAnswer, kindDial, kindWait, kindDequeued, kindStatus, kindRedirect,
	kindChoice, kindRecord, "all"}

// WriteText writes the report for people.
func (rep *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "didrouter replay against %s (run %s, speed %gx)\n", rep.Target, rep.RunID, rep.Speed)
	fmt.Fprintf(&b, "  calls: %d placed of %d scripted in %.1f s = %.1f calls/s; %d webhooks = %.1f req/s; %d workers",
		rep.Placed, rep.Calls, rep.DurationS, rep.CallsPerSec, rep.Requests, rep.RequestsPerSec, rep.Workers)
	if rep.SeedSeconds > 0 {
		fmt.Fprintf(&b, " (seeded in %.1f s)", rep.SeedSeconds)
	}
	fmt.Fprintf(&b, "\n  generator lag (latest call start): %.1f ms\n", rep.ScheduleLagMS)
	fmt.Fprintf(&b, "  results: %s; first offer: %s\n", counts(rep.Results), counts(rep.Offers))
	if len(rep.Targets) > 1 {
		fmt.Fprintf(&b, "  answers by target: %s\n", counts(rep.ByTarget))
	}
	if len(rep.Retries) > 0 || len(rep.Duplicates) > 0 {
		fmt.Fprintf(&b, "  sent again to another target: %s; delivered twice on purpose: %s\n", countsOrNone(rep.Retries), countsOrNone(rep.Duplicates))
	}
	fmt.Fprintf(&b, "\n  %-9s %9s %9s %9s %9s %9s %9s\n", "webhook", "count", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms")
	for _, k := range kindOrder {
		l, ok := rep.Latency[k]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "  %-9s %9d %9.2f %9.2f %9.2f %9.2f %9.2f\n", k, l.Count, l.P50, l.P90, l.P99, l.P999, l.Max)
	}
	if len(rep.Errors) == 0 {
		b.WriteString("\n  errors: none\n")
	} else {
		b.WriteString("\n  errors:\n")
		for _, k := range sortedKeys(rep.Errors) {
			fmt.Fprintf(&b, "    %-28s %d\n", k, rep.Errors[k])
		}
	}
	b.WriteString("\n  checks:\n")
	for _, c := range rep.Checks {
		verdict := "PASS"
		switch {
		case c.Skipped != "":
			verdict = "SKIP"
		case !c.Passed:
			verdict = "FAIL"
		}
		fmt.Fprintf(&b, "    %s  %s: %d checked, %d failed", verdict, c.Name, c.Checked, c.Failed)
		if c.Unverifiable > 0 {
			fmt.Fprintf(&b, ", %d undecidable from here", c.Unverifiable)
		}
		if c.Skipped != "" {
			fmt.Fprintf(&b, " (%s)", c.Skipped)
		}
		b.WriteString("\n")
		for _, ex := range c.Examples {
			fmt.Fprintf(&b, "      - %s\n", strings.ReplaceAll(ex, "\n", "\n        "))
		}
	}
	if len(rep.Failures) > 0 {
		b.WriteString("\n  calls with errors (first few):\n")
		for _, f := range rep.Failures {
			fmt.Fprintf(&b, "    - %s\n", strings.ReplaceAll(f, "\n", "\n      "))
		}
	}
	if rep.OK {
		b.WriteString("\nOK\n")
	} else {
		b.WriteString("\nFAILED\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func countsOrNone(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	return counts(m)
}

func counts[V int | int64](m map[string]V) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
