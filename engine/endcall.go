package engine

import (
	"context"
	"fmt"

	"github.com/didrouter/didrouter"
)

// EndCall ends the task of a call that is over, as the voice webhooks learn
// it from the Dial action or the status callback. An assigned task wraps up
// with Config.WrapUp, else it completes and frees its worker. A task
// already wrapping, completed or canceled is returned unchanged. Twilio
// reports the end of one call twice when the caller hangs up, through the
// Dial action and the status callback, in either order or at once. The
// second report must not end the wrap-up early, as a second CompleteTask
// would. Pending and reserved tasks are EUNAVAILABLE, and their callers
// cancel them instead.
func (e *Engine) EndCall(ctx context.Context, workspaceSID, taskSID, reason string) (didrouter.Task, error) {
	return e.transition(ctx, workspaceSID, taskSID, transition{
		op: "end call", same: []string{didrouter.TaskWrapping, didrouter.TaskCompleted, didrouter.TaskCanceled}, from: []string{didrouter.TaskAssigned},
		only: "only an assigned task's call can end",
		apply: func(ctx context.Context, tx didrouter.Tx, fx *effects, t didrouter.Task) (didrouter.Task, error) {
			return e.completeInTx(ctx, tx, fx, t, reason, e.wrapUp > 0)
		},
	})
}

// CancelCall records that the call n.CallSID ended before it was routed.
// Twilio's status callback can overtake the incoming webhook when a caller
// hangs up at once, while the incoming webhook may still be running on
// this or another instance. The call gets its task already canceled, with
// the events task.created and task.canceled and nothing reserved. So an
// incoming webhook that comes after finds a finished task instead of
// holding a worker for a caller who is gone. When the call has a task by
// then, a pending or reserved one is canceled as CancelTask would, and any
// other is returned unchanged.
func (e *Engine) CancelCall(ctx context.Context, n TaskInsert, reason string) (didrouter.Task, error) {
	if n.CallSID == "" {
		return didrouter.Task{}, didrouter.Errorf(didrouter.EINVALID, "call_sid is required")
	}
	ws, err := e.Workspace(ctx, n.WorkspaceSID)
	if err != nil {
		return didrouter.Task{}, fmt.Errorf("cancel call: read workspace %s: %w", n.WorkspaceSID, err)
	}
	wfRow, wf, raw, attrs, err := e.resolveNewTask(ctx, ws, n)
	if err != nil {
		return didrouter.Task{}, fmt.Errorf("cancel call: %w", err)
	}
	// Where the call would have entered the workflow, for reports by queue.
	filter, queue, priority := 0, "", n.Priority
	if f, ok := firstPosition(wf, attrs); ok {
		first, _ := targetAt(wf, f, 0)
		filter, queue = f, first.Queue
		if first.Priority != nil {
			priority = *first.Priority
		}
	}
	channel := n.TaskChannel
	if channel == "" {
		channel = DefaultTaskChannel
	}
	var out didrouter.Task
	fx, err := e.tx(ctx, func(tx didrouter.Tx, fx *effects) error {
		now := e.clock.Now()
		t := didrouter.Task{
			SID: didrouter.NewSID(didrouter.PrefixTask), WorkspaceSID: ws.SID, WorkflowSID: wfRow.SID, Attributes: raw,
			AssignmentStatus: didrouter.TaskCanceled, Priority: priority, Timeout: DefaultTaskTimeout, TaskChannel: channel,
			CallSID: n.CallSID, Reason: reason, FilterIndex: filter, TaskQueueSID: queue,
			StepEnteredAt: now, RejectedWorkers: []string{}, DateCreated: now, DateUpdated: now,
		}
		existing, created, err := tx.InsertTask(ctx, t)
		if err != nil {
			return fmt.Errorf("insert task: %w", err)
		}
		if created {
			out = existing
			if err := emitTaskCreated(e.txEmit(ctx, tx), t, false); err != nil {
				return err
			}
			return e.event(ctx, tx, taskEvent(t, didrouter.EventTaskCanceled, fmt.Sprintf("Task %s canceled", t.SID)),
				map[string]any{"reason": reason, "task_queue_sid": queue})
		}
		cur, err := tx.GetTask(ctx, ws.SID, existing.SID)
		if err != nil {
			return fmt.Errorf("read task %s: %w", existing.SID, err)
		}
		if cur.AssignmentStatus != didrouter.TaskPending && cur.AssignmentStatus != didrouter.TaskReserved {
			out = cur
			return nil
		}
		out, err = e.cancelInTx(ctx, tx, fx, cur, reason)
		return err
	})
	if err != nil {
		return didrouter.Task{}, fmt.Errorf("cancel call: %w", err)
	}
	if _, _, err := e.after(ctx, ws.SID, fx, ""); err != nil {
		return out, fmt.Errorf("cancel call: serve waiting tasks: %w", err)
	}
	return out, nil
}
