package webhooks

import (
	"context"
	"net/url"
	"strconv"
	"strings"

	"github.com/twilio/twilio-go/twiml"

	"github.com/didrouter/didrouter"
)

// maxIncomingAttempts bounds the fallback's redirects back to /incoming.
const maxIncomingAttempts = 3

const sorryHold = "We are sorry, we are having a technical problem. Please hold."

// incomingFallback keeps a new caller when routing failed. If the call's
// task exists, the caller waits in the queue, and the wait poll picks up the
// reservation the engine makes later. Otherwise the call comes back to
// /incoming after a short pause, a few times, before giving up.
func (h *Handler) incomingFallback(ctx context.Context, c *call) ([]twiml.Element, error) {
	if h.degradedActive() {
		// The store is down: answer from memory (see degraded.go).
		if verbs, ok := h.incomingDegraded(ctx, c); ok {
			return verbs, nil
		}
	}
	if c.callSID != "" {
		if t, err := h.taskByCall(ctx, c); err == nil && !finished(t.AssignmentStatus) {
			return append(say(sorryHold), h.hold(ctx, c, t, 0)...), nil
		}
	}
	attempt, _ := strconv.Atoi(c.query("attempt"))
	if attempt >= maxIncomingAttempts || c.callSID == "" {
		h.decision(ctx, c, "", "", "hangup", "routing failed "+strconv.Itoa(attempt+1)+" times")
		return lastResort, nil
	}
	q := url.Values{"attempt": {strconv.Itoa(attempt + 1)}}
	if c.ws != h.ws {
		q.Set("ws", c.ws)
	}
	h.decision(ctx, c, "", "", "retry", "routing failed; retrying")
	return []twiml.Element{&twiml.VoiceSay{Message: sorryHold}, pause(2), redirect(h.url("/incoming", q))}, nil
}

// A new caller the gate has no room for hears sorryBusy, waits busyPause
// seconds and comes back to /incoming, up to maxBusyHolds times (about a
// minute and a half), before the apology.
const (
	maxBusyHolds = 12
	busyPause    = 5
	sorryBusy    = "All our lines are busy. Please stay on the line."
)

// busyHold answers a new call's routing step that found no free slot at
// the gate. It reads nothing from the store: past capacity, every read
// would take a slot from the calls the server is finishing.
func (h *Handler) busyHold(ctx context.Context, c *call) ([]twiml.Element, error) {
	held, _ := strconv.Atoi(c.query("busy"))
	if held >= maxBusyHolds || c.callSID == "" {
		h.decision(ctx, c, "", "", "hangup", "lines busy "+strconv.Itoa(held+1)+" times")
		return lastResort, nil
	}
	q := url.Values{"busy": {strconv.Itoa(held + 1)}}
	for _, name := range []string{"ws", "greeted", "attempt"} {
		if v := c.query(name); v != "" {
			q.Set(name, v)
		}
	}
	h.decision(ctx, c, "", "", "busy", "no free webhook slot; caller held")
	return []twiml.Element{&twiml.VoiceSay{Message: sorryBusy}, pause(busyPause), redirect(h.url("/incoming", q))}, nil
}

// keepCallerFallback keeps a caller whose dial or queue step failed: back
// into the queue of their task, where the wait poll picks up any
// reservation the engine makes.
func (h *Handler) keepCallerFallback(ctx context.Context, c *call) ([]twiml.Element, error) {
	if c.taskSID == "" {
		return lastResort, nil
	}
	t, err := h.store.GetTask(ctx, c.ws, c.taskSID)
	switch {
	case didrouter.ErrorCode(err) == didrouter.ENOTFOUND:
		if verbs, ok := h.followKeptTask(ctx, c); ok {
			return verbs, nil
		}
		// A call routed while the store was down may not be imported yet
		// (its task is in another instance's journal): keep the caller.
		if verbs, ok := h.keepCallerDegraded(ctx, c, true); ok {
			return verbs, nil
		}
		return lastResort, nil
	case err != nil:
		if verbs, ok := h.keepCallerDegraded(ctx, c, false); ok {
			return verbs, nil
		}
		if answeredDial(c) {
			return h.answeredDialFallback(ctx, c), nil
		}
		// Where the task stands is unknown while the store does not answer.
		// Keep the caller in the task's own queue instead of hanging up, and
		// its wait poll picks the task up again once the store answers.
		h.log.WarnContext(ctx, "store unavailable, caller held in queue",
			"call_sid", c.callSID, "task_sid", c.taskSID, "err", err)
		return append(say(sorryHold), h.hold(ctx, c, didrouter.Task{SID: c.taskSID, WorkspaceSID: c.ws}, 0)...), nil
	case finished(t.AssignmentStatus):
		return []twiml.Element{hangup()}, nil
	case answeredDial(c) && t.AssignmentStatus == didrouter.TaskAssigned:
		// The agent's call is over: nobody would serve the caller in the
		// queue of a task that is still assigned.
		if _, err := h.endCall(ctx, t.WorkspaceSID, t.SID, "call completed"); err != nil && didrouter.ErrorCode(err) != didrouter.EUNAVAILABLE {
			return h.answeredDialFallback(ctx, c), nil
		}
		h.decision(ctx, c, t.SID, "", "complete", "dial "+c.dialStatus()+" (fallback)")
		return []twiml.Element{hangup()}, nil
	}
	return append(say(sorryHold), h.hold(ctx, c, t, 0)...), nil
}

// answeredDial reports whether c is a dial action saying that the agent
// answered and the dial is over.
func answeredDial(c *call) bool {
	s := c.dialStatus()
	return strings.HasSuffix(c.r.URL.Path, "/dial") && (s == "completed" || s == "answered")
}

// followKeptTask serves a caller whose task is not in the store because two
// instances routed the call while the store was down, and the journal
// replay kept the other instance's task. The caller is connected from that
// task, to its worker or its queue, instead of waiting in the queue of a
// task nobody will serve. It leaves alone an answered dial and a caller who
// is gone, because the journaled end of the call finds the kept task. ok is
// false when it does not apply.
func (h *Handler) followKeptTask(ctx context.Context, c *call) ([]twiml.Element, bool) {
	if c.callSID == "" || answeredDial(c) || c.param("QueueResult") == "hangup" || callerGone(c.param("CallStatus")) {
		return nil, false
	}
	kept, err := h.taskByCall(ctx, c)
	if err != nil || kept.SID == c.taskSID || finished(kept.AssignmentStatus) {
		return nil, false
	}
	h.log.InfoContext(ctx, "call routed twice, following the kept task",
		"call_sid", c.callSID, "task_sid", c.taskSID, "kept_task_sid", kept.SID)
	c.taskSID, c.ended = kept.SID, ""
	res, err := h.current(ctx, kept.WorkspaceSID, kept.SID)
	if err != nil {
		return nil, false
	}
	verbs, err := h.connect(ctx, c, res)
	if err != nil {
		return nil, false
	}
	return verbs, true
}
