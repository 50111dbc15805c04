package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"

	"github.com/twilio/twilio-go/twiml"

	"github.com/didrouter/didrouter"
)

// call is one verified webhook request.
type call struct {
	r       *http.Request
	ws      string // workspace sid: the "ws" query parameter didrouter wrote, else the default
	callSID string
	taskSID string // "task" query parameter, when the route has one
	ended   string // "ended" query parameter: a reservation a degraded dial outcome ended (see degraded.go)
}

// param returns a parameter Twilio sent about the call (twilioParams:
// a POST's body, never its query string).
func (c *call) param(name string) string { return strings.TrimSpace(twilioParams(c.r).Get(name)) }

// query returns a parameter didrouter itself wrote into the URL (one of
// ownParams, checked by checkParams).
func (c *call) query(name string) string { return strings.TrimSpace(c.r.URL.Query().Get(name)) }

// dialStatus is how a <Dial> ended. It is Twilio's DialCallStatus, or the
// dial_status didrouter wrote into the redirect when dialAfterJournals put
// the dial action off, because a <Redirect> does not post it again.
func (c *call) dialStatus() string {
	if s := c.param("DialCallStatus"); s != "" {
		return s
	}
	return c.query("dial_status")
}

// urlTask reads the task named in the request's URL. what names the
// request in the error when the URL names no task.
func (h *Handler) urlTask(ctx context.Context, c *call, what string) (didrouter.Task, error) {
	if c.taskSID == "" {
		return didrouter.Task{}, didrouter.Errorf(didrouter.EINVALID, "%s without a task", what)
	}
	t, err := h.store.GetTask(ctx, c.ws, c.taskSID)
	if err != nil {
		return didrouter.Task{}, fmt.Errorf("read task %s: %w", c.taskSID, err)
	}
	return t, nil
}

// twimlFunc decides the TwiML of one webhook.
type twimlFunc func(ctx context.Context, c *call) ([]twiml.Element, error)

// twimlRoute serves a webhook of a call in progress: it waits at the gate
// ahead of new calls (gate.go), runs fn and answers its TwiML. When fn
// fails or panics, the error is logged with the CallSid and fallback
// answers TwiML that keeps the call safe; Twilio never sees a 500 or a
// stack trace.
func (h *Handler) twimlRoute(name string, fn, fallback twimlFunc) http.HandlerFunc {
	return h.gatedRoute(name, inProgress, fn, fallback, nil)
}

// gatedRoute is twimlRoute with the gate's class of the webhook. A new
// call's webhooks (newCall) wait behind calls in progress, and when the
// gate has no slot for one soon, busy answers it at once, without the
// store. With ownGate, fn enters the gate itself, where its store work
// begins.
func (h *Handler) gatedRoute(name string, cl class, fn, fallback, busy twimlFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := h.newCall(r)
		// Finish a decision even if Twilio drops the connection: a half-made
		// decision is worse than a late one. Bounded below Twilio's 15 s.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), h.timeout)
		defer cancel()
		verbs, err := h.admitted(ctx, c, cl, fn)
		switch {
		case errors.Is(err, errBusy) && busy != nil:
			verbs, err = protect(ctx, c, busy)
		case err != nil:
			h.log.ErrorContext(ctx, "webhook failed, answering fallback twiml",
				"route", name, "call_sid", c.callSID, "task_sid", c.taskSID, "err", err)
			verbs, err = protect(ctx, c, fallback)
		}
		if err != nil {
			h.log.ErrorContext(ctx, "webhook fallback failed", "route", name, "call_sid", c.callSID, "err", err)
			verbs = lastResort
		}
		if err := writeTwiML(w, verbs); err != nil {
			h.log.ErrorContext(ctx, "writing twiml failed", "route", name, "call_sid", c.callSID, "err", err)
		}
	}
}

// admitted runs fn once the gate lets it.
func (h *Handler) admitted(ctx context.Context, c *call, cl class, fn twimlFunc) ([]twiml.Element, error) {
	if cl != ownGate {
		leave, err := h.gate.enter(ctx, cl)
		if err != nil {
			return nil, err
		}
		defer leave()
	}
	return protect(ctx, c, fn)
}

// lastResort is answered when even a fallback failed.
var lastResort = []twiml.Element{
	&twiml.VoiceSay{Message: "We are sorry, we cannot take your call right now. Please call again later."},
	&twiml.VoiceHangup{},
}

// protect runs fn, turning a panic into an error.
func protect(ctx context.Context, c *call, fn twimlFunc) (verbs []twiml.Element, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return fn(ctx, c)
}

func (h *Handler) newCall(r *http.Request) *call {
	// The verifier's checkParams has checked the shapes of these.
	c := &call{r: r, ws: h.ws}
	c.callSID = c.param("CallSid")
	if ws := c.query("ws"); ws != "" {
		c.ws = ws
	}
	c.taskSID = c.query("task")
	c.ended = c.query("ended")
	return c
}

// taskQuery is the query of a follow-up URL about task t: its sid, and its
// workspace when it is not the default one.
func (h *Handler) taskQuery(t didrouter.Task) url.Values {
	q := url.Values{"task": {t.SID}}
	if t.WorkspaceSID != h.ws {
		q.Set("ws", t.WorkspaceSID)
	}
	return q
}
