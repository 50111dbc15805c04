package api

import (
	"context"
	"encoding/json"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/didrouter/didrouter/engine"
)

// Statistics are computed from what the store already holds, correct
// rather than clever: real-time figures from the current tasks and
// workers, cumulative figures from the events of the window (one ordered
// pass; a task's age comes from its task.created event, or the task row
// when that event is older than the window).

// Limits that keep one statistics request bounded.
const (
	defaultStatsMinutes = 15
	maxStatsEvents      = 500000
	maxSplits           = 10
)

// statsWindow is the interval of cumulative statistics and the wait-time
// thresholds asked for.
type statsWindow struct {
	start, end time.Time
	splits     []int // seconds, ascending
}

// parseWindow reads Minutes (default 15), StartDate, EndDate and
// SplitByWaitTime. Minutes cannot be combined with the dates, as in
// TaskRouter. TaskChannel is refused: didrouter's statistics span every
// channel.
func parseWindow(q url.Values, now time.Time) (statsWindow, error) {
	if s := q.Get("TaskChannel"); s != "" {
		return statsWindow{}, engine.Errorf(engine.EINVALID, "TaskChannel is not supported by didrouter's statistics (they count every channel)")
	}
	w := statsWindow{end: now}
	minutes := q.Get("Minutes")
	start, end := q.Get("StartDate"), q.Get("EndDate")
	if minutes != "" && (start != "" || end != "") {
		return w, engine.Errorf(engine.EINVALID, "Minutes cannot be combined with StartDate or EndDate")
	}
	for name, dst := range map[string]*time.Time{"StartDate": &w.start, "EndDate": &w.end} {
		if s := q.Get(name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return w, engine.Errorf(engine.EINVALID, "%s must be an ISO 8601 date such as 2024-01-02T15:04:05Z, not %q", name, s)
			}
			*dst = t.UTC()
		}
	}
	if w.start.IsZero() {
		m := defaultStatsMinutes
		if minutes != "" {
			n, err := strconv.Atoi(minutes)
			if err != nil || n < 1 || n > 60*24*365 {
				return w, engine.Errorf(engine.EINVALID, "Minutes must be a whole number of minutes from 1, not %q", minutes)
			}
			m = n
		}
		w.start = w.end.Add(-time.Duration(m) * time.Minute)
	}
	if w.end.Before(w.start) {
		return w, engine.Errorf(engine.EINVALID, "EndDate is before StartDate")
	}
	if s := q.Get("SplitByWaitTime"); s != "" {
		for _, part := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(part))
			if err != nil || n < 0 {
				return w, engine.Errorf(engine.EINVALID, "SplitByWaitTime must be comma-separated seconds such as 5,30, not %q", s)
			}
			w.splits = append(w.splits, n)
		}
		if len(w.splits) > maxSplits {
			return w, engine.Errorf(engine.EINVALID, "SplitByWaitTime takes at most %d thresholds", maxSplits)
		}
		sort.Ints(w.splits)
	}
	return w, nil
}

// durations summarizes wait times as TaskRouter does: whole seconds.
type durations []time.Duration

type durationJSON struct {
	Avg   int `json:"avg"`
	Min   int `json:"min"`
	Max   int `json:"max"`
	Total int `json:"total"`
}

func (d durations) summary() durationJSON {
	if len(d) == 0 {
		return durationJSON{}
	}
	var total time.Duration
	lo, hi := d[0], d[0]
	for _, v := range d {
		total += v
		lo, hi = min(lo, v), max(hi, v)
	}
	sec := func(v time.Duration) int { return int(math.Round(v.Seconds())) }
	return durationJSON{Avg: sec(total / time.Duration(len(d))), Min: sec(lo), Max: sec(hi), Total: sec(total)}
}

// cumulative is one scope's cumulative figures (the workspace, a queue).
type cumulative struct {
	counts   map[string]int // by event type
	moved    int            // task-queue.moved to another queue (out of this one, for a queue)
	entered  int            // task-queue.entered (this queue)
	accepted durations      // task created → reservation accepted
	inQueue  durations      // task entered its last target → reservation accepted
	canceled durations      // task created → task canceled
}

func newCumulative() *cumulative { return &cumulative{counts: map[string]int{}} }

// statsPass collects the cumulative figures of a window for the workspace
// and each queue in one ordered pass over its events.
type statsPass struct {
	h  *Handler
	ws string

	workspace *cumulative
	queues    map[string]*cumulative

	created  map[string]time.Time // task → created (task.created in the window)
	resQueue map[string]string    // reservation → queue it was made in
	taskQ    map[string]string    // task → last queue entered
	entered  map[string]time.Time // task → when it entered that queue
	tasks    map[string]*engine.Task
}

func (h *Handler) cumulativeStats(ctx context.Context, ws string, win statsWindow) (*statsPass, error) {
	s := &statsPass{
		h: h, ws: ws, workspace: newCumulative(), queues: map[string]*cumulative{},
		created: map[string]time.Time{}, resQueue: map[string]string{}, taskQ: map[string]string{},
		entered: map[string]time.Time{}, tasks: map[string]*engine.Task{},
	}
	f := engine.EventFilter{StartDate: win.start, EndDate: win.end}
	seen := 0
	for {
		f.Page = engine.Page{Size: maxPageSize, After: f.After}
		evs, err := h.store.ListEvents(ctx, ws, f)
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			if err := s.add(ctx, e); err != nil {
				return nil, err
			}
		}
		seen += len(evs)
		if len(evs) < maxPageSize {
			return s, nil
		}
		if seen >= maxStatsEvents {
			return nil, engine.Errorf(engine.EINVALID,
				"the window holds more than %d events; ask for a shorter one (StartDate/EndDate or Minutes)", maxStatsEvents)
		}
		f.After = evs[len(evs)-1].SID
	}
}

func (s *statsPass) queue(sid string) *cumulative {
	c, ok := s.queues[sid]
	if !ok {
		c = newCumulative()
		s.queues[sid] = c
	}
	return c
}

// task reads a task once per pass; nil when it was deleted.
func (s *statsPass) task(ctx context.Context, sid string) (*engine.Task, error) {
	if t, ok := s.tasks[sid]; ok {
		return t, nil
	}
	t, err := s.h.store.GetTask(ctx, s.ws, sid)
	switch {
	case engine.ErrorCode(err) == engine.ENOTFOUND:
		s.tasks[sid] = nil
		return nil, nil
	case err != nil:
		return nil, err
	}
	s.tasks[sid] = &t
	return &t, nil
}

type eventData struct {
	TaskQueueSID     string `json:"task_queue_sid"`
	PreviousQueueSID string `json:"previous_task_queue_sid"`
}

// add counts one event for the workspace and for the queue it concerns.
func (s *statsPass) add(ctx context.Context, e engine.Event) error {
	var d eventData
	_ = json.Unmarshal([]byte(e.Data), &d) // data the engine wrote; missing fields stay empty
	switch e.EventType {
	case engine.EventTaskCreated:
		s.created[e.TaskSID] = e.Date
	case engine.EventTaskQueueEntered:
		s.taskQ[e.TaskSID], s.entered[e.TaskSID] = d.TaskQueueSID, e.Date
		s.queue(d.TaskQueueSID).entered++
	case engine.EventTaskQueueMoved:
		if d.PreviousQueueSID != d.TaskQueueSID {
			s.workspace.moved++
			s.queue(d.PreviousQueueSID).moved++
		}
		return nil
	case engine.EventReservationCreated:
		if d.TaskQueueSID == "" {
			d.TaskQueueSID = s.taskQ[e.TaskSID]
		}
		s.resQueue[e.ReservationSID] = d.TaskQueueSID
	}
	// The queue an event belongs to: named in its data, else the queue its
	// reservation was made in or its task last entered, else the task's.
	q := d.TaskQueueSID
	if q == "" {
		q = s.resQueue[e.ReservationSID]
	}
	if q == "" && e.TaskSID != "" {
		q = s.taskQ[e.TaskSID]
		if q == "" {
			t, err := s.task(ctx, e.TaskSID)
			if err != nil {
				return err
			}
			if t != nil {
				q = t.TaskQueueSID
			}
		}
	}
	scopes := []*cumulative{s.workspace}
	if q != "" {
		scopes = append(scopes, s.queue(q))
	}
	var wait, inQueue time.Duration
	waitKnown := false
	if e.EventType == engine.EventReservationAccepted || e.EventType == engine.EventTaskCanceled {
		created, ok := s.created[e.TaskSID]
		entered, entOK := s.entered[e.TaskSID]
		if !ok || !entOK {
			t, err := s.task(ctx, e.TaskSID)
			if err != nil {
				return err
			}
			if t != nil && !ok {
				created, ok = t.DateCreated, true
			}
			if t != nil && !entOK {
				entered, entOK = t.StepEnteredAt, true
			}
		}
		if ok {
			wait, waitKnown = max(e.Date.Sub(created), 0), true
		}
		if entOK {
			inQueue = max(e.Date.Sub(entered), 0)
		}
	}
	for _, c := range scopes {
		c.counts[e.EventType]++
		if !waitKnown {
			continue
		}
		switch e.EventType {
		case engine.EventReservationAccepted:
			c.accepted = append(c.accepted, wait)
			c.inQueue = append(c.inQueue, inQueue)
		case engine.EventTaskCanceled:
			c.canceled = append(c.canceled, wait)
		}
	}
	return nil
}

// splitJSON is split_by_wait_time: for each threshold, tasks canceled and
// reservations accepted at or below it and above it.
func (c *cumulative) splitJSON(splits []int) map[string]any {
	out := map[string]any{}
	for _, sec := range splits {
		limit := time.Duration(sec) * time.Second
		count := func(d durations) (below, above int) {
			for _, v := range d {
				if v <= limit {
					below++
				} else {
					above++
				}
			}
			return below, above
		}
		cb, ca := count(c.canceled)
		ab, aa := count(c.accepted)
		out[strconv.Itoa(sec)] = map[string]any{
			"below": map[string]int{"tasks_canceled": cb, "reservations_accepted": ab},
			"above": map[string]int{"tasks_canceled": ca, "reservations_accepted": aa},
		}
	}
	return out
}
