package webhooks

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/twilio/twilio-go/twiml"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

// Degraded answers calls while the store is unreachable. It routes new
// calls from memory and journals what Twilio reports about calls in
// progress, so the store can catch up once it is back. Package degraded
// implements it. With Config.Degraded nil the fallbacks only hold or retry
// callers.
type Degraded interface {
	// Active reports whether the store is known to be unreachable.
	Active() bool
	// Incoming routes a new call to dialed (E.164) without the store: with
	// the workflow of dialed's binding as last read, else the default
	// workspace's default workflow.
	Incoming(ctx context.Context, dialed string, n engine.TaskInsert) (didrouter.Workspace, engine.TaskResult, error)
	// LoopsBack reports whether ringing the phone number e164 could call
	// into didrouter again (a worker's DID, a bound number), from memory.
	LoopsBack(workspaceSID, e164 string) bool
	Accept(ctx context.Context, ws, callSID, taskSID, reservationSID string) error
	Reject(ctx context.Context, ws, callSID, taskSID, reservationSID, status string) error
	EndTask(ctx context.Context, ws, callSID, taskSID, reservationSID, reason string) error
	EndCall(ctx context.Context, ws, callSID, reason string) error
	// Voicemail journals a voicemail task (keyed by its recording's sid)
	// for the store.
	Voicemail(ctx context.Context, n engine.TaskInsert) error
	// Recovering reports whether the store is back after an outage but
	// the instances' journals may not all be replayed yet.
	Recovering() bool
}

// degradedActive reports whether degraded answers apply now.
func (h *Handler) degradedActive() bool { return h.degraded != nil && h.degraded.Active() }

// recovering reports whether the store is back after an outage while the
// journals may not all be in it (degraded mode's settle time).
func (h *Handler) recovering() bool { return h.degraded != nil && h.degraded.Recovering() }

// Right after an outage, the store may say a reservation is pending even
// though an agent answered it. The acceptance is still in some instance's
// journal and is replayed within the settle time.
//
// A webhook that ends the call must not decide from the store then. A dial
// action "completed" would reject the reservation and queue the caller
// again, and the acceptance imported later would leave the task assigned
// with the caller waiting for nobody. A status callback would cancel an
// answered call.
//
// So, while recovering, a caller still on the line is held. Twilio gets a
// pause and the same dial action again, with DialCallStatus in the URL, and
// the call is decided once the settle time is over. For a caller who is
// gone, the end of the call is journaled. The journal replay then completes
// the task if an acceptance made it assigned, and cancels it otherwise.

// maxJournalHolds bounds how often a dial action is put off (one second
// each) for the journals; then it is decided from the store as it is.
const maxJournalHolds = 15

// dialAfterJournals puts off the dial action of an answered dial whose
// reservation the store says is pending while recovering (see above). ok
// is false when it is not put off: decide from the store.
func (h *Handler) dialAfterJournals(ctx context.Context, c *call, t didrouter.Task, r didrouter.Reservation) ([]twiml.Element, bool) {
	dialStatus := c.dialStatus()
	if callerGone(c.param("CallStatus")) {
		if c.callSID == "" || h.degraded.EndTask(ctx, t.WorkspaceSID, c.callSID, t.SID, r.SID, "call completed") != nil {
			return nil, false
		}
		h.decision(ctx, c, t.SID, r.WorkerSID, "complete", "dial "+dialStatus+" right after an outage: end of call journaled until the journals are in")
		return []twiml.Element{hangup()}, true
	}
	held, _ := strconv.Atoi(c.query("held"))
	if held >= maxJournalHolds {
		return nil, false
	}
	q := c.r.URL.Query()
	q.Set("dial_status", dialStatus) // a <Redirect> does not post DialCallStatus again
	q.Set("held", strconv.Itoa(held+1))
	h.decision(ctx, c, t.SID, r.WorkerSID, "hold", "dial "+dialStatus+" right after an outage: reservation pending in the store; waiting for the journals")
	return []twiml.Element{pause(1), redirect(h.url("/dial", q))}, true
}

// endAfterJournals journals the end of a caller's call while recovering, when
// the store says its task still waits or rings someone. The journal replay
// completes the task if an agent's answer made it assigned, and cancels it
// otherwise. It reports whether it journaled the end.
func (h *Handler) endAfterJournals(ctx context.Context, c *call, t didrouter.Task) bool {
	// A call-back request is not ended by its caller's hang-up (callerLeft),
	// so there is nothing to journal for it.
	if t.AssignmentStatus != didrouter.TaskReserved || c.callSID == "" || isCallback(t) || !h.recovering() {
		return false
	}
	if err := h.degraded.EndCall(ctx, t.WorkspaceSID, c.callSID, "caller hung up"); err != nil {
		return false
	}
	h.decision(ctx, c, t.SID, "", "cancel", "caller hung up right after an outage: journaled until the journals are in")
	return true
}

// answeredDialFallback answers a dial action that says an agent answered
// and the call is over, when the store could not be read or written. The
// caller's call ends, because holding them in the queue of an assigned task
// would leave them waiting for nobody. The end of the call is journaled for
// the store. Without degraded mode, the status callback that follows the
// hang-up ends the task.
func (h *Handler) answeredDialFallback(ctx context.Context, c *call) []twiml.Element {
	if h.degraded != nil && c.callSID != "" {
		if err := h.degraded.EndTask(ctx, c.ws, c.callSID, c.taskSID, c.query("reservation"), "call completed"); err != nil {
			h.log.ErrorContext(ctx, "journaling a call's end failed",
				"call_sid", c.callSID, "task_sid", c.taskSID, "err", err)
		}
	}
	h.decision(ctx, c, c.taskSID, "", "complete", "dial "+c.dialStatus()+": store unreachable; end of call journaled")
	return []twiml.Element{hangup()}
}

// incomingDegraded answers a new call from memory. It rings the worker the
// index offers, or else holds the caller in the call's queue. ok is false
// when degraded mode cannot take the call, and the caller then gets the
// ordinary fallback.
func (h *Handler) incomingDegraded(ctx context.Context, c *call) ([]twiml.Element, bool) {
	if c.callSID == "" {
		return nil, false
	}
	dialed := c.param("To")
	if n, err := h.norm.Normalize(dialed); err == nil {
		dialed = n.E164
	}
	attrs, err := json.Marshal(map[string]string{
		"name": h.callerName(c.param("From")), "phone_number": dialed,
		"type": "inbound", "direction": "inbound", "call_sid": c.callSID,
	})
	if err != nil {
		return nil, false
	}
	ws, res, err := h.degraded.Incoming(ctx, dialed, engine.TaskInsert{
		Attributes: string(attrs), TaskChannel: engine.DefaultTaskChannel, CallSID: c.callSID,
	})
	if err != nil {
		h.log.ErrorContext(ctx, "degraded mode could not take the call", "call_sid", c.callSID, "err", err)
		return nil, false
	}
	c.taskSID = res.Task.SID
	var verbs []twiml.Element
	if r := res.Reservation; r != nil && res.Worker != nil {
		noun, err := contactNoun(contactURI(res.Worker.Attributes), h.url("/answer", h.reservationQuery(res.Task, r.SID)), h.e164)
		if n, isNumber := noun.(*twiml.VoiceNumber); isNumber &&
			(n.PhoneNumber == res.Worker.PhoneNumber || h.degraded.LoopsBack(ws.SID, n.PhoneNumber)) {
			// As the ordinary path, from memory: a number that routes back
			// into didrouter (a worker's DID, a bound number) would loop.
			h.log.WarnContext(ctx, "reserved worker not rung", "reason", "contact_uri is a didrouter number",
				"call_sid", c.callSID, "worker_sid", res.Worker.SID, "contact_uri", n.PhoneNumber)
			err = errNoContact
		}
		if err == nil {
			timeout := h.dialTimeout(ctx, res.Task, *r)
			h.decision(ctx, c, res.Task.SID, res.Worker.SID, "dial", "store unreachable: reserved from memory")
			verbs = []twiml.Element{dial(noun, timeout, h.url("/dial", h.reservationQuery(res.Task, r.SID)))}
		} else {
			_ = h.degraded.Reject(ctx, ws.SID, c.callSID, res.Task.SID, r.SID, didrouter.ReservationRejected)
			c.ended = r.SID
		}
	}
	if verbs == nil {
		h.decision(ctx, c, res.Task.SID, "", "enqueue", "store unreachable: nobody free in memory; caller waits")
		verbs = h.queue(c, res.Task, 0)
	}
	if greeted(c) {
		return verbs, true
	}
	return append(say(ws.Greeting), verbs...), true
}

// answerDegraded connects an agent who picks up while the store is down
// (the acceptance is journaled), rather than hanging up a call that can
// go on.
func (h *Handler) answerDegraded(ctx context.Context, c *call) ([]twiml.Element, error) {
	resSID := c.query("reservation")
	if h.degradedActive() && strings.HasPrefix(resSID, didrouter.PrefixReservation) {
		if err := h.degraded.Accept(ctx, c.ws, c.param("ParentCallSid"), c.taskSID, resSID); err == nil {
			h.decision(ctx, c, c.taskSID, "", "connect", "store unreachable: acceptance journaled")
			return nil, nil
		}
	}
	return agentFallback(ctx, c)
}

// dialDegraded journals how a dial ended while the store is down and keeps
// the caller. An answered call that ended hangs up. An unanswered one waits
// in the task's queue and is routed again once the store answers.
func (h *Handler) dialDegraded(ctx context.Context, c *call) ([]twiml.Element, bool) {
	resSID := c.query("reservation")
	dialStatus := c.dialStatus()
	switch {
	case dialStatus == "completed" || dialStatus == "answered":
		if err := h.degraded.EndTask(ctx, c.ws, c.callSID, c.taskSID, resSID, "call completed"); err != nil {
			return nil, false
		}
		h.decision(ctx, c, c.taskSID, "", "complete", "store unreachable: end of call journaled")
		return []twiml.Element{hangup()}, true
	case callerGone(c.param("CallStatus")):
		if err := h.degraded.EndCall(ctx, c.ws, c.callSID, "caller hung up"); err != nil {
			return nil, false
		}
		return []twiml.Element{hangup()}, true
	}
	status := didrouter.ReservationRejected
	if dialStatus == "no-answer" {
		status = didrouter.ReservationTimeout
	}
	if strings.HasPrefix(resSID, didrouter.PrefixReservation) {
		if err := h.degraded.Reject(ctx, c.ws, c.callSID, c.taskSID, resSID, status); err != nil {
			return nil, false
		}
	}
	h.decision(ctx, c, c.taskSID, "", "enqueue", "store unreachable: dial "+dialStatus+" journaled; caller waits")
	if strings.HasPrefix(resSID, didrouter.PrefixReservation) {
		// Until the journal is replayed the store still says this
		// reservation is pending: the queue's URLs say it is over, so
		// that no instance rings the worker again for it.
		c.ended = resSID
	}
	return append(say(sorryHold), h.queue(c, didrouter.Task{SID: c.taskSID, WorkspaceSID: c.ws}, 0)...), true
}

// endedReservation is the reservation a degraded dial outcome said is over
// (the "ended" query parameter of the queue's URLs).
func endedReservation(c *call) string { return c.ended }

// callerGoneDegraded journals that a caller hung up while the store is
// down (status callback, or hanging up in the queue).
func (h *Handler) callerGoneDegraded(ctx context.Context, c *call) bool {
	if !h.degradedActive() || c.callSID == "" {
		return false
	}
	if err := h.degraded.EndCall(ctx, c.ws, c.callSID, "caller hung up"); err != nil {
		return false
	}
	h.decision(ctx, c, c.taskSID, "", "cancel", "store unreachable: caller hang-up journaled")
	return true
}

// keepCallerDegraded is the dial and queue fallback while the store is
// down. With missing set it is the fallback for a call whose task is not
// imported yet. It journals how the dial ended, or that the caller hung up
// in the queue. ok is false when degraded mode is off or could not journal.
func (h *Handler) keepCallerDegraded(ctx context.Context, c *call, missing bool) ([]twiml.Element, bool) {
	if h.degraded == nil || (!missing && !h.degraded.Active()) {
		return nil, false
	}
	if missing {
		h.log.WarnContext(ctx, "call's task not in the store", "hint", "it may be in another instance's journal",
			"call_sid", c.callSID, "task_sid", c.taskSID)
	}
	if strings.HasSuffix(c.r.URL.Path, "/dial") {
		return h.dialDegraded(ctx, c)
	}
	if c.param("QueueResult") == "hangup" || callerGone(c.param("CallStatus")) {
		if c.callSID != "" && h.degraded.EndCall(ctx, c.ws, c.callSID, "caller hung up") == nil {
			h.decision(ctx, c, c.taskSID, "", "cancel", "caller hang-up journaled")
			return []twiml.Element{hangup()}, true
		}
		return nil, false
	}
	if missing {
		return append(say(sorryHold), h.queue(c, didrouter.Task{SID: c.taskSID, WorkspaceSID: c.ws}, 0)...), true
	}
	return nil, false
}

// notImportedYet connects an agent who answers a reservation the store does
// not have: it may have been made while the store was down by an instance
// whose journal is not replayed yet. The acceptance is journaled (and
// dropped after a while if the reservation never appears).
func (h *Handler) notImportedYet(ctx context.Context, c *call, resSID string) bool {
	if h.degraded == nil || !strings.HasPrefix(resSID, didrouter.PrefixReservation) {
		return false
	}
	if err := h.degraded.Accept(ctx, c.ws, c.param("ParentCallSid"), c.taskSID, resSID); err != nil {
		return false
	}
	h.decision(ctx, c, c.taskSID, "", "connect", "reservation "+resSID+" not in the store yet: acceptance journaled")
	return true
}
