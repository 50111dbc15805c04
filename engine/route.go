package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/didrouter/didrouter/routing"
)

// reserved is a reservation this instance just committed.
type reserved struct {
	reservation Reservation
	worker      Worker
	task        Task
}

// Outcomes of one reservation attempt other than success.
var (
	errWorkerTaken = errors.New("worker no longer reservable") // the index was stale
	errTaskMoved   = errors.New("task no longer pending at that step")
)

// maxRouteSteps bounds the skip loop of one route call; a workflow has few
// targets, so hitting it means a bug, not a long workflow.
const maxRouteSteps = 64

// route tries to place a pending task at its current target: reserve an
// eligible worker, or, when nobody is reservable and the target's skip_if
// holds, move to the next position and try again. It returns the
// reservation made, or nil when the task waits (or is no longer pending).
func (e *Engine) route(ctx context.Context, workspaceSID, taskSID string) (*reserved, error) {
	return e.routeFrom(ctx, workspaceSID, taskSID, nil)
}

// routeFrom is route starting from a task just read or written (nil = read it).
func (e *Engine) routeFrom(ctx context.Context, workspaceSID, taskSID string, known *Task) (*reserved, error) {
	if e.paused.Load() {
		return nil, nil // the task waits where it is; ResumeRouting serves it
	}
	for range maxRouteSteps {
		var t Task
		if known != nil {
			t, known = *known, nil
		} else {
			var err error
			if t, err = e.store.GetTask(ctx, workspaceSID, taskSID); err != nil {
				return nil, fmt.Errorf("read task %s: %w", taskSID, err)
			}
		}
		if t.AssignmentStatus != TaskPending {
			return nil, nil
		}
		wfRow, wf, err := e.workflow(ctx, workspaceSID, t.WorkflowSID)
		if err != nil {
			return nil, err
		}
		attrs, err := routing.ParseAttributes([]byte(orEmptyObject(t.Attributes)))
		if err != nil {
			return nil, Errorf(EINVALID, "task %s attributes: %v", t.SID, err)
		}
		tgt, ok := targetAt(wf, t.FilterIndex, t.TargetIndex)
		if !ok {
			// The workflow was edited under the task: enter it afresh.
			if err := e.reposition(ctx, wfRow, wf, t, attrs); err != nil && !errors.Is(err, errTaskMoved) {
				return nil, err
			}
			continue
		}
		r, err := e.tryReserve(ctx, wfRow, t, &tgt, attrs)
		switch {
		case errors.Is(err, errTaskMoved):
			continue // re-read: someone else moved it
		case err != nil:
			return nil, err
		case r != nil:
			return r, nil
		}
		// Nobody reservable now. skip_if is only ever evaluated here, so a
		// task that waits keeps waiting at this target until a worker frees
		// up or the step times out.
		skip, err := e.shouldSkip(ctx, t.WorkspaceSID, &tgt, attrs)
		if err != nil {
			return nil, err
		}
		if !skip {
			return nil, nil
		}
		if _, _, ok := nextPosition(wf, t.FilterIndex, t.TargetIndex, attrs, true); !ok {
			return nil, nil // nowhere to skip to: wait here
		}
		// A skip frees nobody, so the only follow-up is this loop routing
		// the task again at its new target.
		_, err = e.tx(ctx, func(tx Tx, fx *effects) error {
			cur, err := tx.GetTask(ctx, workspaceSID, taskSID)
			if err != nil {
				return fmt.Errorf("read task %s: %w", taskSID, err)
			}
			if cur.AssignmentStatus != TaskPending || cur.FilterIndex != t.FilterIndex || cur.TargetIndex != t.TargetIndex {
				return errTaskMoved
			}
			return e.moveOn(ctx, tx, fx, wf, cur, attrs, moveSkip)
		})
		if err != nil && !errors.Is(err, errTaskMoved) {
			return nil, fmt.Errorf("skip task %s to its next target: %w", taskSID, err)
		}
	}
	return nil, fmt.Errorf("route task %s: more than %d routing steps", taskSID, maxRouteSteps)
}

// reposition puts a task whose position vanished from its edited workflow at
// the workflow's first matching target.
func (e *Engine) reposition(ctx context.Context, wfRow Workflow, wf *routing.Workflow, t Task, attrs routing.Attributes) error {
	filter, ok := firstPosition(wf, attrs)
	if !ok {
		return Errorf(EINVALID, "task %s matches no filter of workflow %s, which has no default_filter", t.SID, wfRow.SID)
	}
	_, err := e.tx(ctx, func(tx Tx, fx *effects) error {
		cur, err := tx.GetTask(ctx, t.WorkspaceSID, t.SID)
		if err != nil {
			return fmt.Errorf("read task %s: %w", t.SID, err)
		}
		if cur.AssignmentStatus != TaskPending || cur.FilterIndex != t.FilterIndex || cur.TargetIndex != t.TargetIndex {
			return errTaskMoved
		}
		from := cur.TaskQueueSID
		if err := e.enterTarget(ctx, tx, fx, wf, &cur, filter, 0, e.clock.Now()); err != nil {
			return err
		}
		if err := e.moved(ctx, tx, cur, from, "workflow changed"); err != nil {
			return err
		}
		_, err = tx.UpdateTask(ctx, cur)
		return err
	})
	return err
}

// tryReserve offers the task to the best eligible workers in turn until one
// claim succeeds. A failed claim means the index was stale for that worker:
// it is re-read, and the index asked again.
func (e *Engine) tryReserve(ctx context.Context, wfRow Workflow, t Task, tgt *routing.Target, attrs routing.Attributes) (*reserved, error) {
	wi, err := e.index(ctx, t.WorkspaceSID)
	if err != nil {
		return nil, err
	}
	tried := make(map[string]bool)
	skip := func(sid string) bool { return tried[sid] || slices.Contains(t.RejectedWorkers, sid) }
	for range 3 {
		wi.mu.RLock()
		cands := wi.ix.Eligible(tgt, attrs, skip, candidatesPerRound)
		wi.mu.RUnlock()
		if len(cands) == 0 {
			return nil, nil
		}
		for _, c := range cands {
			tried[c.SID] = true
			r, err := e.reserve(ctx, wfRow, t, c.SID)
			switch {
			case err == nil:
				return r, nil
			case errors.Is(err, errWorkerTaken):
				if _, _, err := e.refreshWorker(ctx, t.WorkspaceSID, c.SID); err != nil {
					return nil, err
				}
			default:
				return nil, err
			}
		}
	}
	return nil, nil
}

// reserve makes, in one transaction, the reservation of task t (as it was
// read, at its current position) for worker workerSID: the task must still
// be pending at that position and the worker claimable.
func (e *Engine) reserve(ctx context.Context, wfRow Workflow, t Task, workerSID string) (*reserved, error) {
	var out reserved
	_, err := e.tx(ctx, func(tx Tx, fx *effects) error {
		cur, err := tx.GetTask(ctx, t.WorkspaceSID, t.SID)
		if err != nil {
			return fmt.Errorf("read task %s: %w", t.SID, err)
		}
		if cur.AssignmentStatus != TaskPending || cur.FilterIndex != t.FilterIndex ||
			cur.TargetIndex != t.TargetIndex || slices.Contains(cur.RejectedWorkers, workerSID) {
			return errTaskMoved
		}
		r, err := e.reserveLocked(ctx, tx, fx, wfRow, cur, workerSID)
		if err != nil {
			return err
		}
		out = *r
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// reserveLocked reserves the pending task cur, which tx holds locked at its
// current position, for workerSID: errWorkerTaken when the worker cannot be
// claimed (the index was stale), errTaskMoved when the task already has a
// live reservation.
func (e *Engine) reserveLocked(ctx context.Context, tx Tx, fx *effects, wfRow Workflow, cur Task, workerSID string) (*reserved, error) {
	ok, err := tx.ClaimWorker(ctx, cur.WorkspaceSID, workerSID, e.clock.Now())
	if ErrorCode(err) == ENOTFOUND {
		return nil, errWorkerTaken // deleted: the refresh drops it from the index
	}
	if err != nil {
		return nil, fmt.Errorf("claim worker %s: %w", workerSID, err)
	}
	if !ok {
		return nil, errWorkerTaken
	}
	// The claim announced a worker change; this instance puts the worker
	// row read below into its index after commit, so it skips the echo
	// (a re-read per call). A worker only gets busier here: nothing to serve.
	fx.ownChange(workerSID)
	// Read the time after the claim, which waited for any transaction
	// freeing this worker to commit: the reservation then starts after
	// the previous one ended, also across instances.
	now := e.clock.Now()
	w, err := tx.GetWorker(ctx, cur.WorkspaceSID, workerSID)
	if err != nil {
		return nil, fmt.Errorf("read worker %s: %w", workerSID, err)
	}
	timeout := wfRow.TaskReservationTimeout
	if timeout <= 0 {
		timeout = DefaultReservationTimeout
	}
	r := Reservation{
		SID:          NewSID(PrefixReservation),
		WorkspaceSID: cur.WorkspaceSID,
		TaskSID:      cur.SID,
		WorkerSID:    workerSID,
		Status:       ReservationPending,
		Timeout:      timeout,
		DateCreated:  now,
		DateUpdated:  now,
	}
	if err := tx.InsertReservation(ctx, r); err != nil {
		if ErrorCode(err) == ECONFLICT {
			return nil, errTaskMoved // another live reservation exists
		}
		return nil, fmt.Errorf("insert reservation: %w", err)
	}
	cur.AssignmentStatus = TaskReserved
	cur.DateUpdated = now
	updated, err := tx.UpdateTask(ctx, cur)
	if err != nil {
		return nil, fmt.Errorf("update task %s: %w", cur.SID, err)
	}
	if err := e.event(ctx, tx, reservationEvent(r, EventReservationCreated,
		fmt.Sprintf("Reservation %s created for worker %s", r.SID, w.FriendlyName)),
		map[string]any{"task_queue_sid": cur.TaskQueueSID, "task_priority": cur.Priority}); err != nil {
		return nil, err
	}
	if err := tx.SetTimer(ctx, Timer{
		SID: NewSID(PrefixTimer), WorkspaceSID: cur.WorkspaceSID, Kind: TimerReservation,
		TaskSID: cur.SID, ReservationSID: r.SID, WorkerSID: workerSID,
		TaskVersion: updated.Version, FireAt: now.Add(time.Duration(timeout) * time.Second),
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

// moveOn moves the locked task cur from its current target to the next one
// and writes it. On a timeout a pending reservation is rescinded and its
// worker counted as not answering (not offered the task again at once);
// past the final target a timeout cancels the task (TaskRouter's workflow timeout).
func (e *Engine) moveOn(ctx context.Context, tx Tx, fx *effects, wf *routing.Workflow, cur Task, attrs routing.Attributes, why moveReason) error {
	_, err := e.moveOnTask(ctx, tx, fx, wf, cur, attrs, why)
	return err
}

// moveOnTask is moveOn returning the task as stored (zero when it was canceled).
func (e *Engine) moveOnTask(ctx context.Context, tx Tx, fx *effects, wf *routing.Workflow, cur Task, attrs routing.Attributes, why moveReason) (Task, error) {
	now := e.clock.Now()
	if why == moveTimeout && cur.AssignmentStatus == TaskReserved {
		if err := e.endPendingReservation(ctx, tx, fx, &cur, ReservationRescinded, true); err != nil {
			return Task{}, err
		}
	}
	filter, target, ok := nextPosition(wf, cur.FilterIndex, cur.TargetIndex, attrs, why == moveSkip)
	if !ok {
		if why == moveSkip {
			return Task{}, errTaskMoved // nothing to skip to; the caller checked, so the workflow changed
		}
		if err := e.event(ctx, tx, taskEvent(cur, EventWorkflowTimeout,
			fmt.Sprintf("Task %s timed out of workflow %s", cur.SID, cur.WorkflowSID)),
			map[string]any{"task_queue_sid": cur.TaskQueueSID}); err != nil {
			return Task{}, err
		}
		_, err := e.cancelInTx(ctx, tx, fx, cur, "Workflow Timeout")
		return Task{}, err
	}
	from := cur.TaskQueueSID
	typ, desc := EventWorkflowSkipped, "skipped"
	if why == moveTimeout {
		typ, desc = EventTaskQueueTimeout, "timed out"
	}
	if err := e.event(ctx, tx, taskEvent(cur, typ, fmt.Sprintf("Task %s %s target %d of filter %d (queue %s)",
		cur.SID, desc, cur.TargetIndex, cur.FilterIndex, from)),
		map[string]any{"task_queue_sid": from, "filter": cur.FilterIndex, "target": cur.TargetIndex}); err != nil {
		return Task{}, err
	}
	cur.AssignmentStatus = TaskPending
	if err := e.enterTarget(ctx, tx, fx, wf, &cur, filter, target, now); err != nil {
		return Task{}, err
	}
	if err := e.moved(ctx, tx, cur, from, desc); err != nil {
		return Task{}, err
	}
	cur.DateUpdated = now
	updated, err := tx.UpdateTask(ctx, cur)
	if err != nil {
		return Task{}, fmt.Errorf("update task %s: %w", cur.SID, err)
	}
	if err := notifyTask(ctx, tx, fx, cur.WorkspaceSID, cur.SID); err != nil {
		return Task{}, err
	}
	fx.routeTask(cur.SID)
	return updated, nil
}

// moved records a task-queue.moved event after enterTarget.
func (e *Engine) moved(ctx context.Context, tx Tx, t Task, from, why string) error {
	return e.event(ctx, tx, taskEvent(t, EventTaskQueueMoved,
		fmt.Sprintf("Task %s moved from queue %s to queue %s (%s)", t.SID, from, t.TaskQueueSID, why)),
		map[string]any{"previous_task_queue_sid": from, "task_queue_sid": t.TaskQueueSID, "reason": why})
}

// enterTarget places t (in memory; the caller writes it) at a position:
// queue, step start, the target's priority, the step timer, and the
// workflow.target-matched and task-queue.entered events.
func (e *Engine) enterTarget(ctx context.Context, tx Tx, fx *effects, wf *routing.Workflow, t *Task, filter, target int, now time.Time) error {
	tgt, ok := targetAt(wf, filter, target)
	if !ok {
		return fmt.Errorf("enter target %d of filter %d: no such target", target, filter)
	}
	t.FilterIndex, t.TargetIndex = filter, target
	t.TaskQueueSID = tgt.Queue
	t.StepEnteredAt = now
	if tgt.Priority != nil {
		t.Priority = *tgt.Priority
	}
	filterName := "default filter"
	if filter >= 0 {
		filterName = wf.Filters[filter].Name
	}
	if err := e.event(ctx, tx, taskEvent(*t, EventWorkflowTargetMatched,
		fmt.Sprintf("Task %s matched target %d of %q", t.SID, target, filterName)),
		map[string]any{"filter": filter, "filter_friendly_name": filterName, "target": target,
			"task_queue_sid": tgt.Queue, "target_expression": tgt.ExprSrc}); err != nil {
		return err
	}
	if err := e.event(ctx, tx, taskEvent(*t, EventTaskQueueEntered,
		fmt.Sprintf("Task %s entered queue %s", t.SID, tgt.Queue)),
		map[string]any{"task_queue_sid": tgt.Queue, "task_priority": t.Priority}); err != nil {
		return err
	}
	if tgt.Timeout != nil && *tgt.Timeout > 0 {
		if err := tx.SetTimer(ctx, Timer{
			SID: NewSID(PrefixTimer), WorkspaceSID: t.WorkspaceSID, Kind: TimerStep, TaskSID: t.SID,
			TaskVersion: t.Version + 1, FireAt: now.Add(time.Duration(*tgt.Timeout) * time.Second),
		}); err != nil {
			return fmt.Errorf("set step timer: %w", err)
		}
		fx.timers = true
		return nil
	}
	if err := tx.ClearTimers(ctx, t.WorkspaceSID, t.SID, TimerStep); err != nil {
		return fmt.Errorf("clear step timer: %w", err)
	}
	// Waiting here has no end: the workers it brings along as excluded
	// (an owner who did not answer) get it again after the cool-down.
	return e.armReoffer(ctx, tx, fx, *t, now)
}

// stepDeadline is when the task's current step times out (zero: never).
func stepDeadline(wf *routing.Workflow, t Task) time.Time {
	tgt, ok := targetAt(wf, t.FilterIndex, t.TargetIndex)
	if !ok || tgt.Timeout == nil || *tgt.Timeout <= 0 {
		return time.Time{}
	}
	return t.StepEnteredAt.Add(time.Duration(*tgt.Timeout) * time.Second)
}

// shouldSkip evaluates the target's skip_if with its queue's worker counts.
func (e *Engine) shouldSkip(ctx context.Context, workspaceSID string, tgt *routing.Target, attrs routing.Attributes) (bool, error) {
	if tgt.SkipIf == nil {
		return false, nil
	}
	wi, err := e.index(ctx, workspaceSID)
	if err != nil {
		return false, err
	}
	wi.mu.RLock()
	stats, _ := wi.ix.QueueStats(tgt.Queue)
	wi.mu.RUnlock()
	return tgt.ShouldSkip(attrs, stats), nil
}
