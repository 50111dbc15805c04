package webhooks

import (
	"context"
	"fmt"

	"github.com/twilio/twilio-go/twiml"

	"github.com/didrouter/didrouter"
)

// answer runs on the agent's leg when the agent picks up. It is the `url` of
// the <Client>, <Sip> or <Number> noun. Accepting the reservation connects
// the call with an empty <Response/>. When the reservation is no longer
// pending, because the caller hung up or the call went to someone else, the
// agent's leg is hung up instead.
func (h *Handler) answer(ctx context.Context, c *call) ([]twiml.Element, error) {
	resSID := c.query("reservation")
	if resSID == "" {
		h.decision(ctx, c, c.taskSID, "", "hangup-agent", "answer without a reservation")
		return []twiml.Element{hangup()}, nil
	}
	r, err := h.eng.AcceptReservation(ctx, c.ws, resSID)
	switch didrouter.ErrorCode(err) {
	case "":
		h.decision(ctx, c, r.TaskSID, r.WorkerSID, "connect", "reservation "+r.SID+" accepted")
		return nil, nil
	case didrouter.EUNAVAILABLE, didrouter.ENOTFOUND:
		// A retry of an answer that was already accepted is the same
		// pick-up. Twilio retries per the URL's connection overrides, or our
		// first answer was lost. Hanging up now would drop a connected call.
		if cur, rerr := h.store.GetReservation(ctx, c.ws, resSID); rerr == nil && cur.Status == didrouter.ReservationAccepted {
			h.decision(ctx, c, cur.TaskSID, cur.WorkerSID, "connect", "reservation "+cur.SID+" already accepted (retried answer)")
			return nil, nil
		}
		if didrouter.ErrorCode(err) == didrouter.ENOTFOUND && h.notImportedYet(ctx, c, resSID) {
			return nil, nil
		}
		h.decision(ctx, c, c.taskSID, "", "hangup-agent", "reservation "+resSID+" no longer pending: "+didrouter.ErrorMessage(err))
		return []twiml.Element{hangup()}, nil
	default:
		return nil, fmt.Errorf("accept reservation %s: %w", resSID, err)
	}
}

// agentFallback hangs up the agent's leg: the caller's <Dial> then ends,
// and its action moves the call on.
func agentFallback(context.Context, *call) ([]twiml.Element, error) {
	return []twiml.Element{hangup()}, nil
}
