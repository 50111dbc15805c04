package webhooks

import (
	"context"
	"fmt"
	"net/http"
	"runtime/debug"

	"github.com/didrouter/didrouter"
)

// status is the number's call status callback. When the caller's call ends
// while the task still waits or rings someone, the task is canceled (its
// reservation rescinded, the worker freed); a call that ends while assigned
// completes its task. Twilio ignores the answer, so it is always an empty 204.
func (h *Handler) status(w http.ResponseWriter, r *http.Request) {
	c := h.newCall(r)
	// Twilio does not read the answer; the record matters. So a hang-up
	// waits longer than a TwiML webhook for its turn and the database.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), max(h.timeout, EndTimeout))
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			h.log.ErrorContext(ctx, "status callback panicked", "call_sid", c.callSID, "panic", p, "stack", string(debug.Stack()))
		}
		w.WriteHeader(http.StatusNoContent)
	}()
	callStatus := c.param("CallStatus")
	if c.callSID == "" || !callerGone(callStatus) {
		return
	}
	leave, err := h.gate.enter(ctx, inProgress)
	if err != nil {
		h.log.ErrorContext(ctx, "status callback found no webhook slot", "call_sid", c.callSID, "err", err)
		return
	}
	defer leave()
	t, err := h.taskByCall(ctx, c)
	switch didrouter.ErrorCode(err) {
	case "":
	case didrouter.ENOTFOUND:
		h.log.InfoContext(ctx, "status callback for a call without a task", "call_sid", c.callSID, "call_status", callStatus)
		h.endedBeforeRouting(ctx, c)
		return
	default:
		if h.callerGoneDegraded(ctx, c) {
			return // the store is down: the hang-up is journaled
		}
		h.log.ErrorContext(ctx, "status callback cannot read the task", "call_sid", c.callSID, "err", err)
		return
	}
	c.taskSID = t.SID
	if h.endAfterJournals(ctx, c, t) {
		return // right after an outage: an answer may be in a journal
	}
	if _, err := h.callerLeft(ctx, c, t); err != nil {
		h.log.ErrorContext(ctx, "status callback cannot end the task", "call_sid", c.callSID, "task_sid", t.SID, "err", err)
	}
}

// taskByCall finds the task of a CallSid: in the request's workspace, else
// in any other workspace (a number bound to another workspace).
func (h *Handler) taskByCall(ctx context.Context, c *call) (didrouter.Task, error) {
	t, err := h.store.TaskByCallSID(ctx, c.ws, c.callSID)
	if didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
		return t, err
	}
	all, lerr := h.store.ListWorkspaces(ctx)
	if lerr != nil {
		return didrouter.Task{}, fmt.Errorf("list workspaces: %w", lerr)
	}
	for _, ws := range all {
		if ws.SID == c.ws {
			continue
		}
		if t, err2 := h.store.TaskByCallSID(ctx, ws.SID, c.callSID); didrouter.ErrorCode(err2) != didrouter.ENOTFOUND {
			return t, err2
		}
	}
	return didrouter.Task{}, err
}
