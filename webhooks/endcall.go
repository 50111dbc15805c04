package webhooks

import (
	"context"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

// callEnder is the engine's EndCall (*engine.Engine has it): it ends an
// assigned task once, whichever of the Dial action and the status callback
// reports the end of the call first, so the second cannot cut the worker's
// wrap-up short as a second CompleteTask would. An Engine without it falls
// back to CompleteTask.
type callEnder interface {
	EndCall(ctx context.Context, workspaceSID, taskSID, reason string) (didrouter.Task, error)
}

// endCall ends the task of a call that is over.
func (h *Handler) endCall(ctx context.Context, workspaceSID, taskSID, reason string) (didrouter.Task, error) {
	if ce, ok := h.eng.(callEnder); ok {
		return ce.EndCall(ctx, workspaceSID, taskSID, reason)
	}
	return h.eng.CompleteTask(ctx, workspaceSID, taskSID, reason)
}

// callCanceler is the engine's CancelCall (*engine.Engine has it).
type callCanceler interface {
	CancelCall(ctx context.Context, n engine.TaskInsert, reason string) (didrouter.Task, error)
}

// endedBeforeRouting handles a status callback that says an inbound call
// ended before it had a task. The caller hung up while the incoming webhook
// was still being answered, here or on another instance. The call gets its
// task already canceled, so that incoming webhook finds it finished instead
// of reserving a worker for a caller who is gone. Only the number's own
// inbound calls count, and a status callback of any other leg creates
// nothing.
func (h *Handler) endedBeforeRouting(ctx context.Context, c *call) {
	cc, ok := h.eng.(callCanceler)
	if !ok || c.param("Direction") != "inbound" {
		return
	}
	_, nt, err := h.callTask(ctx, c)
	if err == nil {
		var t didrouter.Task
		if t, err = cc.CancelCall(ctx, nt, "caller hung up"); err == nil {
			h.decision(ctx, c, t.SID, "", "cancel", "caller hung up before the call was routed")
			return
		}
	}
	h.log.ErrorContext(ctx, "recording a call that ended before routing failed", "call_sid", c.callSID, "err", err)
}
