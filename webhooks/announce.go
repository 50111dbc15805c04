package webhooks

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/twilio/twilio-go/twiml"

	"github.com/didrouter/didrouter"
)

// Queue announcements. A waiting caller hears their place in the queue and
// an estimate of the wait, at the first hold message and then every
// announceEvery. The estimate is the average wait, from a task's creation to
// the agent's answer, of the queue's last estimateCalls calls answered in
// the last estimateWindow. It is said in words such as "a few minutes",
// because a figure to the second would promise too much.
const (
	announceEvery  = 60 // seconds in the queue between two announcements
	estimateWindow = 30 * time.Minute
	estimateCalls  = 50               // answered calls looked at, newest first
	estimateTTL    = 30 * time.Second // how long one queue's estimate is reused
)

// waitEstimates caches each queue's recent average wait, so that every
// caller's announcement does not read the window's events again.
type waitEstimates struct {
	mu sync.Mutex
	by map[string]waitEstimate // by workspace and queue sid
}

type waitEstimate struct {
	avg time.Duration // 0: no call answered in the window
	at  time.Time
}

// announcement is the position (and estimate) said on this poll, or nil.
func (h *Handler) announcement(ctx context.Context, c *call, t didrouter.Task) []twiml.Element {
	a := h.answerer()
	if a == nil {
		return nil
	}
	secs, err := strconv.Atoi(c.param("QueueTime"))
	first := err != nil || secs < h.waitPause
	if !first && (secs < announceEvery || secs%announceEvery >= h.waitPause) {
		return nil
	}
	pos, _, err := a.QueuePosition(ctx, t)
	if err != nil || pos <= 0 {
		return nil // not waiting (reserved meanwhile), or unknown: say nothing rather than something wrong
	}
	text := "You are caller number " + strconv.Itoa(pos) + " in line."
	if pos == 1 {
		text = "You are next in line."
	}
	if est := h.estimate(ctx, t); est != "" {
		text += " The expected wait is " + est + "."
	}
	return say(text)
}

// estimate is the queue's expected wait in words, "" when the queue
// answered no call recently.
func (h *Handler) estimate(ctx context.Context, t didrouter.Task) string {
	now := h.clock.Now()
	key := t.WorkspaceSID + "/" + t.TaskQueueSID
	h.waits.mu.Lock()
	e, ok := h.waits.by[key]
	h.waits.mu.Unlock()
	if !ok || now.Sub(e.at) >= estimateTTL {
		avg, err := h.recentWait(ctx, t, now)
		if err != nil {
			// Kept as "no estimate" too, so that a failing read is not
			// tried again by every caller's next announcement.
			h.log.WarnContext(ctx, "recent waits unreadable, no estimate said", "task_sid", t.SID, "err", err)
		}
		e = waitEstimate{avg: avg, at: now}
		h.waits.mu.Lock()
		if h.waits.by == nil {
			h.waits.by = map[string]waitEstimate{}
		}
		h.waits.by[key] = e
		h.waits.mu.Unlock()
	}
	return inWords(e.avg)
}

// inWords says a wait without false precision.
func inWords(d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d < time.Minute:
		return "less than a minute"
	case d < 2*time.Minute:
		return "about a minute"
	case d < 6*time.Minute:
		return "a few minutes"
	case d < 15*time.Minute:
		return "about ten minutes"
	default:
		return "more than fifteen minutes"
	}
}

// recentWait is the average wait of the calls t's queue answered recently:
// the newest reservation.accepted events of the window whose task ended
// up in that queue. 0 when there were none.
func (h *Handler) recentWait(ctx context.Context, t didrouter.Task, now time.Time) (time.Duration, error) {
	evs, err := h.store.ListEvents(ctx, t.WorkspaceSID, didrouter.EventFilter{
		Page: didrouter.Page{Size: estimateCalls}, EventType: didrouter.EventReservationAccepted,
		StartDate: now.Add(-estimateWindow), EndDate: now, Newest: true,
	})
	if err != nil {
		return 0, fmt.Errorf("list recent answers: %w", err)
	}
	var total time.Duration
	n := 0
	for _, ev := range evs {
		task, err := h.store.GetTask(ctx, t.WorkspaceSID, ev.TaskSID)
		if err != nil || task.TaskQueueSID != t.TaskQueueSID || !callerCall(task) {
			continue // deleted, another queue's, or an outbound call or message
		}
		if w := ev.Date.Sub(task.DateCreated); w >= 0 {
			total += w
			n++
		}
	}
	if n == 0 {
		return 0, nil
	}
	return total / time.Duration(n), nil
}

// callerCall reports whether a task was a caller's call (not an
// agent's outbound call, a voicemail message or a call-back request),
// whose wait says something of the queue's.
func callerCall(t didrouter.Task) bool { return attrsOf(t).Type == "inbound" }
