// Package stats computes a workspace's statistics from what the store
// already holds, correct rather than clever. Real-time figures come from
// the current tasks and workers. Cumulative figures come from one ordered
// pass over the events of a window. A task's age comes from its
// task.created event, or from the task row when that event is older than
// the window. The TaskRouter statistics endpoints and the admin console's
// board both read them here, so they always agree.
package stats

import (
	"context"
	"encoding/json"
	"math"
	"strconv"
	"time"

	"github.com/didrouter/didrouter"
)

// Limits that keep one computation bounded.
const (
	// MaxEvents bounds the events of one window.
	MaxEvents = 500000
	pageSize  = 1000 // the store's largest page
)

// Window is the interval of cumulative statistics and the wait-time
// thresholds asked for.
type Window struct {
	Start, End time.Time
	Splits     []int // seconds, ascending
}

// Durations are wait times.
type Durations []time.Duration

// Summary is wait times as TaskRouter reports them: whole seconds.
type Summary struct {
	Avg   int `json:"avg"`
	Min   int `json:"min"`
	Max   int `json:"max"`
	Total int `json:"total"`
}

// Summary summarizes d (zeros when empty).
func (d Durations) Summary() Summary {
	if len(d) == 0 {
		return Summary{}
	}
	var total time.Duration
	lo, hi := d[0], d[0]
	for _, v := range d {
		total += v
		lo, hi = min(lo, v), max(hi, v)
	}
	sec := func(v time.Duration) int { return int(math.Round(v.Seconds())) }
	return Summary{Avg: sec(total / time.Duration(len(d))), Min: sec(lo), Max: sec(hi), Total: sec(total)}
}

// Cumulative is one scope's cumulative figures (the workspace, a queue).
type Cumulative struct {
	Counts   map[string]int // by event type
	Moved    int            // task-queue.moved to another queue (out of this one, for a queue)
	Entered  int            // task-queue.entered (this queue)
	Accepted Durations      // task created → reservation accepted
	InQueue  Durations      // task entered its last target → reservation accepted
	Canceled Durations      // task created → task canceled

	// Accepted reservations by who answered. OwnerAnswered counts inbound
	// calls answered at the first target of their filter, which is the
	// number's owner in the DID workflow (see didrouter.FirstTarget).
	// FallbackAnswered counts inbound calls answered later, by Everyone.
	// Outbound counts calls an agent placed, which are accepted from the
	// start. InboundWait is the wait of the inbound ones.
	OwnerAnswered, FallbackAnswered, Outbound int
	InboundWait                               Durations
}

// NewCumulative returns empty figures.
func NewCumulative() *Cumulative { return &Cumulative{Counts: map[string]int{}} }

// Pass collects the cumulative figures of a window for the workspace and
// each queue in one ordered pass over its events.
type Pass struct {
	Workspace *Cumulative
	Queues    map[string]*Cumulative // by queue sid

	st didrouter.Reader
	ws string

	created  map[string]time.Time // task → created (task.created in the window)
	resQueue map[string]string    // reservation → queue it was made in
	taskQ    map[string]string    // task → last queue entered
	entered  map[string]time.Time // task → when it entered that queue
	target   map[string][2]int    // task → filter and target it last matched
	tasks    map[string]*didrouter.Task
}

// Collect reads the window's events of workspace ws. A window of more than
// MaxEvents events is refused (EINVALID), so that one request stays bounded.
func Collect(ctx context.Context, st didrouter.Reader, ws string, win Window) (*Pass, error) {
	s := &Pass{
		Workspace: NewCumulative(), Queues: map[string]*Cumulative{},
		st: st, ws: ws,
		created: map[string]time.Time{}, resQueue: map[string]string{}, taskQ: map[string]string{},
		entered: map[string]time.Time{}, target: map[string][2]int{}, tasks: map[string]*didrouter.Task{},
	}
	f := didrouter.EventFilter{StartDate: win.Start, EndDate: win.End}
	seen := 0
	for {
		f.Page = didrouter.Page{Size: pageSize, After: f.After}
		evs, err := st.ListEvents(ctx, ws, f)
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			if err := s.add(ctx, e); err != nil {
				return nil, err
			}
		}
		seen += len(evs)
		if len(evs) < pageSize {
			return s, nil
		}
		if seen >= MaxEvents {
			return nil, didrouter.Errorf(didrouter.EINVALID,
				"the window holds more than %d events; ask for a shorter one (StartDate/EndDate or Minutes)", MaxEvents)
		}
		f.After = evs[len(evs)-1].SID
	}
}

// Queue returns a queue's figures (empty ones when it had no events).
func (s *Pass) Queue(sid string) *Cumulative {
	if c, ok := s.Queues[sid]; ok {
		return c
	}
	return NewCumulative()
}

func (s *Pass) queue(sid string) *Cumulative {
	c, ok := s.Queues[sid]
	if !ok {
		c = NewCumulative()
		s.Queues[sid] = c
	}
	return c
}

// task reads a task once per pass; nil when it was deleted.
func (s *Pass) task(ctx context.Context, sid string) (*didrouter.Task, error) {
	if t, ok := s.tasks[sid]; ok {
		return t, nil
	}
	t, err := s.st.GetTask(ctx, s.ws, sid)
	switch {
	case didrouter.ErrorCode(err) == didrouter.ENOTFOUND:
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
	Filter           *int   `json:"filter"`
	Target           *int   `json:"target"`
	Direction        string `json:"direction"`
}

// add counts one event for the workspace and for the queue it concerns.
func (s *Pass) add(ctx context.Context, e didrouter.Event) error {
	var d eventData
	_ = json.Unmarshal([]byte(e.Data), &d) // data the engine wrote; missing fields stay empty
	switch e.EventType {
	case didrouter.EventTaskCreated:
		s.created[e.TaskSID] = e.Date
	case didrouter.EventWorkflowTargetMatched:
		if d.Filter != nil && d.Target != nil {
			s.target[e.TaskSID] = [2]int{*d.Filter, *d.Target}
		}
	case didrouter.EventTaskQueueEntered:
		s.taskQ[e.TaskSID], s.entered[e.TaskSID] = d.TaskQueueSID, e.Date
		s.queue(d.TaskQueueSID).Entered++
	case didrouter.EventTaskQueueMoved:
		if d.PreviousQueueSID != d.TaskQueueSID {
			s.Workspace.Moved++
			s.queue(d.PreviousQueueSID).Moved++
		}
		return nil
	case didrouter.EventReservationCreated:
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
	scopes := []*Cumulative{s.Workspace}
	if q != "" {
		scopes = append(scopes, s.queue(q))
	}
	var wait, inQueue time.Duration
	waitKnown := false
	answer := answeredNone
	if e.EventType == didrouter.EventReservationAccepted || e.EventType == didrouter.EventTaskCanceled {
		created, ok := s.created[e.TaskSID]
		entered, entOK := s.entered[e.TaskSID]
		pos, posOK := s.target[e.TaskSID]
		needPos := !posOK && e.EventType == didrouter.EventReservationAccepted && d.Direction != "outbound"
		if !ok || !entOK || needPos {
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
			if t != nil && !posOK {
				pos, posOK = [2]int{t.FilterIndex, t.TargetIndex}, true
			}
		}
		if ok {
			wait, waitKnown = max(e.Date.Sub(created), 0), true
		}
		if entOK {
			inQueue = max(e.Date.Sub(entered), 0)
		}
		if e.EventType == didrouter.EventReservationAccepted {
			switch {
			case d.Direction == "outbound":
				answer = answeredOutbound
			case posOK && didrouter.FirstTarget(pos[0], pos[1]):
				answer = answeredOwner
			default:
				answer = answeredFallback
			}
		}
	}
	for _, c := range scopes {
		c.Counts[e.EventType]++
		switch answer {
		case answeredOutbound:
			c.Outbound++
		case answeredOwner:
			c.OwnerAnswered++
		case answeredFallback:
			c.FallbackAnswered++
		}
		if !waitKnown {
			continue
		}
		switch e.EventType {
		case didrouter.EventReservationAccepted:
			c.Accepted = append(c.Accepted, wait)
			c.InQueue = append(c.InQueue, inQueue)
			if answer != answeredOutbound {
				c.InboundWait = append(c.InboundWait, wait)
			}
		case didrouter.EventTaskCanceled:
			c.Canceled = append(c.Canceled, wait)
		}
	}
	return nil
}

const (
	answeredNone = iota
	answeredOwner
	answeredFallback
	answeredOutbound
)

// SplitByWaitTime is TaskRouter's split_by_wait_time: for each threshold,
// tasks canceled and reservations accepted at or below it and above it.
func (c *Cumulative) SplitByWaitTime(splits []int) map[string]any {
	out := map[string]any{}
	for _, sec := range splits {
		limit := time.Duration(sec) * time.Second
		count := func(d Durations) (below, above int) {
			for _, v := range d {
				if v <= limit {
					below++
				} else {
					above++
				}
			}
			return below, above
		}
		cb, ca := count(c.Canceled)
		ab, aa := count(c.Accepted)
		out[strconv.Itoa(sec)] = map[string]any{
			"below": map[string]int{"tasks_canceled": cb, "reservations_accepted": ab},
			"above": map[string]int{"tasks_canceled": ca, "reservations_accepted": aa},
		}
	}
	return out
}
