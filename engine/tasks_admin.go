package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/routing"
)

// TaskUpdate is the input of UpdateTask; nil fields are unchanged.
type TaskUpdate struct {
	Attributes *string
	Priority   *int
	// TaskChannel moves a pending or reserved task to another task channel.
	// The webhooks do it when a waiting call becomes a call-back request. A
	// pending reservation is canceled first. Its worker is freed on the old
	// channel and not barred from the task, which is routed again.
	// TaskRouter's API cannot change a task's channel, and didrouter's API
	// does not offer it either.
	TaskChannel *string
}

// UpdateTask changes a live task's attributes or priority, with the event
// task.updated. A pending task keeps its position while its filter still
// matches the new attributes, else it enters the workflow afresh. Either
// way it is routed again, since who is eligible may have changed. A reserved
// task keeps its reservation unless it changes channel; an assigned one
// keeps it and cannot change channel. Completed and canceled tasks are
// EUNAVAILABLE.
func (e *Engine) UpdateTask(ctx context.Context, workspaceSID, sid string, u TaskUpdate) (didrouter.Task, error) {
	var raw string
	var attrs routing.Attributes
	if u.Attributes != nil {
		raw = strings.TrimSpace(*u.Attributes)
		if raw == "" {
			raw = "{}"
		}
		var err error
		if attrs, err = routing.ParseAttributes([]byte(raw)); err != nil {
			return didrouter.Task{}, didrouter.Errorf(didrouter.EINVALID, "attributes: %v", err)
		}
	}
	if u.Priority != nil && *u.Priority < 0 {
		return didrouter.Task{}, didrouter.Errorf(didrouter.EINVALID, "priority must not be negative, not %d", *u.Priority)
	}
	if u.TaskChannel != nil && strings.TrimSpace(*u.TaskChannel) == "" {
		return didrouter.Task{}, didrouter.Errorf(didrouter.EINVALID, "task channel must not be empty")
	}
	t0, err := e.store.GetTask(ctx, workspaceSID, sid)
	if err != nil {
		return didrouter.Task{}, fmt.Errorf("update task: %w", err)
	}
	_, wf, err := e.workflow(ctx, workspaceSID, t0.WorkflowSID)
	if err != nil {
		return didrouter.Task{}, fmt.Errorf("update task: %w", err)
	}
	var out didrouter.Task
	fx, err := e.tx(ctx, func(tx didrouter.Tx, fx *effects) error {
		now := e.clock.Now()
		t, err := tx.GetTask(ctx, workspaceSID, sid)
		if err != nil {
			return fmt.Errorf("read task %s: %w", sid, err)
		}
		if t.AssignmentStatus == didrouter.TaskCompleted || t.AssignmentStatus == didrouter.TaskCanceled {
			return didrouter.Errorf(didrouter.EUNAVAILABLE, "task %s is %s and can no longer be updated", sid, t.AssignmentStatus)
		}
		data := map[string]any{}
		if u.TaskChannel != nil && *u.TaskChannel != t.TaskChannel {
			if err := e.changeChannel(ctx, tx, fx, &t, strings.TrimSpace(*u.TaskChannel)); err != nil {
				return err
			}
			data["task_channel"] = t.TaskChannel
		}
		if u.Attributes != nil {
			t.Attributes = raw
			data["attributes"] = true
		}
		if t.AssignmentStatus == didrouter.TaskPending && u.Attributes != nil && t.FilterIndex >= 0 {
			stillMatches := t.FilterIndex < len(wf.Filters) && wf.Filters[t.FilterIndex].Expr.Eval(attrs, nil)
			if !stillMatches {
				filter, ok := firstPosition(wf, attrs)
				if !ok {
					return didrouter.Errorf(didrouter.EINVALID, "with these attributes the task matches no filter of workflow %s, which has no default_filter", t.WorkflowSID)
				}
				from := t.TaskQueueSID
				if err := e.enterTarget(ctx, tx, fx, wf, &t, filter, 0, now); err != nil {
					return err
				}
				if err := emitMoved(e.txEmit(ctx, tx), t, from, "attributes changed"); err != nil {
					return err
				}
			}
		}
		if u.Priority != nil {
			t.Priority = *u.Priority // an explicit priority wins over a target's
			data["priority"] = t.Priority
		}
		t.DateUpdated = now
		if out, err = tx.UpdateTask(ctx, t); err != nil {
			return fmt.Errorf("update task %s: %w", sid, err)
		}
		if err := e.event(ctx, tx, taskEvent(out, didrouter.EventTaskUpdated, fmt.Sprintf("Task %s updated", sid)), data); err != nil {
			return err
		}
		if out.AssignmentStatus == didrouter.TaskPending {
			if err := notifyTask(ctx, tx, fx, workspaceSID, sid); err != nil {
				return err
			}
			fx.routeTask(sid)
		}
		return nil
	})
	if err != nil {
		return didrouter.Task{}, fmt.Errorf("update task: %w", err)
	}
	if _, _, err := e.after(ctx, workspaceSID, fx, ""); err != nil {
		return out, fmt.Errorf("update task: re-route: %w", err)
	}
	return e.freshTask(ctx, out)
}

// changeChannel moves the locked task t to channel, in memory; the caller
// writes it. A reservation holds a unit of the capacity of the task's
// channel, so a pending one is canceled first and released on the old
// channel. An accepted task keeps its channel.
func (e *Engine) changeChannel(ctx context.Context, tx didrouter.Tx, fx *effects, t *didrouter.Task, channel string) error {
	switch t.AssignmentStatus {
	case didrouter.TaskPending:
	case didrouter.TaskReserved:
		if err := e.endPendingReservation(ctx, tx, fx, t, didrouter.ReservationCanceled, false); err != nil {
			return err
		}
		t.AssignmentStatus = didrouter.TaskPending
	default:
		return didrouter.Errorf(didrouter.EUNAVAILABLE, "task %s is %s: only a pending or reserved task can change channel", t.SID, t.AssignmentStatus)
	}
	t.TaskChannel = channel
	return nil
}

// freshTask re-reads a task after follow-up routing may have changed it.
func (e *Engine) freshTask(ctx context.Context, t didrouter.Task) (didrouter.Task, error) {
	got, err := e.store.GetTask(ctx, t.WorkspaceSID, t.SID)
	if err != nil {
		return t, fmt.Errorf("re-read task %s: %w", t.SID, err)
	}
	return got, nil
}

// WrapUpTask moves an assigned task to wrapping, as TaskRouter's
// AssignmentStatus=wrapping does. The worker stays busy until CompleteTask,
// or until the Config.WrapUp timer when one is set. A wrapping task is
// returned unchanged. Other statuses are EUNAVAILABLE.
func (e *Engine) WrapUpTask(ctx context.Context, workspaceSID, sid, reason string) (didrouter.Task, error) {
	return e.transition(ctx, workspaceSID, sid, transition{
		op: "wrap up task", same: []string{didrouter.TaskWrapping}, from: []string{didrouter.TaskAssigned},
		only: "only an assigned task can wrap up",
		apply: func(ctx context.Context, tx didrouter.Tx, fx *effects, t didrouter.Task) (didrouter.Task, error) {
			return e.completeInTx(ctx, tx, fx, t, reason, true)
		},
	})
}

// DeleteTask deletes a task in any status. Its pending reservation is
// canceled, an accepted or wrapping one completed; their workers are freed
// and serve waiting tasks. Its events stay.
func (e *Engine) DeleteTask(ctx context.Context, workspaceSID, sid string) error {
	fx, err := e.tx(ctx, func(tx didrouter.Tx, fx *effects) error {
		now := e.clock.Now()
		t, err := tx.GetTask(ctx, workspaceSID, sid)
		if err != nil {
			return fmt.Errorf("read task %s: %w", sid, err)
		}
		if err := e.endPendingReservation(ctx, tx, fx, &t, didrouter.ReservationCanceled, false); err != nil {
			return err
		}
		live, err := liveReservations(ctx, tx, workspaceSID, sid)
		if err != nil {
			return err
		}
		for _, r := range live {
			if err := e.endReservation(ctx, tx, fx, r, t.TaskChannel, didrouter.ReservationCompleted, now); err != nil {
				return err
			}
		}
		if err := e.event(ctx, tx, taskEvent(t, didrouter.EventTaskDeleted, fmt.Sprintf("Task %s deleted", sid)),
			map[string]any{"assignment_status": t.AssignmentStatus}); err != nil {
			return err
		}
		if err := tx.DeleteTask(ctx, workspaceSID, sid); err != nil {
			return fmt.Errorf("delete task %s: %w", sid, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete task: %w", err)
	}
	if _, _, err := e.after(ctx, workspaceSID, fx, ""); err != nil {
		return fmt.Errorf("delete task: serve waiting tasks: %w", err)
	}
	return nil
}
