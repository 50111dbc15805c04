package webhooks

import (
	"context"
	"fmt"
	"strconv"

	"github.com/twilio/twilio-go/twiml"

	"github.com/didrouter/didrouter"
)

// wait is the <Enqueue waitUrl>. Twilio requests it while the caller is in
// the queue, and again each time its TwiML has finished. When the engine has
// reserved a worker for the task meanwhile, <Leave/> takes the caller out of
// the queue. Twilio then requests the Enqueue action, /dequeued, which rings
// that worker. Otherwise the caller hears the hold message on the first poll
// and again about every holdRepeat seconds. A short <Pause> between polls
// makes the next one come a few seconds later.
//
// Polling needs no outbound credentials and works when Twilio's REST API is
// unreachable, at the cost of up to one pause of extra wait. "Waiting
// callers" in docs/design.md tells more.
func (h *Handler) wait(ctx context.Context, c *call) ([]twiml.Element, error) {
	if c.taskSID == "" {
		return nil, didrouter.Errorf(didrouter.EINVALID, "wait without a task")
	}
	t, err := h.store.GetTask(ctx, c.ws, c.taskSID)
	if didrouter.ErrorCode(err) == didrouter.ENOTFOUND && h.lostToKeptTask(ctx, c) {
		// Routed twice during an outage, the call kept another task: leave
		// this queue; the Enqueue action (/dequeued) follows the kept task.
		h.decision(ctx, c, c.taskSID, "", "leave", "the caller's task lost to another task of the same call")
		return []twiml.Element{leave()}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read task %s: %w", c.taskSID, err)
	}
	if finished(t.AssignmentStatus) {
		h.decision(ctx, c, t.SID, "", "hangup", "task is "+t.AssignmentStatus+" while the caller waits")
		return append(say(sorryNobody), hangup()), nil
	}
	r, _, err := h.eng.LiveReservation(ctx, t.WorkspaceSID, t.SID)
	if err != nil {
		return nil, fmt.Errorf("live reservation of task %s: %w", t.SID, err)
	}
	if r != nil && r.Status == didrouter.ReservationPending && r.SID != endedReservation(c) && h.ringable(ctx, t, *r) {
		h.decision(ctx, c, t.SID, r.WorkerSID, "leave", "reservation "+r.SID+" made while the caller waited")
		return []twiml.Element{leave()}, nil
	}
	var verbs []twiml.Element
	if h.sayHold(c) {
		ws, err := h.eng.Workspace(ctx, t.WorkspaceSID)
		if err != nil {
			return nil, fmt.Errorf("read workspace %s: %w", t.WorkspaceSID, err)
		}
		verbs = say(ws.HoldMessage)
	}
	verbs = append(verbs, h.announcement(ctx, c, t)...)
	if offer := h.offer(ctx, c, t); offer != nil {
		verbs = append(verbs, offer)
	}
	return append(verbs, pause(h.waitPause)), nil
}

// holdRepeat is how often, in seconds of waiting, the hold message is said
// again, so that a long wait is not silence.
const holdRepeat = 45

// sayHold tells, from the caller's QueueTime, the polls that should say the
// hold message. They are the first one and then one in each holdRepeat
// second window. Polls come every waitPause seconds or so, so a window one
// pause wide is rarely skipped.
func (h *Handler) sayHold(c *call) bool {
	secs, err := strconv.Atoi(c.param("QueueTime"))
	if err != nil || secs < h.waitPause {
		return true
	}
	return secs%holdRepeat < h.waitPause
}

// waitFallback keeps the caller waiting; the next poll tries again.
func (h *Handler) waitFallback(context.Context, *call) ([]twiml.Element, error) {
	return []twiml.Element{pause(h.waitPause)}, nil
}

const sorryNobody = "We are sorry, nobody is available to take your call. Please call again later."

// lostToKeptTask reports whether the call has an unfinished task other than
// c's, which the store does not have. That happens when two instances routed
// the call while the store was down and the journal replay kept the other
// task. A task that is only not imported yet leaves the call without any
// task, and the caller keeps waiting.
func (h *Handler) lostToKeptTask(ctx context.Context, c *call) bool {
	if c.callSID == "" {
		return false
	}
	kept, err := h.taskByCall(ctx, c)
	return err == nil && kept.SID != c.taskSID && !finished(kept.AssignmentStatus)
}
