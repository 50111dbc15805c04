package webhooks

import (
	"context"
	"fmt"

	"github.com/twilio/twilio-go/twiml"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

// dialAction runs when a <Dial> to a worker ends (DialCallStatus). An
// answered call that ended completes the task; an unanswered one gives the
// reservation back (no-answer = timeout, else rejected) and the caller rings
// the next reserved worker or waits.
func (h *Handler) dialAction(ctx context.Context, c *call) ([]twiml.Element, error) {
	t, err := h.urlTask(ctx, c, "dial action")
	if err != nil {
		return nil, err
	}
	if finished(t.AssignmentStatus) {
		h.decision(ctx, c, t.SID, "", "hangup", "task is "+t.AssignmentStatus)
		return []twiml.Element{hangup()}, nil
	}
	dialStatus := c.dialStatus()
	resSID := c.query("reservation")
	var r didrouter.Reservation
	if resSID != "" {
		if r, err = h.store.GetReservation(ctx, c.ws, resSID); err != nil && didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
			return nil, fmt.Errorf("read reservation %s: %w", resSID, err)
		}
	}
	// Only an accepted reservation makes an answered dial a handled call: a
	// pick-up whose answer webhook found the reservation gone was hung up.
	answered := (dialStatus == "completed" || dialStatus == "answered") && r.SID != "" && r.TaskSID == t.SID &&
		(r.Status == didrouter.ReservationAccepted || r.Status == didrouter.ReservationWrapping || r.Status == didrouter.ReservationCompleted)
	if answered {
		if _, err := h.endCall(ctx, t.WorkspaceSID, t.SID, "call completed"); err != nil && didrouter.ErrorCode(err) != didrouter.EUNAVAILABLE {
			return nil, fmt.Errorf("complete task %s: %w", t.SID, err)
		}
		h.decision(ctx, c, t.SID, r.WorkerSID, "complete", "dial "+dialStatus)
		return []twiml.Element{hangup()}, nil
	}
	if (dialStatus == "completed" || dialStatus == "answered") && r.SID != "" && r.TaskSID == t.SID &&
		r.Status == didrouter.ReservationPending && h.recovering() {
		// The acceptance may be in a journal not replayed yet (degraded.go).
		if verbs, ok := h.dialAfterJournals(ctx, c, t, r); ok {
			return verbs, nil
		}
	}
	if callerGone(c.param("CallStatus")) {
		return h.callerLeft(ctx, c, t)
	}
	res := engine.TaskResult{Task: t}
	if r.SID != "" && r.TaskSID == t.SID && r.Status == didrouter.ReservationPending {
		status := didrouter.ReservationRejected
		if dialStatus == "no-answer" {
			status = didrouter.ReservationTimeout
		}
		h.decision(ctx, c, t.SID, r.WorkerSID, "release", "dial "+dialStatus+": reservation "+status)
		if res, err = h.reject(ctx, t, r.SID, status); err != nil {
			return nil, err
		}
	} else if res, err = h.current(ctx, t.WorkspaceSID, t.SID); err != nil {
		return nil, err
	}
	return h.connect(ctx, c, res)
}

// callerGone reports whether a CallStatus says the caller's call is over
// (Twilio still requests the action URL, but plays nothing).
func callerGone(callStatus string) bool {
	switch callStatus {
	case "completed", "canceled", "busy", "failed", "no-answer":
		return true
	}
	return false
}

// callerLeft ends the task of a caller who hung up. It is canceled when
// nobody took it and completed when a worker did. A call-back request is
// left alone in every state, because its caller asked to be called back and
// hung up, and the agent who took it ends it. A late or retried status
// callback must not complete it under them.
func (h *Handler) callerLeft(ctx context.Context, c *call, t didrouter.Task) ([]twiml.Element, error) {
	var err error
	decision := "cancel"
	switch {
	case isCallback(t):
		decision = "none"
	case t.AssignmentStatus == didrouter.TaskPending, t.AssignmentStatus == didrouter.TaskReserved:
		_, err = h.eng.CancelTask(ctx, t.WorkspaceSID, t.SID, "caller hung up")
	case t.AssignmentStatus == didrouter.TaskAssigned:
		decision = "complete"
		_, err = h.endCall(ctx, t.WorkspaceSID, t.SID, "call completed")
	default:
		decision = "none"
	}
	if err != nil && didrouter.ErrorCode(err) != didrouter.EUNAVAILABLE {
		return nil, fmt.Errorf("%s task %s: %w", decision, t.SID, err)
	}
	h.decision(ctx, c, t.SID, "", decision, "caller hung up (task was "+t.AssignmentStatus+")")
	return []twiml.Element{hangup()}, nil
}
