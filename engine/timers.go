package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/routing"
)

// RunDueTimers fires every stored timer due at Clock.Now() and returns how
// many it claimed. Each timer is claimed and handled in its own transaction,
// so that each fires exactly once across all instances and a failure puts it
// back. A timer whose task has moved on since it was set does nothing: every
// handler re-checks the task's state against the clock, not the timer.
func (e *Engine) RunDueTimers(ctx context.Context) (int, error) {
	now := e.clock.Now()
	n := 0
	var firstErr error
	for n < timersPerRun {
		var (
			claimed bool
			tm      didrouter.Timer
		)
		fx, err := e.tx(ctx, func(tx didrouter.Tx, fx *effects) error {
			claimed = false
			ts, err := tx.ClaimDueTimers(ctx, now, 1)
			if err != nil {
				return fmt.Errorf("claim due timers: %w", err)
			}
			if len(ts) == 0 {
				return nil
			}
			claimed, tm = true, ts[0]
			return e.fire(ctx, tx, fx, tm, now)
		})
		if err != nil && claimed && isCoded(err) {
			// The timer cannot be handled (its task or workflow is gone or
			// broken): its transaction rolled back, so drop it on its own
			// rather than retry it forever.
			e.log.WarnContext(ctx, "dropping a timer that cannot fire", "kind", tm.Kind,
				"task", tm.TaskSID, "reservation", tm.ReservationSID, "err", err)
			err = e.store.Tx(ctx, func(tx didrouter.Tx) error {
				if tm.TaskSID == "" { // a worker's timer (away)
					return tx.ClearWorkerTimers(ctx, tm.WorkspaceSID, tm.WorkerSID, tm.Kind)
				}
				return tx.ClearTimers(ctx, tm.WorkspaceSID, tm.TaskSID, tm.Kind)
			})
			fx = &effects{}
		}
		if err != nil {
			// The timer is back in the store; the next run retries it.
			return n, fmt.Errorf("run due timers: %w", err)
		}
		if !claimed {
			break
		}
		n++
		if _, _, err := e.after(ctx, tm.WorkspaceSID, fx, ""); err != nil {
			firstErr = keepFirst(firstErr, err)
		}
	}
	if firstErr != nil {
		return n, fmt.Errorf("run due timers: follow-up routing: %w", firstErr)
	}
	return n, nil
}

// isCoded reports errors the engine raised on purpose (bad state, missing
// rows) as opposed to failures of the store.
func isCoded(err error) bool {
	var ce *didrouter.Error
	return errors.As(err, &ce) && ce.Code != didrouter.EINTERNAL
}

// fire handles one claimed timer inside the claiming transaction.
func (e *Engine) fire(ctx context.Context, tx didrouter.Tx, fx *effects, tm didrouter.Timer, now time.Time) error {
	switch tm.Kind {
	case didrouter.TimerReservation:
		return e.fireReservation(ctx, tx, fx, tm, now)
	case didrouter.TimerStep:
		return e.fireStep(ctx, tx, fx, tm, now)
	case didrouter.TimerTask:
		return e.fireTask(ctx, tx, fx, tm, now)
	case didrouter.TimerWrapup:
		return e.fireWrapup(ctx, tx, fx, tm)
	case didrouter.TimerReoffer:
		return e.fireReoffer(ctx, tx, fx, tm, now)
	case didrouter.TimerAway:
		return e.fireAway(ctx, tx, fx, tm, now)
	default:
		return didrouter.Errorf(didrouter.EINVALID, "unknown timer kind %q", tm.Kind)
	}
}

// rearm puts back a timer that fired before the state it guards is due
// (the deadline moved later, e.g. a step re-entered at another time).
func (e *Engine) rearm(ctx context.Context, tx didrouter.Tx, fx *effects, tm didrouter.Timer, at time.Time) error {
	tm.SID, tm.FireAt = didrouter.NewSID(didrouter.PrefixTimer), at
	if err := tx.SetTimer(ctx, tm); err != nil {
		return fmt.Errorf("re-arm %s timer: %w", tm.Kind, err)
	}
	fx.timers = true
	return nil
}

// guardedTask reads the task a timer guards, in the timer's transaction.
func guardedTask(ctx context.Context, tx didrouter.Tx, tm didrouter.Timer) (didrouter.Task, error) {
	t, err := tx.GetTask(ctx, tm.WorkspaceSID, tm.TaskSID)
	if err != nil {
		return didrouter.Task{}, fmt.Errorf("read task %s: %w", tm.TaskSID, err)
	}
	return t, nil
}

// waiting reports whether a task still waits for a worker, offered or
// not. Its step and TTL timers only act on such a task.
func waiting(t didrouter.Task) bool {
	return t.AssignmentStatus == didrouter.TaskPending || t.AssignmentStatus == didrouter.TaskReserved
}

// fireReservation times out a reservation still pending at its deadline.
func (e *Engine) fireReservation(ctx context.Context, tx didrouter.Tx, fx *effects, tm didrouter.Timer, now time.Time) error {
	t, err := guardedTask(ctx, tx, tm)
	if err != nil {
		return err
	}
	r, err := tx.GetReservation(ctx, tm.WorkspaceSID, tm.ReservationSID)
	if err != nil {
		return fmt.Errorf("read reservation %s: %w", tm.ReservationSID, err)
	}
	if r.Status != didrouter.ReservationPending {
		return nil
	}
	if due := r.DateCreated.Add(time.Duration(r.Timeout) * time.Second); now.Before(due) {
		return e.rearm(ctx, tx, fx, tm, due)
	}
	return e.rejectInTx(ctx, tx, fx, t, r, didrouter.ReservationTimeout, true)
}

// fireStep moves a task whose current step's timeout has passed to its next
// target, rescinding a pending reservation at that step.
func (e *Engine) fireStep(ctx context.Context, tx didrouter.Tx, fx *effects, tm didrouter.Timer, now time.Time) error {
	t, err := guardedTask(ctx, tx, tm)
	if err != nil {
		return err
	}
	if !waiting(t) {
		return nil
	}
	_, wf, err := e.workflowIn(ctx, tx, t.WorkspaceSID, t.WorkflowSID)
	if err != nil {
		return err
	}
	due := stepDeadline(wf, t)
	if due.IsZero() {
		return nil // the current step has no timeout: the timer was for an earlier one
	}
	if now.Before(due) {
		return e.rearm(ctx, tx, fx, tm, due)
	}
	attrs, err := routing.ParseAttributes([]byte(t.Attributes))
	if err != nil {
		return didrouter.Errorf(didrouter.EINVALID, "task %s attributes: %v", t.SID, err)
	}
	return e.moveOn(ctx, tx, fx, wf, t, attrs, moveTimeout)
}

// fireTask cancels a task still unassigned at the end of its timeout (TTL).
func (e *Engine) fireTask(ctx context.Context, tx didrouter.Tx, fx *effects, tm didrouter.Timer, now time.Time) error {
	t, err := guardedTask(ctx, tx, tm)
	if err != nil {
		return err
	}
	if !waiting(t) {
		return nil
	}
	if due := t.DateCreated.Add(time.Duration(t.Timeout) * time.Second); now.Before(due) {
		return e.rearm(ctx, tx, fx, tm, due)
	}
	_, err = e.cancelInTx(ctx, tx, fx, t, "Task TTL Exceeded")
	return err
}

// fireWrapup completes a task at the end of its wrap-up time.
func (e *Engine) fireWrapup(ctx context.Context, tx didrouter.Tx, fx *effects, tm didrouter.Timer) error {
	t, err := guardedTask(ctx, tx, tm)
	if err != nil {
		return err
	}
	if t.AssignmentStatus != didrouter.TaskWrapping {
		return nil
	}
	_, err = e.completeInTx(ctx, tx, fx, t, "", false)
	return err
}

// timerLoop runs RunDueTimers when the Clock says the next stored timer is
// due, when this instance sets a timer, and at least every TimerPoll of
// real time. The poll only looks around, for timers set by other instances
// and for wake-ups lost between reading the clock and waiting on it. The
// Clock always decides whether a timer is due, so a FakeClock still
// controls it.
func (e *Engine) timerLoop(ctx context.Context) error {
	poll := time.NewTicker(e.poll)
	defer poll.Stop()
	for {
		if _, err := e.RunDueTimers(ctx); err != nil && ctx.Err() == nil {
			e.log.WarnContext(ctx, "running due timers failed, retrying", "in", "at most "+e.poll.String(), "err", err)
		}
		var next time.Time
		err := e.store.Tx(ctx, func(tx didrouter.Tx) error {
			var err error
			next, err = tx.NextTimer(ctx)
			return err
		})
		var due <-chan time.Time // nil: wait for the poll or a nudge
		if err == nil && !next.IsZero() {
			if d := next.Sub(e.clock.Now()); d < e.poll {
				due = e.clock.After(max(d, 0))
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-due:
		case <-poll.C:
		case <-e.wake:
		}
	}
}
