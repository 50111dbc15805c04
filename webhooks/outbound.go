package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/twilio/twilio-go/twiml"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/dialpolicy"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/logsafe"
	"github.com/didrouter/didrouter/routing"
)

// outboundEngine is what outbound calls need from the engine beyond Engine
// (*engine.Engine has both).
type outboundEngine interface {
	WorkerByContactURI(ctx context.Context, workspaceSID, uri string) (didrouter.Worker, error)
	RecordOutboundCall(ctx context.Context, o engine.OutboundCall) (engine.OutboundResult, error)
}

// What a softphone user hears when their call cannot be placed. They never
// name the identity or the number: the agent knows what they dialed.
const (
	sayNotAnAgent   = "This phone is not linked to an agent, so the call cannot be placed."
	sayTwoAgents    = "This phone is linked to more than one agent, so the call cannot be placed. Please ask your administrator."
	sayBadNumber    = "The number you dialed is not a valid phone number. Please check it and try again."
	sayNoCallerID   = "You have no direct number, and no default caller ID is set up, so the call cannot be placed. Please ask your administrator."
	sayOutboundDown = "We are sorry, your call cannot be placed right now. Please try again later."
	sayCountry      = "Calls to this country cannot be placed from this phone. Please ask your administrator."
	sayPremium      = "Calls to premium-rate numbers cannot be placed from this phone."
	sayNoEmergency  = "This phone cannot make emergency calls. Please use another phone."
)

// refusal is what the agent hears when the policy refuses the number.
func refusal(v dialpolicy.Verdict) (string, bool) {
	switch v {
	case dialpolicy.Allowed:
		return "", false
	case dialpolicy.CountryRefused:
		return sayCountry, true
	case dialpolicy.PremiumRefused:
		return sayPremium, true
	case dialpolicy.EmergencyRefused:
		return sayNoEmergency, true
	}
	return sayBadNumber, true
}

// checkCallerID normalizes the configured default caller ID ("" = none).
func checkCallerID(n *routing.Normalizer, raw string) (string, error) {
	if strings.TrimSpace(raw) == "" {
		return "", nil
	}
	num, err := n.Normalize(raw)
	if err != nil {
		return "", fmt.Errorf("webhooks: Config.DefaultCallerID: %w", err)
	}
	return num.E164, nil
}

// outbound is the voice URL of the TwiML App the agents' softphones use.
// Twilio asks it what to do when client:alice dials To. The answer dials To
// in E.164 with alice's DID as caller ID, or the default caller ID when she
// has none. The call is recorded once per CallSid as an outbound task
// assigned to alice, by engine.RecordOutboundCall. Whatever goes wrong, the
// softphone hears why in a <Say> and never a Twilio error tone.
//
// The same route is the <Dial action>. Twilio requests it with ?task=WT…
// when the dialed party's leg ends, and the task is completed. The status
// callback would complete it too, and whichever comes first wins.
func (h *Handler) outbound(ctx context.Context, c *call) ([]twiml.Element, error) {
	if c.taskSID != "" {
		return h.outboundEnded(ctx, c)
	}
	if c.callSID == "" {
		return nil, didrouter.Errorf(didrouter.EINVALID, "CallSid is missing")
	}
	oe, ok := h.eng.(outboundEngine)
	if !ok {
		return nil, errors.New("the engine cannot look up agents by contact_uri")
	}
	// The dialed number first: an emergency call that cannot be placed
	// says so at once, whoever dials, before anything else can fail.
	number := h.dialPolicy.Check(c.param("To"))
	if number.Verdict == dialpolicy.EmergencyRefused {
		h.decision(ctx, c, "", "", "refuse", number.Why)
		return spoken(sayNoEmergency), nil
	}
	from := c.param("From")
	if !strings.HasPrefix(strings.ToLower(from), "client:") || strings.TrimSpace(from[len("client:"):]) == "" {
		h.decision(ctx, c, "", "", "refuse", "outbound call from "+logsafe.Clip(from)+", not a softphone (client:…)")
		return spoken(sayNotAnAgent), nil
	}
	contact := "client:" + strings.TrimSpace(from[len("client:"):])
	w, err := oe.WorkerByContactURI(ctx, c.ws, contact)
	switch didrouter.ErrorCode(err) {
	case "":
	case didrouter.ENOTFOUND:
		h.decision(ctx, c, "", "", "refuse", "no worker has contact_uri "+logsafe.Clip(contact))
		return spoken(sayNotAnAgent), nil
	case didrouter.ECONFLICT:
		h.decision(ctx, c, "", "", "refuse", didrouter.ErrorMessage(err))
		return spoken(sayTwoAgents), nil
	default:
		return nil, fmt.Errorf("find the worker of %s: %w", logsafe.Clip(contact), err)
	}
	if say, refused := refusal(number.Verdict); refused {
		// Spoken, never dialed: toll fraud pays by the minute (dialpolicy).
		h.decision(ctx, c, "", w.SID, "refuse", number.Why)
		return spoken(say), nil
	}
	callerID := w.PhoneNumber
	if callerID == "" {
		callerID = h.callerID
	}
	if callerID == "" {
		h.decision(ctx, c, "", w.SID, "refuse", "worker has no DID and DIDROUTER_DEFAULT_CALLER_ID is not set")
		if number.Emergency {
			return spoken(sayNoEmergency), nil // the emergency service needs a number to call back
		}
		return spoken(sayNoCallerID), nil
	}
	attrs, err := json.Marshal(map[string]string{
		"type":       "outbound",
		"direction":  "outbound",
		"from":       callerID,
		"to":         number.Number,
		"worker_sid": w.SID,
		"call_sid":   c.callSID,
	})
	if err != nil {
		return nil, fmt.Errorf("encode task attributes: %w", err)
	}
	d := &twiml.VoiceDial{
		CallerId:       callerID,
		AnswerOnBridge: "true", // the softphone hears the real ringing, not a connected silence
		InnerElements:  []twiml.Element{&twiml.VoiceNumber{PhoneNumber: number.Number}},
	}
	h.calledBack(ctx, c, w, number.Number)
	// The call matters more than its record: when recording fails the agent
	// still gets through, and the failure is logged for the reports.
	res, err := oe.RecordOutboundCall(ctx, engine.OutboundCall{
		WorkspaceSID: c.ws, WorkerSID: w.SID, CallSID: c.callSID, Attributes: string(attrs),
	})
	if err != nil {
		h.log.ErrorContext(ctx, "outbound call not recorded, dialing anyway",
			"call_sid", c.callSID, "worker_sid", w.SID, "err", err)
		h.decision(ctx, c, "", w.SID, "dial-outbound", "to "+number.Why+" from "+callerID+" (not recorded)")
		return []twiml.Element{d}, nil
	}
	c.taskSID = res.Task.SID
	q := url.Values{"task": {res.Task.SID}}
	if c.ws != h.ws {
		q.Set("ws", c.ws)
	}
	d.Action, d.Method = h.url("/outbound", q), http.MethodPost
	why := "to " + number.Why + " from " + callerID
	if !res.Created {
		why += " (task already recorded)"
	}
	h.decision(ctx, c, res.Task.SID, w.SID, "dial-outbound", why)
	return []twiml.Element{d}, nil
}

// outboundEnded is the outbound <Dial action>: the dialed party's leg is
// over, so the task completes (freeing the agent) and the softphone's leg
// hangs up.
func (h *Handler) outboundEnded(ctx context.Context, c *call) ([]twiml.Element, error) {
	t, err := h.store.GetTask(ctx, c.ws, c.taskSID)
	switch {
	case didrouter.ErrorCode(err) == didrouter.ENOTFOUND:
		return []twiml.Element{hangup()}, nil
	case err != nil:
		return nil, fmt.Errorf("read task %s: %w", c.taskSID, err)
	case t.CallSID != c.callSID:
		// Only the call that made the task may end it.
		h.decision(ctx, c, t.SID, "", "hangup", "dial action for a task of another call")
		return []twiml.Element{hangup()}, nil
	}
	if t.AssignmentStatus == didrouter.TaskAssigned {
		reason := "call completed"
		if s := c.dialStatus(); knownDialStatus(s) {
			reason += ": " + s
		}
		if _, err := h.eng.CompleteTask(ctx, t.WorkspaceSID, t.SID, reason); err != nil && didrouter.ErrorCode(err) != didrouter.EUNAVAILABLE {
			return nil, fmt.Errorf("complete task %s: %w", t.SID, err)
		}
	}
	h.decision(ctx, c, t.SID, "", "complete", "outbound dial ended: "+c.dialStatus())
	return []twiml.Element{hangup()}, nil
}

// outboundFallback answers when an outbound decision failed: the softphone
// hears an apology (or, after the call, just hangs up). An emergency call
// hears that it cannot be placed from this phone: "try again later" is no
// answer to an emergency.
func (h *Handler) outboundFallback(_ context.Context, c *call) ([]twiml.Element, error) {
	if c.taskSID != "" {
		return []twiml.Element{hangup()}, nil
	}
	if h.dialPolicy.Check(c.param("To")).Emergency {
		return spoken(sayNoEmergency), nil
	}
	return spoken(sayOutboundDown), nil
}

// spoken says text and hangs up.
func spoken(text string) []twiml.Element {
	return append(say(text), hangup())
}
