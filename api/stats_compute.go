package api

import (
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/stats"
)

// Statistics are computed by package stats (the admin console's board
// reads the same figures); this file reads the window a request asks for.

// Limits of one statistics request.
const (
	defaultStatsMinutes = 15
	maxSplits           = 10
)

// parseWindow reads Minutes (default 15), StartDate, EndDate and
// SplitByWaitTime. Minutes cannot be combined with the dates, as in
// TaskRouter. TaskChannel is refused: didrouter's statistics span every
// channel.
func parseWindow(q url.Values, now time.Time) (stats.Window, error) {
	if s := q.Get("TaskChannel"); s != "" {
		return stats.Window{}, didrouter.Errorf(didrouter.EINVALID, "TaskChannel is not supported by didrouter's statistics (they count every channel)")
	}
	w := stats.Window{End: now}
	minutes := q.Get("Minutes")
	start, end := q.Get("StartDate"), q.Get("EndDate")
	if minutes != "" && (start != "" || end != "") {
		return w, didrouter.Errorf(didrouter.EINVALID, "Minutes cannot be combined with StartDate or EndDate")
	}
	for name, dst := range map[string]*time.Time{"StartDate": &w.Start, "EndDate": &w.End} {
		if s := q.Get(name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return w, didrouter.Errorf(didrouter.EINVALID, "%s must be an ISO 8601 date such as 2024-01-02T15:04:05Z, not %q", name, s)
			}
			*dst = t.UTC()
		}
	}
	if w.Start.IsZero() {
		m := defaultStatsMinutes
		if minutes != "" {
			n, err := strconv.Atoi(minutes)
			if err != nil || n < 1 || n > 60*24*365 {
				return w, didrouter.Errorf(didrouter.EINVALID, "Minutes must be a whole number of minutes from 1, not %q", minutes)
			}
			m = n
		}
		w.Start = w.End.Add(-time.Duration(m) * time.Minute)
	}
	if w.End.Before(w.Start) {
		return w, didrouter.Errorf(didrouter.EINVALID, "EndDate is before StartDate")
	}
	if s := q.Get("SplitByWaitTime"); s != "" {
		for _, part := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(part))
			if err != nil || n < 0 {
				return w, didrouter.Errorf(didrouter.EINVALID, "SplitByWaitTime must be comma-separated seconds such as 5,30, not %q", s)
			}
			w.Splits = append(w.Splits, n)
		}
		if len(w.Splits) > maxSplits {
			return w, didrouter.Errorf(didrouter.EINVALID, "SplitByWaitTime takes at most %d thresholds", maxSplits)
		}
		sort.Ints(w.Splits)
	}
	return w, nil
}
