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

// TaskInsert is the input of CreateTask.
type TaskInsert struct {
	WorkspaceSID string
	WorkflowSID  string // "" = the workspace's default workflow
	Attributes   string // JSON object; "" = {}
	Priority     int
	Timeout      int    // seconds the task may stay unassigned; 0 = 86400
	TaskChannel  string // "" = voice
	CallSID      string // makes CreateTask idempotent per call
}

// TaskResult is a task and, when it has one, its live reservation.
type TaskResult struct {
	Task        didrouter.Task
	Reservation *didrouter.Reservation
	Worker      *didrouter.Worker
	Created     bool
}

// CreateTask creates a task in its workflow and routes it at once. With a
// CallSID that already has a task, it creates nothing and returns that
// task with its live reservation, and Created is false. When routing fails
// after the task was stored, the result still carries the task, with
// Created true, along with the error. The task then waits like any pending
// task.
func (e *Engine) CreateTask(ctx context.Context, n TaskInsert) (TaskResult, error) {
	ws, err := e.Workspace(ctx, n.WorkspaceSID)
	if err != nil {
		return TaskResult{}, fmt.Errorf("create task: read workspace %s: %w", n.WorkspaceSID, err)
	}
	// A call that already has a task (a retried webhook) is found by the
	// insert below; only a call whose new task would be refused is looked
	// up first, so that a retry still gets its task.
	refuse := func(err error) (TaskResult, error) {
		if n.CallSID != "" {
			if t, lerr := e.store.TaskByCallSID(ctx, ws.SID, n.CallSID); lerr == nil {
				return e.existing(ctx, t)
			}
		}
		return TaskResult{}, err
	}
	wfRow, wf, err := e.newTaskWorkflow(ctx, ws, n)
	if err != nil {
		return refuse(fmt.Errorf("create task: %w", err))
	}
	d, err := draftTask(ws.SID, wfRow, wf, n)
	if err != nil {
		return refuse(fmt.Errorf("create task: %w", err))
	}

	var (
		task   didrouter.Task
		placed *reserved
		stale  []string
	)
	_, err = e.tx(ctx, func(tx didrouter.Tx, fx *effects) error {
		placed, stale = nil, nil
		now := e.clock.Now()
		t := d.task(now)
		// The task itself is written once, by placeNew, in the state its
		// routing leaves it in. What comes before refers to it by sid only.
		if err := emitTaskCreated(e.txEmit(ctx, tx), t, false); err != nil {
			return err
		}
		// Same position and time as the draft: this only adds the events and the step timer.
		if err := e.enterTarget(ctx, tx, fx, wf, &t, d.filter, 0, now); err != nil {
			return err
		}
		if err := tx.SetTimer(ctx, didrouter.Timer{
			SID: didrouter.NewSID(didrouter.PrefixTimer), WorkspaceSID: ws.SID, Kind: didrouter.TimerTask, TaskSID: t.SID,
			TaskVersion: 1, FireAt: now.Add(time.Duration(d.timeout) * time.Second),
		}); err != nil {
			return fmt.Errorf("set task timeout: %w", err)
		}
		fx.timers = true
		var err error
		if placed, stale, err = e.placeNew(ctx, tx, fx, wfRow, wf, &t, d.attrs); err != nil {
			return fmt.Errorf("route task %s: %w", t.SID, err)
		}
		if placed == nil {
			// It waits: every instance may now place it.
			if err := notifyTask(ctx, tx, fx, ws.SID, t.SID); err != nil {
				return err
			}
		}
		task = t
		return nil
	})
	var dup *callHasTask
	if errors.As(err, &dup) {
		// The same call raced us (a retried webhook): its task stands, and
		// whatever this attempt claimed was rolled back with it.
		return e.existing(ctx, dup.task)
	}
	if err != nil {
		return TaskResult{}, fmt.Errorf("create task: %w", err)
	}
	for _, sid := range stale {
		if _, _, err := e.refreshWorker(ctx, ws.SID, sid); err != nil {
			e.log.WarnContext(ctx, "refreshing a worker the index offered in vain failed", "worker", sid, "err", err)
		}
	}
	res := TaskResult{Task: task, Created: true}
	if placed != nil {
		res.Task, res.Reservation, res.Worker = placed.task, &placed.reservation, &placed.worker
		return res, nil
	}
	// Nobody was reservable inside the transaction. A worker freed since
	// (here or on another instance) may have looked for waiting tasks
	// before this one was committed: route it once more.
	r, err := e.routeFrom(ctx, ws.SID, task.SID, &task)
	if err != nil {
		return res, fmt.Errorf("create task: task %s stored but not routed: %w", task.SID, err)
	}
	if r != nil {
		res.Task, res.Reservation, res.Worker = r.task, &r.reservation, &r.worker
		return res, nil
	}
	// This call reserved nothing, but a concurrent one may have, when a
	// worker freed meanwhile or on another instance. So the answer is the
	// task as it is now.
	if res.Task, err = e.store.GetTask(ctx, ws.SID, task.SID); err != nil {
		return res, fmt.Errorf("create task: re-read task %s: %w", task.SID, err)
	}
	if res.Task.AssignmentStatus != didrouter.TaskPending {
		if res.Reservation, res.Worker, err = e.LiveReservation(ctx, ws.SID, task.SID); err != nil {
			return res, fmt.Errorf("create task: %w", err)
		}
	}
	return res, nil
}

// existing is CreateTask's answer for a call that already has a task.
func (e *Engine) existing(ctx context.Context, t didrouter.Task) (TaskResult, error) {
	r, w, err := e.LiveReservation(ctx, t.WorkspaceSID, t.SID)
	if err != nil {
		return TaskResult{}, err
	}
	return TaskResult{Task: t, Reservation: r, Worker: w}, nil
}

// LiveReservation returns the task's pending or accepted reservation and its
// worker, or nils when it has none.
func (e *Engine) LiveReservation(ctx context.Context, workspaceSID, taskSID string) (*didrouter.Reservation, *didrouter.Worker, error) {
	list, err := e.store.ListReservations(ctx, workspaceSID, didrouter.ReservationFilter{Page: didrouter.Page{Size: 1000}, TaskSID: taskSID})
	if err != nil {
		return nil, nil, fmt.Errorf("list reservations of task %s: %w", taskSID, err)
	}
	var live *didrouter.Reservation
	for i := range list {
		r := list[i]
		if (r.Status == didrouter.ReservationPending || r.Status == didrouter.ReservationAccepted) &&
			(live == nil || !r.DateCreated.Before(live.DateCreated)) {
			live = &r
		}
	}
	if live == nil {
		return nil, nil, nil
	}
	w, err := e.store.GetWorker(ctx, workspaceSID, live.WorkerSID)
	if err != nil {
		return nil, nil, fmt.Errorf("read worker %s of reservation %s: %w", live.WorkerSID, live.SID, err)
	}
	return live, &w, nil
}

// acceptLocked makes r, locked in tx with its task t, the task's accepted
// reservation: the task is assigned, its step, reservation, task and
// re-offer timers stop, and reservation.accepted is recorded with desc
// (data adds to the event's task_queue_sid).
func (e *Engine) acceptLocked(ctx context.Context, tx didrouter.Tx, t didrouter.Task, r didrouter.Reservation, now time.Time, desc string, data map[string]any) (didrouter.Reservation, error) {
	r.Status, r.DateUpdated = didrouter.ReservationAccepted, now
	if err := tx.UpdateReservation(ctx, r); err != nil {
		return didrouter.Reservation{}, fmt.Errorf("update reservation: %w", err)
	}
	t.AssignmentStatus, t.DateUpdated = didrouter.TaskAssigned, now
	if _, err := tx.UpdateTask(ctx, t); err != nil {
		return didrouter.Reservation{}, fmt.Errorf("update task %s: %w", t.SID, err)
	}
	if err := tx.ClearTimers(ctx, t.WorkspaceSID, t.SID, didrouter.TimerStep, didrouter.TimerReservation, didrouter.TimerTask, didrouter.TimerReoffer); err != nil {
		return didrouter.Reservation{}, fmt.Errorf("clear timers: %w", err)
	}
	// An answered call ends a run of missed ones (missed.go). Cleared even
	// with the rule off, so that turning it on later starts from zero.
	if err := tx.ClearMissedCalls(ctx, t.WorkspaceSID, r.WorkerSID); err != nil {
		return didrouter.Reservation{}, fmt.Errorf("clear missed calls of worker %s: %w", r.WorkerSID, err)
	}
	evData := map[string]any{"task_queue_sid": t.TaskQueueSID}
	for k, v := range data {
		evData[k] = v
	}
	return r, e.event(ctx, tx, reservationEvent(r, didrouter.EventReservationAccepted, desc), evData)
}

// AcceptReservation accepts a pending reservation: the task is assigned and
// its step, reservation and task timers stop.
func (e *Engine) AcceptReservation(ctx context.Context, workspaceSID, reservationSID string) (didrouter.Reservation, error) {
	var out didrouter.Reservation
	_, err := e.tx(ctx, func(tx didrouter.Tx, fx *effects) error {
		now := e.clock.Now()
		t, r, err := tx.LockReservation(ctx, workspaceSID, reservationSID)
		if err != nil {
			return err
		}
		if r.Status != didrouter.ReservationPending || t.AssignmentStatus != didrouter.TaskReserved {
			return didrouter.Errorf(didrouter.EUNAVAILABLE, "reservation %s is %s, no longer pending", r.SID, r.Status)
		}
		out, err = e.acceptLocked(ctx, tx, t, r, now, fmt.Sprintf("Reservation %s accepted", r.SID), nil)
		return err
	})
	if err != nil {
		return didrouter.Reservation{}, fmt.Errorf("accept reservation: %w", err)
	}
	return out, nil
}

// RejectReservation ends a pending reservation as rejected, when the
// worker declined, or as timeout, when nobody answered. The worker is
// freed and not offered this task again at this step, as Re-offer in
// doc.go explains. After a timeout the worker moves to the workspace's
// timeout activity when one is set. The task is routed again at once at
// its current target. Another eligible worker gets it, or, when nobody is
// reservable, skip_if decides whether it moves on.
//
// It counts as the worker's missed or declined call, as missed.go says.
func (e *Engine) RejectReservation(ctx context.Context, workspaceSID, reservationSID, status string) (TaskResult, error) {
	return e.rejectReservation(ctx, workspaceSID, reservationSID, status, true)
}

// rejectReservation is RejectReservation; missed false when the worker did
// not answer the call (it left for an unavailable activity, it is deleted).
func (e *Engine) rejectReservation(ctx context.Context, workspaceSID, reservationSID, status string, missed bool) (TaskResult, error) {
	if status != didrouter.ReservationRejected && status != didrouter.ReservationTimeout {
		return TaskResult{}, didrouter.Errorf(didrouter.EINVALID, "status must be %s or %s, not %q", didrouter.ReservationRejected, didrouter.ReservationTimeout, status)
	}
	var taskSID string
	fx, err := e.tx(ctx, func(tx didrouter.Tx, fx *effects) error {
		t, r, err := tx.LockReservation(ctx, workspaceSID, reservationSID)
		if err != nil {
			return err
		}
		taskSID = t.SID
		if r.Status != didrouter.ReservationPending {
			return didrouter.Errorf(didrouter.EUNAVAILABLE, "reservation %s is %s, no longer pending", r.SID, r.Status)
		}
		return e.rejectInTx(ctx, tx, fx, t, r, status, missed)
	})
	if err != nil {
		return TaskResult{}, fmt.Errorf("reject reservation: %w", err)
	}
	res, w, err := e.after(ctx, workspaceSID, fx, taskSID)
	out := TaskResult{Reservation: res, Worker: w}
	t, terr := e.store.GetTask(ctx, workspaceSID, taskSID)
	if terr != nil {
		return out, errors.Join(err, fmt.Errorf("re-read task %s: %w", taskSID, terr))
	}
	out.Task = t
	if res == nil && t.AssignmentStatus == didrouter.TaskReserved {
		// Re-routed by a concurrent caller: report that reservation.
		if out.Reservation, out.Worker, terr = e.LiveReservation(ctx, workspaceSID, t.SID); terr != nil {
			return out, errors.Join(err, terr)
		}
	}
	if err != nil {
		return out, fmt.Errorf("reject reservation: re-route: %w", err)
	}
	return out, nil
}

// rejectInTx ends the locked pending reservation r of the locked task t as
// rejected or timeout, frees its worker and puts the task back to pending.
// missed counts it as the worker's missed or declined call.
func (e *Engine) rejectInTx(ctx context.Context, tx didrouter.Tx, fx *effects, t didrouter.Task, r didrouter.Reservation, status string, missed bool) error {
	now := e.clock.Now()
	if err := e.endReservation(ctx, tx, fx, r, t.TaskChannel, status, now); err != nil {
		return err
	}
	if status == didrouter.ReservationTimeout {
		if err := e.moveToTimeoutActivity(ctx, tx, fx, t.WorkspaceSID, r.WorkerSID, now); err != nil {
			return err
		}
	}
	if missed && ringsPhone(t) {
		if err := e.noteMissed(ctx, tx, fx, t.WorkspaceSID, r.WorkerSID, now); err != nil {
			return err
		}
	}
	if !slices.Contains(t.RejectedWorkers, r.WorkerSID) {
		t.RejectedWorkers = append(t.RejectedWorkers, r.WorkerSID)
	}
	t.AssignmentStatus, t.DateUpdated = didrouter.TaskPending, now
	updated, err := tx.UpdateTask(ctx, t)
	if err != nil {
		return fmt.Errorf("update task %s: %w", t.SID, err)
	}
	if err := e.armReoffer(ctx, tx, fx, updated, now); err != nil {
		return err
	}
	if err := notifyTask(ctx, tx, fx, t.WorkspaceSID, t.SID); err != nil {
		return err
	}
	fx.routeTask(t.SID)
	return nil
}

var reservationEventTypes = map[string]string{
	didrouter.ReservationRejected:  didrouter.EventReservationRejected,
	didrouter.ReservationTimeout:   didrouter.EventReservationTimeout,
	didrouter.ReservationCanceled:  didrouter.EventReservationCanceled,
	didrouter.ReservationRescinded: didrouter.EventReservationRescinded,
	didrouter.ReservationCompleted: didrouter.EventReservationCompleted,
}

// endReservation gives the locked reservation r a final status, records the
// event, stops its timer and frees its worker's capacity on channel. That
// is the task's channel, which does not change while a reservation is live.
func (e *Engine) endReservation(ctx context.Context, tx didrouter.Tx, fx *effects, r didrouter.Reservation, channel, status string, now time.Time) error {
	r.Status, r.DateUpdated = status, now
	if err := tx.UpdateReservation(ctx, r); err != nil {
		return fmt.Errorf("update reservation %s: %w", r.SID, err)
	}
	if err := e.event(ctx, tx, reservationEvent(r, reservationEventTypes[status],
		fmt.Sprintf("Reservation %s %s", r.SID, status)), nil); err != nil {
		return err
	}
	if err := tx.ClearTimers(ctx, r.WorkspaceSID, r.TaskSID, didrouter.TimerReservation); err != nil {
		return fmt.Errorf("clear reservation timer: %w", err)
	}
	return e.releaseWorker(ctx, tx, fx, r.WorkspaceSID, r.WorkerSID, channel, now)
}

// endPendingReservation ends the task's pending reservation, if any, with
// status; notAnswering also bars its worker from the task. t is updated in
// memory (the caller writes it).
func (e *Engine) endPendingReservation(ctx context.Context, tx didrouter.Tx, fx *effects, t *didrouter.Task, status string, notAnswering bool) error {
	list, err := tx.TaskReservations(ctx, t.WorkspaceSID, t.SID, didrouter.ReservationPending)
	if err != nil {
		return fmt.Errorf("read pending reservations of task %s: %w", t.SID, err)
	}
	now := e.clock.Now()
	for _, r := range list {
		if err := e.endReservation(ctx, tx, fx, r, t.TaskChannel, status, now); err != nil {
			return err
		}
		if !notAnswering {
			continue
		}
		if !slices.Contains(t.RejectedWorkers, r.WorkerSID) {
			t.RejectedWorkers = append(t.RejectedWorkers, r.WorkerSID)
		}
		// Rung for the whole step without answering: a missed call.
		if !ringsPhone(*t) {
			continue
		}
		if err := e.noteMissed(ctx, tx, fx, t.WorkspaceSID, r.WorkerSID, now); err != nil {
			return err
		}
	}
	return nil
}

// releaseWorker frees one unit of the worker's capacity on a task channel
// and schedules it to serve waiting tasks after commit.
func (e *Engine) releaseWorker(ctx context.Context, tx didrouter.Tx, fx *effects, workspaceSID, workerSID, channel string, now time.Time) error {
	w, err := tx.ReleaseWorker(ctx, workspaceSID, workerSID, channel, now)
	if err != nil {
		if didrouter.ErrorCode(err) == didrouter.ENOTFOUND {
			return nil // deleted meanwhile: nothing to free
		}
		return fmt.Errorf("release worker %s: %w", workerSID, err)
	}
	fx.noteWorker(w)
	fx.serveWorker(workerSID)
	return nil
}

// moveToTimeoutActivity moves a worker whose reservation timed out to the
// workspace's timeout activity, when the workspace has one.
func (e *Engine) moveToTimeoutActivity(ctx context.Context, tx didrouter.Tx, fx *effects, workspaceSID, workerSID string, now time.Time) error {
	ws, err := tx.GetWorkspace(ctx, workspaceSID)
	if err != nil {
		return fmt.Errorf("read workspace %s: %w", workspaceSID, err)
	}
	if ws.TimeoutActivitySID == "" {
		return nil
	}
	w, err := tx.GetWorker(ctx, workspaceSID, workerSID)
	if didrouter.ErrorCode(err) == didrouter.ENOTFOUND {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read worker %s: %w", workerSID, err)
	}
	if w.ActivitySID == ws.TimeoutActivitySID {
		return nil
	}
	a, err := tx.GetActivity(ctx, workspaceSID, ws.TimeoutActivitySID)
	if err != nil {
		return fmt.Errorf("read timeout activity %s: %w", ws.TimeoutActivitySID, err)
	}
	return e.setActivity(ctx, tx, fx, w, a, now, nil)
}

// activityCause says why the engine itself moved a worker (missed calls,
// no desktop page): its fields join the event's data, so that the agent's
// page and reports can tell the agent why.
type activityCause struct {
	reason string         // ReasonMissedCalls, ReasonAway
	why    string         // ends the event's description: "after 3 missed calls in a row"
	data   map[string]any // more detail for the event's data
}

// setActivity writes a worker's new activity with its event; cause is nil
// when a person (the API, the desktop) chose it.
func (e *Engine) setActivity(ctx context.Context, tx didrouter.Tx, fx *effects, w didrouter.Worker, a didrouter.Activity, now time.Time, cause *activityCause) error {
	prev := w.ActivityName
	w.ActivitySID, w.ActivityName, w.Available = a.SID, a.FriendlyName, a.Available
	w.DateStatusChanged, w.DateUpdated = now, now
	if err := tx.UpdateWorker(ctx, w); err != nil {
		return fmt.Errorf("update worker %s: %w", w.SID, err)
	}
	w, err := tx.GetWorker(ctx, w.WorkspaceSID, w.SID)
	if err != nil {
		return fmt.Errorf("read worker %s: %w", w.SID, err)
	}
	fx.noteWorker(w)
	if w.Available {
		fx.serveWorker(w.SID)
	}
	desc := fmt.Sprintf("Worker %s updated to %s", w.FriendlyName, a.FriendlyName)
	data := map[string]any{"worker_previous_activity": prev, "worker_activity_sid": a.SID, "worker_activity_name": a.FriendlyName}
	if cause != nil {
		desc += " " + cause.why
		for k, v := range cause.data {
			data[k] = v
		}
		data["reason"] = cause.reason
	}
	return e.event(ctx, tx, workerEvent(w, didrouter.EventWorkerActivityUpdate, desc), data)
}

// CompleteTask finishes an assigned or wrapping task. With a wrap-up time
// configured, an assigned task first goes to wrapping. It completes when
// the wrap-up timer fires or on a second CompleteTask. The worker is freed
// on completion and serves the next waiting task. Completing a completed
// task returns it unchanged.
func (e *Engine) CompleteTask(ctx context.Context, workspaceSID, taskSID, reason string) (didrouter.Task, error) {
	return e.transition(ctx, workspaceSID, taskSID, transition{
		op: "complete task", same: []string{didrouter.TaskCompleted}, from: []string{didrouter.TaskAssigned, didrouter.TaskWrapping},
		only: "only an assigned or wrapping task can be completed",
		apply: func(ctx context.Context, tx didrouter.Tx, fx *effects, t didrouter.Task) (didrouter.Task, error) {
			return e.completeInTx(ctx, tx, fx, t, reason, t.AssignmentStatus == didrouter.TaskAssigned && e.wrapUp > 0)
		},
	})
}

// transition is one change of a task's status that a caller asks for by
// the task's sid: CompleteTask, CancelTask, WrapUpTask, EndCall.
type transition struct {
	op   string   // what the errors say was being done
	same []string // statuses in which the task is returned unchanged
	from []string // statuses the change applies to; any other is EUNAVAILABLE
	only string   // the refusal's explanation
	// apply changes the task, locked in tx, and returns it as stored.
	apply func(ctx context.Context, tx didrouter.Tx, fx *effects, t didrouter.Task) (didrouter.Task, error)
}

// transition runs tr on the task in one transaction, then serves what the
// change freed (a worker, waiting tasks). Asking twice for the same change
// is answered with the task as it is, because webhooks and clients retry.
func (e *Engine) transition(ctx context.Context, workspaceSID, taskSID string, tr transition) (didrouter.Task, error) {
	var out didrouter.Task
	fx, err := e.tx(ctx, func(tx didrouter.Tx, fx *effects) error {
		t, err := tx.GetTask(ctx, workspaceSID, taskSID)
		if err != nil {
			return fmt.Errorf("read task %s: %w", taskSID, err)
		}
		switch {
		case slices.Contains(tr.same, t.AssignmentStatus):
			out = t
			return nil
		case !slices.Contains(tr.from, t.AssignmentStatus):
			return didrouter.Errorf(didrouter.EUNAVAILABLE, "task %s is %s; %s", t.SID, t.AssignmentStatus, tr.only)
		}
		out, err = tr.apply(ctx, tx, fx, t)
		return err
	})
	if err != nil {
		return didrouter.Task{}, fmt.Errorf("%s: %w", tr.op, err)
	}
	if _, _, err := e.after(ctx, workspaceSID, fx, ""); err != nil {
		return out, fmt.Errorf("%s: serve waiting tasks: %w", tr.op, err)
	}
	return out, nil
}

// completeInTx moves the locked task t to wrapping (wrap true) or completed,
// with its reservation.
func (e *Engine) completeInTx(ctx context.Context, tx didrouter.Tx, fx *effects, t didrouter.Task, reason string, wrap bool) (didrouter.Task, error) {
	now := e.clock.Now()
	live, err := liveReservations(ctx, tx, t.WorkspaceSID, t.SID)
	if err != nil {
		return didrouter.Task{}, err
	}
	if reason != "" {
		t.Reason = reason
	}
	t.DateUpdated = now
	if wrap {
		t.AssignmentStatus = didrouter.TaskWrapping
		if err := e.event(ctx, tx, taskEvent(t, didrouter.EventTaskWrapup, fmt.Sprintf("Task %s wrapping up", t.SID)),
			map[string]any{"reason": t.Reason}); err != nil {
			return didrouter.Task{}, err
		}
		for _, r := range live {
			r.Status, r.DateUpdated = didrouter.ReservationWrapping, now
			if err := tx.UpdateReservation(ctx, r); err != nil {
				return didrouter.Task{}, fmt.Errorf("update reservation %s: %w", r.SID, err)
			}
			if err := e.event(ctx, tx, reservationEvent(r, didrouter.EventReservationWrapup,
				fmt.Sprintf("Reservation %s wrapping up", r.SID)), nil); err != nil {
				return didrouter.Task{}, err
			}
			if e.wrapUp <= 0 {
				continue // wrapping until CompleteTask
			}
			if err := tx.SetTimer(ctx, didrouter.Timer{
				SID: didrouter.NewSID(didrouter.PrefixTimer), WorkspaceSID: t.WorkspaceSID, Kind: didrouter.TimerWrapup, TaskSID: t.SID,
				ReservationSID: r.SID, WorkerSID: r.WorkerSID, TaskVersion: t.Version + 1, FireAt: now.Add(e.wrapUp),
			}); err != nil {
				return didrouter.Task{}, fmt.Errorf("set wrap-up timer: %w", err)
			}
			fx.timers = true
		}
	} else {
		t.AssignmentStatus = didrouter.TaskCompleted
		if err := e.event(ctx, tx, taskEvent(t, didrouter.EventTaskCompleted, fmt.Sprintf("Task %s completed", t.SID)),
			map[string]any{"reason": t.Reason}); err != nil {
			return didrouter.Task{}, err
		}
		for _, r := range live {
			if err := e.endReservation(ctx, tx, fx, r, t.TaskChannel, didrouter.ReservationCompleted, now); err != nil {
				return didrouter.Task{}, err
			}
		}
		return endTask(ctx, tx, t)
	}
	updated, err := tx.UpdateTask(ctx, t)
	if err != nil {
		return didrouter.Task{}, fmt.Errorf("update task %s: %w", t.SID, err)
	}
	return updated, nil
}

// liveReservations reads and locks the task's accepted and wrapping
// reservations.
func liveReservations(ctx context.Context, tx didrouter.Tx, workspaceSID, taskSID string) ([]didrouter.Reservation, error) {
	live, err := tx.TaskReservations(ctx, workspaceSID, taskSID, didrouter.ReservationAccepted, didrouter.ReservationWrapping)
	if err != nil {
		return nil, fmt.Errorf("read reservations of task %s: %w", taskSID, err)
	}
	return live, nil
}

// endTask stores the locked task t in the status that ended it. An ended
// task has nothing left to time, so its timers go with the same write.
func endTask(ctx context.Context, tx didrouter.Tx, t didrouter.Task) (didrouter.Task, error) {
	if err := tx.ClearTimers(ctx, t.WorkspaceSID, t.SID); err != nil {
		return didrouter.Task{}, fmt.Errorf("clear timers: %w", err)
	}
	updated, err := tx.UpdateTask(ctx, t)
	if err != nil {
		return didrouter.Task{}, fmt.Errorf("update task %s: %w", t.SID, err)
	}
	return updated, nil
}

// CancelTask cancels a pending or reserved task. A pending reservation is
// canceled, and its worker is freed and served. Canceling a canceled task
// returns it unchanged. An assigned task must be completed instead.
func (e *Engine) CancelTask(ctx context.Context, workspaceSID, taskSID, reason string) (didrouter.Task, error) {
	return e.transition(ctx, workspaceSID, taskSID, transition{
		op: "cancel task", same: []string{didrouter.TaskCanceled}, from: []string{didrouter.TaskPending, didrouter.TaskReserved},
		only: "only a pending or reserved task can be canceled",
		apply: func(ctx context.Context, tx didrouter.Tx, fx *effects, t didrouter.Task) (didrouter.Task, error) {
			return e.cancelInTx(ctx, tx, fx, t, reason)
		},
	})
}

// cancelInTx cancels the locked task t.
func (e *Engine) cancelInTx(ctx context.Context, tx didrouter.Tx, fx *effects, t didrouter.Task, reason string) (didrouter.Task, error) {
	if t.AssignmentStatus == didrouter.TaskReserved {
		if err := e.endPendingReservation(ctx, tx, fx, &t, didrouter.ReservationCanceled, false); err != nil {
			return didrouter.Task{}, err
		}
	}
	t.AssignmentStatus, t.DateUpdated = didrouter.TaskCanceled, e.clock.Now()
	if reason != "" {
		t.Reason = reason
	}
	if err := e.event(ctx, tx, taskEvent(t, didrouter.EventTaskCanceled, fmt.Sprintf("Task %s canceled", t.SID)),
		map[string]any{"reason": t.Reason, "task_queue_sid": t.TaskQueueSID}); err != nil {
		return didrouter.Task{}, err
	}
	return endTask(ctx, tx, t)
}

// resolveNewTask finds what a new task enters before anything is written:
// its workflow (n's, else the workspace's default), parsed, and its
// attributes, raw ("{}" when empty) and parsed. Bad input is EINVALID.
func (e *Engine) resolveNewTask(ctx context.Context, ws didrouter.Workspace, n TaskInsert) (wfRow didrouter.Workflow, wf *routing.Workflow, raw string, attrs routing.Attributes, err error) {
	if wfRow, wf, err = e.newTaskWorkflow(ctx, ws, n); err != nil {
		return didrouter.Workflow{}, nil, "", nil, err
	}
	if raw, attrs, err = parseTaskAttributes(n.Attributes); err != nil {
		return didrouter.Workflow{}, nil, "", nil, err
	}
	return wfRow, wf, raw, attrs, nil
}

// newTaskWorkflow is the workflow a new task enters: n's, else the
// workspace's default. A missing one is EINVALID.
func (e *Engine) newTaskWorkflow(ctx context.Context, ws didrouter.Workspace, n TaskInsert) (didrouter.Workflow, *routing.Workflow, error) {
	wfSID := n.WorkflowSID
	if wfSID == "" {
		wfSID = ws.DefaultWorkflowSID
	}
	if wfSID == "" {
		return didrouter.Workflow{}, nil, didrouter.Errorf(didrouter.EINVALID, "workflow_sid is required: workspace %s has no default workflow", ws.SID)
	}
	wfRow, wf, err := e.workflow(ctx, ws.SID, wfSID)
	if didrouter.ErrorCode(err) == didrouter.ENOTFOUND {
		return didrouter.Workflow{}, nil, didrouter.Errorf(didrouter.EINVALID, "workflow %s does not exist in workspace %s", wfSID, ws.SID)
	}
	return wfRow, wf, err
}
