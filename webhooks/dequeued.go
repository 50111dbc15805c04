package webhooks

import (
	"context"
	"fmt"
	"strconv"

	"github.com/twilio/twilio-go/twiml"

	"github.com/didrouter/didrouter"
)

// maxEnqueueRetries bounds how often a caller is put back in the queue
// after Twilio reported the queue itself failing (queue-full, error).
const maxEnqueueRetries = 3

// dequeued is the <Enqueue action>: the caller left the queue. After our
// own <Leave/> the reserved worker is rung (or the caller waits again if
// the reservation vanished meanwhile); a caller who hung up in the queue
// cancels the task.
func (h *Handler) dequeued(ctx context.Context, c *call) ([]twiml.Element, error) {
	t, err := h.urlTask(ctx, c, "enqueue action")
	if err != nil {
		return nil, err
	}
	result := c.param("QueueResult")
	switch {
	case result == "hangup" || callerGone(c.param("CallStatus")):
		return h.callerLeft(ctx, c, t)
	case result == "leave":
		if verbs, ok := h.leftByChoice(ctx, c, t); ok {
			return verbs, nil
		}
	case finished(t.AssignmentStatus):
		h.decision(ctx, c, t.SID, "", "hangup", "task is "+t.AssignmentStatus)
		return []twiml.Element{hangup()}, nil
	case result == "bridged":
		// Someone dequeued the caller with <Dial><Queue> and the call ended.
		return h.callerLeft(ctx, c, t)
	}
	res, err := h.current(ctx, t.WorkspaceSID, t.SID)
	if err != nil {
		return nil, err
	}
	if result == "leave" || result == "redirected" || (res.Reservation != nil && res.Reservation.Status == didrouter.ReservationPending) {
		return h.connect(ctx, c, res)
	}
	// queue-full, error, system-error: Twilio could not keep the caller in
	// the queue. Try again a few times, then give up politely.
	retry, _ := strconv.Atoi(c.query("retry"))
	if retry >= maxEnqueueRetries {
		if _, err := h.eng.CancelTask(ctx, t.WorkspaceSID, t.SID, "queue failed: "+result); err != nil && didrouter.ErrorCode(err) != didrouter.EUNAVAILABLE {
			return nil, fmt.Errorf("cancel task %s: %w", t.SID, err)
		}
		h.decision(ctx, c, t.SID, "", "hangup", "queue failed "+strconv.Itoa(retry)+" times: "+result)
		return append(say(sorryNobody), hangup()), nil
	}
	return h.hold(ctx, c, res.Task, retry+1), nil
}
