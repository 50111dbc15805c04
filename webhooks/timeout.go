package webhooks

import (
	"context"
	"encoding/json"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

// Bounds of a <Dial timeout>: Twilio accepts 5–600 seconds.
const (
	minRing = 5
	maxRing = 600
)

// dialTimeout is how long to ring the reserved worker. It is what is left of
// the workflow step's timeout, such as the DID workflow's 60 s owner step,
// and never longer than what is left of the reservation. Ringing stops at
// about the moment the engine moves the task on, so the caller does not
// hear an agent ringing who can no longer take the call.
func (h *Handler) dialTimeout(ctx context.Context, t didrouter.Task, r didrouter.Reservation) int {
	return min(max(h.ringLeft(ctx, t, r), minRing), maxRing)
}

// ringable reports whether the reserved worker may be rung now. Twilio
// rings for at least minRing seconds. A reservation or step that ends
// sooner would leave the phone ringing after the engine has offered the
// worker another call. That happens when its timer has not fired yet, just
// after a database outage or when a caller was taken out of the queue at
// the last moment. The caller waits instead, and the timer moves the call
// on within seconds.
func (h *Handler) ringable(ctx context.Context, t didrouter.Task, r didrouter.Reservation) bool {
	return h.ringLeft(ctx, t, r) >= minRing
}

// ringLeft is what is left, in whole seconds, of the reservation and of the
// step (unclamped: zero or less when they are over).
func (h *Handler) ringLeft(ctx context.Context, t didrouter.Task, r didrouter.Reservation) int {
	now := h.clock.Now()
	resTimeout := r.Timeout
	if resTimeout <= 0 {
		resTimeout = engine.DefaultReservationTimeout
	}
	ring := resTimeout - elapsedSeconds(now, r.DateCreated)
	if step := h.stepTimeout(ctx, t); step > 0 {
		if left := step - elapsedSeconds(now, t.StepEnteredAt); left < ring {
			ring = left
		}
	}
	return ring
}

func elapsedSeconds(now, since time.Time) int {
	if since.IsZero() || now.Before(since) {
		return 0
	}
	return int(now.Sub(since) / time.Second)
}

// stepTimeout reads the timeout of the workflow target the task is in. It
// is 0 when the target has none or the workflow cannot be read, and the
// reservation's own timeout then bounds the ringing.
func (h *Handler) stepTimeout(ctx context.Context, t didrouter.Task) int {
	var (
		wf  didrouter.Workflow
		err error
	)
	if c, ok := h.eng.(workflowCache); ok {
		wf, err = c.CachedWorkflow(ctx, t.WorkspaceSID, t.WorkflowSID)
	} else {
		wf, err = h.store.GetWorkflow(ctx, t.WorkspaceSID, t.WorkflowSID)
	}
	if err != nil {
		h.log.WarnContext(ctx, "reading the task's workflow failed", "task_sid", t.SID, "err", err)
		return 0
	}
	return targetTimeout(wf.Configuration, t.FilterIndex, t.TargetIndex)
}

// workflowCache is implemented by an engine that caches workflows
// (*engine.Engine): the ring time is then decided without a store read.
type workflowCache interface {
	CachedWorkflow(ctx context.Context, workspaceSID, sid string) (didrouter.Workflow, error)
}

// targetTimeout extracts task_routing.filters[f].targets[i].timeout (f = -1:
// the default filter, which has no timeout).
func targetTimeout(configuration string, filter, target int) int {
	var cfg struct {
		TaskRouting struct {
			Filters []struct {
				Targets []struct {
					Timeout *int `json:"timeout"`
				} `json:"targets"`
			} `json:"filters"`
		} `json:"task_routing"`
	}
	if err := json.Unmarshal([]byte(configuration), &cfg); err != nil {
		return 0
	}
	filters := cfg.TaskRouting.Filters
	if filter < 0 || filter >= len(filters) || target < 0 || target >= len(filters[filter].Targets) {
		return 0
	}
	if to := filters[filter].Targets[target].Timeout; to != nil && *to > 0 {
		return *to
	}
	return 0
}
