package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/twilio/twilio-go/twiml"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/logsafe"
)

// incoming answers a new inbound call in two steps, as a Flex Studio flow
// does. First the caller hears the workspace's greeting, and Twilio comes
// back to this URL with greeted=1. Then the call becomes a task of the
// workflow bound to the dialed number, or of the workspace default, and
// either rings the reserved worker or waits. The task is created after the
// greeting so that its steps' timeouts start when the ringing does.
//
// Twilio may send the same CallSid twice, on a retry or after didrouter's
// own fallback redirect. The engine then returns the existing task, and the
// answer follows its current state.
func (h *Handler) incoming(ctx context.Context, c *call) ([]twiml.Element, error) {
	if c.callSID == "" {
		return nil, didrouter.Errorf(didrouter.EINVALID, "CallSid is missing")
	}
	if closed, ok := h.afterHours(ctx, c); ok {
		return closed, nil
	}
	if greeting := h.greetingFirst(ctx, c); greeting != nil {
		return greeting, nil
	}
	leave, err := h.gate.enter(ctx, newCall) // routing needs the store
	if err != nil {
		return nil, err
	}
	defer leave()
	ws, nt, err := h.callTask(ctx, c)
	if err != nil {
		return nil, err
	}
	h.replaceCallback(ctx, c, nt)
	res, err := h.eng.CreateTask(ctx, nt)
	if err != nil {
		return nil, fmt.Errorf("create task for call %s: %w", c.callSID, err)
	}
	c.taskSID = res.Task.SID
	if !res.Created {
		h.log.InfoContext(ctx, "incoming call already has a task", "call_sid", c.callSID, "task_sid", res.Task.SID)
	}
	next, err := h.connect(ctx, c, res)
	if err != nil {
		return nil, err
	}
	if greeted(c) {
		return next, nil
	}
	return append(say(ws.Greeting), next...), nil // a workspace without a greeting says nothing
}

// greeted reports whether the caller heard the greeting already: the
// second step of incoming, or a retry after our own fallback.
func greeted(c *call) bool {
	return c.query("greeted") != "" || c.query("attempt") != ""
}

// greetingFirst is incoming's first step: the greeting and a redirect back
// to incoming, or nil when the caller was greeted already, the workspace has
// no greeting, or its settings cannot be read (then the call is routed at
// once, and the fallback says sorry if routing fails too).
func (h *Handler) greetingFirst(ctx context.Context, c *call) []twiml.Element {
	if greeted(c) {
		return nil
	}
	dialed := c.param("To")
	if n, err := h.norm.Normalize(dialed); err == nil {
		dialed = n.E164
	}
	ws, _, err := h.workflowFor(ctx, dialed)
	if err != nil || ws.Greeting == "" {
		return nil
	}
	q := url.Values{"greeted": {"1"}}
	if c.ws != h.ws {
		q.Set("ws", c.ws)
	}
	h.decision(ctx, c, "", "", "greet", "greeting, then routing")
	return append(say(ws.Greeting), redirect(h.url("/incoming", q)))
}

// callTask is the task of an inbound call (the webhook's To, From and
// CallSid), with its workspace.
func (h *Handler) callTask(ctx context.Context, c *call) (didrouter.Workspace, engine.TaskInsert, error) {
	to := c.param("To")
	dialed := to
	if n, err := h.norm.Normalize(to); err == nil {
		dialed = n.E164
	}
	ws, workflowSID, err := h.workflowFor(ctx, dialed)
	if err != nil {
		return didrouter.Workspace{}, engine.TaskInsert{}, err
	}
	attrs, err := json.Marshal(map[string]string{
		"name":         h.callerName(c.param("From")),
		"phone_number": dialed,
		"type":         "inbound",
		"direction":    "inbound",
		"call_sid":     c.callSID,
	})
	if err != nil {
		return didrouter.Workspace{}, engine.TaskInsert{}, fmt.Errorf("encode task attributes: %w", err)
	}
	return ws, engine.TaskInsert{
		WorkspaceSID: ws.SID,
		WorkflowSID:  workflowSID,
		Attributes:   string(attrs),
		TaskChannel:  engine.DefaultTaskChannel,
		CallSID:      c.callSID,
	}, nil
}

// workflowFor finds the workspace and workflow of a dialed number from its
// binding. Without one it is the default workspace's default workflow,
// whose DID filter finds the owner or sends an unknown number to Everyone.
func (h *Handler) workflowFor(ctx context.Context, dialed string) (didrouter.Workspace, string, error) {
	wsSID, workflowSID := h.ws, ""
	b, err := h.eng.Binding(ctx, dialed)
	switch {
	case err == nil:
		wsSID, workflowSID = b.WorkspaceSID, b.WorkflowSID
	case didrouter.ErrorCode(err) != didrouter.ENOTFOUND:
		// dialed is the raw To when it is no number: bounded for the log.
		return didrouter.Workspace{}, "", fmt.Errorf("look up binding of %s: %w", logsafe.Clip(dialed), err)
	}
	ws, err := h.eng.Workspace(ctx, wsSID)
	if err != nil {
		return didrouter.Workspace{}, "", fmt.Errorf("read workspace %s: %w", wsSID, err)
	}
	if workflowSID == "" {
		workflowSID = ws.DefaultWorkflowSID
	}
	if workflowSID == "" {
		return didrouter.Workspace{}, "", fmt.Errorf("workspace %s has no default workflow", ws.SID)
	}
	return ws, workflowSID, nil
}

// callerName is the task's "name". It is the caller's number in E.164 when
// it is one. Otherwise it is what Twilio sent, such as client:alice, a SIP
// address or an anonymous caller, which the normalizer refuses.
func (h *Handler) callerName(from string) string { return h.norm.Caller(from) }
