package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/routing"
)

// reserved is a reservation this instance just committed.
type reserved struct {
	reservation didrouter.Reservation
	worker      didrouter.Worker
	task        didrouter.Task
}

// Outcomes of one reservation attempt other than success.
var (
	errWorkerTaken = errors.New("worker no longer reservable") // the index was stale
	errTaskMoved   = errors.New("task no longer pending at that step")
)

// maxRouteSteps bounds the skip loop of one route call; a workflow has few
// targets, so hitting it means a bug, not a long workflow.
const maxRouteSteps = 64

// route tries to place a pending task at its current target. It reserves
// an eligible worker. When nobody is reservable and the target's skip_if
// holds, it moves to the next position and tries again. It returns the
// reservation made, or nil when the task waits or is no longer pending.
func (e *Engine) route(ctx context.Context, workspaceSID, taskSID string) (*reserved, error) {
	return e.routeFrom(ctx, workspaceSID, taskSID, nil)
}

// routeFrom is route starting from a task just read or written (nil = read it).
func (e *Engine) routeFrom(ctx context.Context, workspaceSID, taskSID string, known *didrouter.Task) (*reserved, error) {
	if e.paused.Load() {
		return nil, nil // the task waits where it is; ResumeRouting serves it
	}
	r, err := walk(ctx, &storeWalk{e: e, ws: workspaceSID, task: taskSID, known: known}, nil)
	if errors.Is(err, errLongWalk) {
		return nil, fmt.Errorf("route task %s: more than %d routing steps", taskSID, maxRouteSteps)
	}
	return r, err
}

// reposition puts a task whose position vanished from its edited workflow at
// the workflow's first matching target.
func (e *Engine) reposition(ctx context.Context, wfRow didrouter.Workflow, wf *routing.Workflow, t didrouter.Task, attrs routing.Attributes) error {
	filter, ok := firstPosition(wf, attrs)
	if !ok {
		return didrouter.Errorf(didrouter.EINVALID, "task %s matches no filter of workflow %s, which has no default_filter", t.SID, wfRow.SID)
	}
	_, err := e.tx(ctx, func(tx didrouter.Tx, fx *effects) error {
		cur, err := lockAt(ctx, tx, t)
		if err != nil {
			return err
		}
		from := cur.TaskQueueSID
		if err := e.enterTarget(ctx, tx, fx, wf, &cur, filter, 0, e.clock.Now()); err != nil {
			return err
		}
		if err := emitMoved(e.txEmit(ctx, tx), cur, from, "workflow changed"); err != nil {
			return err
		}
		_, err = tx.UpdateTask(ctx, cur)
		return err
	})
	return err
}

// reserve makes, in one transaction, the reservation of task t (as it was
// read, at its current position) for worker workerSID: the task must still
// be pending at that position and the worker claimable.
func (e *Engine) reserve(ctx context.Context, wfRow didrouter.Workflow, t didrouter.Task, workerSID string) (*reserved, error) {
	var out reserved
	_, err := e.tx(ctx, func(tx didrouter.Tx, fx *effects) error {
		cur, err := lockAt(ctx, tx, t)
		if err != nil {
			return err
		}
		if slices.Contains(cur.RejectedWorkers, workerSID) {
			return errTaskMoved
		}
		r, err := e.reserveLocked(ctx, tx, fx, wfRow, cur, workerSID, false)
		if err != nil {
			return err
		}
		out = *r
		return nil
	})
	if didrouter.ErrorCode(err) == didrouter.ECONFLICT {
		// A write refused at commit (the store sent it late): the task
		// changed or got another live reservation meanwhile.
		return nil, errTaskMoved
	}
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// reserveLocked reserves the pending task cur for workerSID. tx holds the
// task locked at its current position. It returns errWorkerTaken when the
// worker cannot be claimed because the index was stale, and errTaskMoved
// when the task already has a live reservation. With insert, cur is a new
// task not stored yet, and it is inserted reserved. Its insert fails with
// a *callHasTask error when its call already has a task.
func (e *Engine) reserveLocked(ctx context.Context, tx didrouter.Tx, fx *effects, wfRow didrouter.Workflow, cur didrouter.Task, workerSID string, insert bool) (*reserved, error) {
	w, ok, err := tx.ClaimWorker(ctx, cur.WorkspaceSID, workerSID, cur.TaskChannel, e.clock.Now())
	if didrouter.ErrorCode(err) == didrouter.ENOTFOUND {
		return nil, errWorkerTaken // deleted: the refresh drops it from the index
	}
	if err != nil {
		return nil, fmt.Errorf("claim worker %s: %w", workerSID, err)
	}
	if !ok {
		return nil, errWorkerTaken
	}
	// The claim announced a worker change. This instance puts the worker
	// row it returned into its index after commit, so it skips the echo,
	// which would cost a re-read per call. A worker only gets busier here,
	// so there is nothing to serve.
	fx.ownChange(workerSID)
	// Read the time after the claim, which waited for any transaction
	// freeing this worker to commit: the reservation then starts after
	// the previous one ended, also across instances.
	now := e.clock.Now()
	r := newReservation(wfRow, cur, workerSID, now)
	cur.AssignmentStatus = didrouter.TaskReserved
	cur.DateUpdated = now
	// The task is written before its reservation, which refers to it.
	var updated didrouter.Task
	if insert {
		updated, err = storeNew(ctx, tx, cur)
	} else if updated, err = tx.UpdateTask(ctx, cur); err != nil {
		err = fmt.Errorf("update task %s: %w", cur.SID, err)
	}
	if err != nil {
		return nil, err
	}
	if err := tx.InsertReservation(ctx, r); err != nil {
		if didrouter.ErrorCode(err) == didrouter.ECONFLICT {
			return nil, errTaskMoved // another live reservation exists
		}
		return nil, fmt.Errorf("insert reservation: %w", err)
	}
	if err := emitReservationCreated(e.txEmit(ctx, tx), r, cur, w.FriendlyName, false); err != nil {
		return nil, err
	}
	if err := tx.SetTimer(ctx, didrouter.Timer{
		SID: didrouter.NewSID(didrouter.PrefixTimer), WorkspaceSID: cur.WorkspaceSID, Kind: didrouter.TimerReservation,
		TaskSID: cur.SID, ReservationSID: r.SID, WorkerSID: workerSID,
		TaskVersion: updated.Version, FireAt: now.Add(time.Duration(r.Timeout) * time.Second),
	}); err != nil {
		return nil, fmt.Errorf("set reservation timer: %w", err)
	}
	fx.timers = true
	fx.noteWorker(w)
	return &reserved{reservation: r, worker: w, task: updated}, nil
}

// Why a task leaves its current target.
type moveReason int

const (
	moveSkip    moveReason = iota // skip_if held and nobody was reservable
	moveTimeout                   // the target's timeout passed
)

// String is the reason as the events of the move say it.
func (why moveReason) String() string {
	if why == moveTimeout {
		return "timed out"
	}
	return "skipped"
}

// moveOn moves the locked task cur from its current target to the next one
// and writes it. On a timeout a pending reservation is rescinded, and its
// worker counts as not answering, so the task is not offered to them again
// at once. Past the final target a timeout cancels the task, as
// TaskRouter's workflow timeout does.
func (e *Engine) moveOn(ctx context.Context, tx didrouter.Tx, fx *effects, wf *routing.Workflow, cur didrouter.Task, attrs routing.Attributes, why moveReason) error {
	_, err := e.moveOnTask(ctx, tx, fx, wf, cur, attrs, why)
	return err
}

// moveOnTask is moveOn returning the task as stored (zero when it was canceled).
func (e *Engine) moveOnTask(ctx context.Context, tx didrouter.Tx, fx *effects, wf *routing.Workflow, cur didrouter.Task, attrs routing.Attributes, why moveReason) (didrouter.Task, error) {
	now := e.clock.Now()
	if why == moveTimeout && cur.AssignmentStatus == didrouter.TaskReserved {
		if err := e.endPendingReservation(ctx, tx, fx, &cur, didrouter.ReservationRescinded, true); err != nil {
			return didrouter.Task{}, err
		}
	}
	filter, target, ok := nextPosition(wf, cur.FilterIndex, cur.TargetIndex, attrs, why == moveSkip)
	if !ok {
		if why == moveSkip {
			return didrouter.Task{}, errTaskMoved // nothing to skip to; the caller checked, so the workflow changed
		}
		if err := e.event(ctx, tx, taskEvent(cur, didrouter.EventWorkflowTimeout,
			fmt.Sprintf("Task %s timed out of workflow %s", cur.SID, cur.WorkflowSID)),
			map[string]any{"task_queue_sid": cur.TaskQueueSID}); err != nil {
			return didrouter.Task{}, err
		}
		_, err := e.cancelInTx(ctx, tx, fx, cur, "Workflow Timeout")
		return didrouter.Task{}, err
	}
	if err := e.enterNext(ctx, tx, fx, wf, &cur, filter, target, why, now); err != nil {
		return didrouter.Task{}, err
	}
	updated, err := tx.UpdateTask(ctx, cur)
	if err != nil {
		return didrouter.Task{}, fmt.Errorf("update task %s: %w", cur.SID, err)
	}
	if err := notifyTask(ctx, tx, fx, cur.WorkspaceSID, cur.SID); err != nil {
		return didrouter.Task{}, err
	}
	fx.routeTask(cur.SID)
	return updated, nil
}

// enterNext moves t, in memory (the caller writes it), from its current
// target to the position filter, target, for why: the events of leaving
// and entering, the step timer.
func (e *Engine) enterNext(ctx context.Context, tx didrouter.Tx, fx *effects, wf *routing.Workflow, t *didrouter.Task, filter, target int, why moveReason, now time.Time) error {
	from := t.TaskQueueSID
	emit := e.txEmit(ctx, tx)
	if err := emitLeft(emit, *t, why); err != nil {
		return err
	}
	t.AssignmentStatus = didrouter.TaskPending
	if err := e.enterTarget(ctx, tx, fx, wf, t, filter, target, now); err != nil {
		return err
	}
	if err := emitMoved(emit, *t, from, why.String()); err != nil {
		return err
	}
	t.DateUpdated = now
	return nil
}

// enterTarget places t (in memory; the caller writes it) at a position:
// queue, step start, the target's priority, the step timer, and the
// workflow.target-matched and task-queue.entered events.
func (e *Engine) enterTarget(ctx context.Context, tx didrouter.Tx, fx *effects, wf *routing.Workflow, t *didrouter.Task, filter, target int, now time.Time) error {
	tgt, err := enterPosition(e.txEmit(ctx, tx), wf, t, filter, target, now)
	if err != nil {
		return err
	}
	if tgt.Timeout != nil && *tgt.Timeout > 0 {
		if err := tx.SetTimer(ctx, didrouter.Timer{
			SID: didrouter.NewSID(didrouter.PrefixTimer), WorkspaceSID: t.WorkspaceSID, Kind: didrouter.TimerStep, TaskSID: t.SID,
			TaskVersion: t.Version + 1, FireAt: now.Add(time.Duration(*tgt.Timeout) * time.Second),
		}); err != nil {
			return fmt.Errorf("set step timer: %w", err)
		}
		fx.timers = true
		return nil
	}
	if err := tx.ClearTimers(ctx, t.WorkspaceSID, t.SID, didrouter.TimerStep); err != nil {
		return fmt.Errorf("clear step timer: %w", err)
	}
	// Waiting here has no end: the workers it brings along as excluded
	// (an owner who did not answer) get it again after the cool-down.
	return e.armReoffer(ctx, tx, fx, *t, now)
}

// stepDeadline is when the task's current step times out (zero: never).
func stepDeadline(wf *routing.Workflow, t didrouter.Task) time.Time {
	tgt, ok := targetAt(wf, t.FilterIndex, t.TargetIndex)
	if !ok || tgt.Timeout == nil || *tgt.Timeout <= 0 {
		return time.Time{}
	}
	return t.StepEnteredAt.Add(time.Duration(*tgt.Timeout) * time.Second)
}
