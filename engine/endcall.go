package engine

import (
	"context"
	"fmt"
)

// EndCall ends the task of a call that is over, as the voice webhooks learn
// it (the Dial action, the status callback): an assigned task wraps up
// (with Config.WrapUp) or completes, freeing its worker on completion. A
// task already wrapping, completed or canceled is returned unchanged. Twilio
// reports the end of one call twice when the caller hangs up (the Dial
// action and the status callback, in either order or at once); the second
// report must not end the wrap-up early, as a second CompleteTask would.
// Pending and reserved tasks are EUNAVAILABLE (cancel them instead).
func (e *Engine) EndCall(ctx context.Context, workspaceSID, taskSID, reason string) (Task, error) {
	var out Task
	fx, err := e.tx(ctx, func(tx Tx, fx *effects) error {
		t, err := tx.GetTask(ctx, workspaceSID, taskSID)
		if err != nil {
			return fmt.Errorf("read task %s: %w", taskSID, err)
		}
		switch t.AssignmentStatus {
		case TaskWrapping, TaskCompleted, TaskCanceled:
			out = t
			return nil
		case TaskAssigned:
		default:
			return Errorf(EUNAVAILABLE, "task %s is %s; only an assigned task's call can end", t.SID, t.AssignmentStatus)
		}
		out, err = e.completeInTx(ctx, tx, fx, t, reason, e.wrapUp > 0)
		return err
	})
	if err != nil {
		return Task{}, fmt.Errorf("end call: %w", err)
	}
	if _, _, err := e.after(ctx, workspaceSID, fx, ""); err != nil {
		return out, fmt.Errorf("end call: serve waiting tasks: %w", err)
	}
	return out, nil
}
