package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/twilio/twilio-go/twiml"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

// maxContactSkips bounds how many reserved workers without a usable
// contact_uri one webhook rejects before holding the caller instead.
const maxContactSkips = 10

// connect answers the TwiML that moves the caller on from the task's
// current state: ring the reserved worker, or hold the caller until one is
// reserved, or hang up when the task is over.
func (h *Handler) connect(ctx context.Context, c *call, res engine.TaskResult) ([]twiml.Element, error) {
	for range maxContactSkips {
		t := res.Task
		if finished(t.AssignmentStatus) {
			h.decision(ctx, c, t.SID, "", "hangup", "task is "+t.AssignmentStatus)
			return []twiml.Element{hangup()}, nil
		}
		if res.Reservation == nil && t.AssignmentStatus == didrouter.TaskReserved {
			// Another instance (or this one, in the background) reserved a
			// worker for the task while this request routed it.
			cur, err := h.current(ctx, t.WorkspaceSID, t.SID)
			if err != nil {
				return nil, err
			}
			res, t = cur, cur.Task
		}
		r := res.Reservation
		if r == nil || r.Status != didrouter.ReservationPending || r.SID == endedReservation(c) || !h.ringable(ctx, t, *r) {
			return h.hold(ctx, c, t, 0), nil
		}
		w, err := h.reservedWorker(ctx, r, res.Worker)
		if err != nil {
			return nil, err
		}
		noun, err := h.noun(ctx, t, r, w)
		if err == nil {
			timeout := h.dialTimeout(ctx, t, *r)
			h.decision(ctx, c, t.SID, w.SID, "dial", fmt.Sprintf("reservation %s, ring %d s", r.SID, timeout))
			return []twiml.Element{dial(noun, timeout, h.url("/dial", h.reservationQuery(t, r.SID)))}, nil
		}
		if !errors.Is(err, errNoContact) {
			return nil, err
		}
		// The worker cannot be rung: give the call to someone else now
		// rather than let it ring nobody until the step times out.
		h.log.WarnContext(ctx, "reserved worker cannot be rung, rejecting",
			"call_sid", c.callSID, "task_sid", t.SID, "worker_sid", w.SID, "reservation_sid", r.SID, "err", err)
		res, err = h.reject(ctx, t, r.SID, didrouter.ReservationRejected)
		if err != nil {
			return nil, err
		}
	}
	return h.hold(ctx, c, res.Task, 0), nil
}

// reject rejects a pending reservation and returns the task's new state.
// When the reservation is no longer pending (the caller hung up, the step
// timed out meanwhile), the task's current state is returned instead.
func (h *Handler) reject(ctx context.Context, t didrouter.Task, reservationSID, status string) (engine.TaskResult, error) {
	res, err := h.eng.RejectReservation(ctx, t.WorkspaceSID, reservationSID, status)
	if err == nil {
		return res, nil
	}
	if code := didrouter.ErrorCode(err); code != didrouter.EUNAVAILABLE && code != didrouter.ENOTFOUND {
		return engine.TaskResult{}, fmt.Errorf("reject reservation %s: %w", reservationSID, err)
	}
	return h.current(ctx, t.WorkspaceSID, t.SID)
}

// current reads a task with its live reservation and reserved worker.
func (h *Handler) current(ctx context.Context, ws, taskSID string) (engine.TaskResult, error) {
	t, err := h.store.GetTask(ctx, ws, taskSID)
	if err != nil {
		return engine.TaskResult{}, fmt.Errorf("read task %s: %w", taskSID, err)
	}
	res := engine.TaskResult{Task: t}
	if finished(t.AssignmentStatus) {
		return res, nil
	}
	r, w, err := h.eng.LiveReservation(ctx, ws, taskSID)
	if err != nil {
		return engine.TaskResult{}, fmt.Errorf("live reservation of task %s: %w", taskSID, err)
	}
	res.Reservation, res.Worker = r, w
	return res, nil
}

func (h *Handler) reservedWorker(ctx context.Context, r *didrouter.Reservation, w *didrouter.Worker) (didrouter.Worker, error) {
	if w != nil && w.SID == r.WorkerSID {
		return *w, nil
	}
	got, err := h.store.GetWorker(ctx, r.WorkspaceSID, r.WorkerSID)
	if err != nil {
		return didrouter.Worker{}, fmt.Errorf("read reserved worker %s: %w", r.WorkerSID, err)
	}
	return got, nil
}

// noun builds the <Dial> noun that rings w, with the answer URL that
// accepts the reservation when w picks up.
func (h *Handler) noun(ctx context.Context, t didrouter.Task, r *didrouter.Reservation, w didrouter.Worker) (twiml.Element, error) {
	answer := h.url("/answer", h.reservationQuery(t, r.SID))
	uri := contactURI(w.Attributes)
	noun, err := contactNoun(uri, answer, h.e164)
	if err != nil {
		return nil, err
	}
	// Ringing a number that routes back into didrouter (a worker's DID)
	// would start a second inbound call for the same caller: a loop.
	if n, ok := noun.(*twiml.VoiceNumber); ok {
		if n.PhoneNumber == w.PhoneNumber {
			return nil, fmt.Errorf("%w: contact_uri %q is the worker's own DID", errNoContact, uri)
		}
		if owner, err := h.store.WorkerByPhoneNumber(ctx, t.WorkspaceSID, n.PhoneNumber); err == nil {
			return nil, fmt.Errorf("%w: contact_uri %q is the DID of worker %s", errNoContact, uri, owner.SID)
		} else if didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
			return nil, fmt.Errorf("look up DID %s: %w", n.PhoneNumber, err)
		}
		if _, err := h.eng.Binding(ctx, n.PhoneNumber); err == nil {
			return nil, fmt.Errorf("%w: contact_uri %q is a number routed by didrouter", errNoContact, uri)
		} else if didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
			return nil, fmt.Errorf("look up binding of %s: %w", n.PhoneNumber, err)
		}
	}
	return noun, nil
}

// hold answers <Enqueue> into a Twilio queue of the task's own, polled
// through /wait. retry counts consecutive failed enqueues (see dequeued).
func (h *Handler) hold(ctx context.Context, c *call, t didrouter.Task, retry int) []twiml.Element {
	if verbs, ok := h.straightToVoicemail(ctx, c, t); ok {
		return verbs
	}
	h.decision(ctx, c, t.SID, "", "enqueue", "no worker reserved; caller waits")
	return h.queue(c, t, retry)
}

// queue is hold's TwiML, for callers that log their own decision.
func (h *Handler) queue(c *call, t didrouter.Task, retry int) []twiml.Element {
	action, wait := h.taskQuery(t), h.taskQuery(t)
	if retry > 0 {
		action.Set("retry", fmt.Sprint(retry))
	}
	if ended := endedReservation(c); ended != "" {
		// Keep saying which reservation is over (see degraded.go).
		action.Set("ended", ended)
		wait.Set("ended", ended)
	}
	return []twiml.Element{enqueue(t.SID, h.url("/wait", wait), h.url("/dequeued", action))}
}

func (h *Handler) reservationQuery(t didrouter.Task, reservationSID string) url.Values {
	q := h.taskQuery(t)
	q.Set("reservation", reservationSID)
	return q
}

// e164 normalizes a phone number for a <Number> noun.
func (h *Handler) e164(raw string) (string, error) {
	n, err := h.norm.Normalize(raw)
	if err != nil {
		return "", err
	}
	return n.E164, nil
}

func finished(assignmentStatus string) bool {
	return assignmentStatus == didrouter.TaskCompleted || assignmentStatus == didrouter.TaskCanceled
}

// decision writes the one log line per call decision.
func (h *Handler) decision(ctx context.Context, c *call, taskSID, workerSID, decision, why string) {
	h.log.InfoContext(ctx, "call decision", "call_sid", c.callSID, "task_sid", taskSID,
		"worker_sid", workerSID, "decision", decision, "why", why, "route", c.r.URL.Path)
	if h.onDecide != nil {
		h.onDecide(decision)
	}
}
