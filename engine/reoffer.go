package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/didrouter/didrouter"
)

// DefaultReofferAfter is Config.ReofferAfter's default.
const DefaultReofferAfter = 60 * time.Second

// armReoffer (re)sets the task's re-offer timer after a worker was excluded
// from it or it entered a step without timeout. Setting it again replaces
// the earlier one, so the cool-down counts from the latest exclusion: while
// other workers are still being tried, nobody is offered the task twice.
// Whether the task then really waits at a step without timeout is decided
// when the timer fires.
func (e *Engine) armReoffer(ctx context.Context, tx didrouter.Tx, fx *effects, t didrouter.Task, now time.Time) error {
	if e.reofferAfter <= 0 || len(t.RejectedWorkers) == 0 {
		return nil
	}
	if err := tx.SetTimer(ctx, didrouter.Timer{
		SID: didrouter.NewSID(didrouter.PrefixTimer), WorkspaceSID: t.WorkspaceSID, Kind: didrouter.TimerReoffer, TaskSID: t.SID,
		TaskVersion: t.Version, FireAt: now.Add(e.reofferAfter),
	}); err != nil {
		return fmt.Errorf("set re-offer timer: %w", err)
	}
	fx.timers = true
	return nil
}

// fireReoffer clears the exclusions of a task that still waits at a step
// without timeout and routes it again. A worker who missed the call
// earlier and is now the only one free is rung, rather than leaving the
// caller on hold until the task's TTL. A task that is reserved, assigned
// or over is left alone. So is a task that waits at a step with a timeout,
// such as the owner's 60 s, because the step timer moves it on and the
// next step arms a new timer. The state is checked rather than the timer's
// TaskVersion. An unrelated update of the task, such as its priority or
// attributes, must not cancel the re-offer, and every new exclusion
// replaces the timer anyway.
func (e *Engine) fireReoffer(ctx context.Context, tx didrouter.Tx, fx *effects, tm didrouter.Timer, now time.Time) error {
	t, err := guardedTask(ctx, tx, tm)
	if err != nil {
		return err
	}
	if t.AssignmentStatus != didrouter.TaskPending || len(t.RejectedWorkers) == 0 {
		return nil
	}
	_, wf, err := e.workflowIn(ctx, tx, t.WorkspaceSID, t.WorkflowSID)
	if err != nil {
		return err
	}
	if !stepDeadline(wf, t).IsZero() {
		return nil
	}
	missed := t.RejectedWorkers
	t.RejectedWorkers, t.DateUpdated = []string{}, now
	updated, err := tx.UpdateTask(ctx, t)
	if err != nil {
		return fmt.Errorf("update task %s: %w", t.SID, err)
	}
	if err := e.event(ctx, tx, taskEvent(updated, didrouter.EventTaskUpdated,
		fmt.Sprintf("Task %s offered again to the %d worker(s) who missed it", t.SID, len(missed))),
		map[string]any{"reoffered_workers": missed, "task_queue_sid": t.TaskQueueSID}); err != nil {
		return err
	}
	if err := notifyTask(ctx, tx, fx, t.WorkspaceSID, t.SID); err != nil {
		return err
	}
	fx.routeTask(t.SID)
	return nil
}
