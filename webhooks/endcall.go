package webhooks

import (
	"context"

	"github.com/didrouter/didrouter/engine"
)

// callEnder is the engine's EndCall (*engine.Engine has it): it ends an
// assigned task once, whichever of the Dial action and the status callback
// reports the end of the call first, so the second cannot cut the worker's
// wrap-up short as a second CompleteTask would. An Engine without it falls
// back to CompleteTask.
type callEnder interface {
	EndCall(ctx context.Context, workspaceSID, taskSID, reason string) (engine.Task, error)
}

// endCall ends the task of a call that is over.
func (h *Handler) endCall(ctx context.Context, workspaceSID, taskSID, reason string) (engine.Task, error) {
	if ce, ok := h.eng.(callEnder); ok {
		return ce.EndCall(ctx, workspaceSID, taskSID, reason)
	}
	return h.eng.CompleteTask(ctx, workspaceSID, taskSID, reason)
}
