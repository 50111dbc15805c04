package webhooks

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/twilio/twilio-go/twiml"

	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/stats"
)

// Queue announcements: a waiting caller hears their place in the queue and
// an estimate of the wait, at the first hold message and then once a minute
// (announceEvery). The estimate is the average wait of the calls the queue
// answered in the last estimateWindow, said in words ("a few minutes"), not
// to the second.
const (
	announceEvery  = 60 // seconds in the queue between two announcements
	estimateWindow = 30 * time.Minute
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
func (h *Handler) announcement(ctx context.Context, c *call, t engine.Task) []twiml.Element {
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
func (h *Handler) estimate(ctx context.Context, t engine.Task) string {
	now := h.clock.Now()
	key := t.WorkspaceSID + "/" + t.TaskQueueSID
	h.waits.mu.Lock()
	e, ok := h.waits.by[key]
	h.waits.mu.Unlock()
	if !ok || now.Sub(e.at) >= estimateTTL {
		e = waitEstimate{at: now}
		pass, err := stats.Collect(ctx, h.store, t.WorkspaceSID, stats.Window{Start: now.Add(-estimateWindow), End: now})
		if err != nil {
			// Kept as "no estimate" too, so that a window too large to read
			// is not read again by every caller's next announcement.
			h.log.WarnContext(ctx, "recent waits could not be read; no estimate said", "task_sid", t.SID, "err", err)
		} else {
			e.avg = time.Duration(pass.Queue(t.TaskQueueSID).InQueue.Summary().Avg) * time.Second
		}
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
