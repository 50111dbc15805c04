package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/routing"
)

// The workflow walk. A pending task is offered, at its current target, to
// the best eligible workers in turn. When nobody can be claimed and the
// target's skip_if holds, the task moves to its next position and the walk
// goes on. Three callers walk: route after a commit, placeNew inside the
// transaction that created the task, and Degraded.Route from memory alone.
// They differ in how a worker is claimed, how a task moves on and where the
// events go, and a walker supplies those parts, so that the steps
// themselves exist once.

// walker is what one caller of walk supplies.
type walker interface {
	// current returns the task as it stands at the start of a step. done
	// means it no longer waits, and the walk ends without a reservation.
	current(ctx context.Context) (s walkStep, done bool, err error)
	// claim tries to reserve the task for candidate c. It returns nil and
	// no error when c could not be claimed because the index was stale,
	// and the walk offers the task to the next candidate.
	claim(ctx context.Context, s walkStep, c routing.WorkerInfo) (*reserved, error)
	// skip moves the task from its current target to the next one.
	skip(ctx context.Context, s walkStep) error
	// lost handles a task whose position is gone from its edited workflow.
	// stop ends the walk, and the task waits where it is.
	lost(ctx context.Context, s walkStep) (stop bool, err error)
}

// walkStep is what one step of a walk works with.
type walkStep struct {
	t     didrouter.Task
	wfRow didrouter.Workflow
	wf    *routing.Workflow
	attrs routing.Attributes
	wi    *wsIndex
}

// errLongWalk ends a walk that took maxRouteSteps steps. Each caller says
// what that means for its task.
var errLongWalk = errors.New("too many routing steps")

// walk moves the task of w along its workflow until a worker is reserved
// (the reservation is returned) or the task waits (nil). exclude, when not
// nil, names workers the task must not be offered to.
func walk(ctx context.Context, w walker, exclude func(workerSID string) bool) (*reserved, error) {
	for range maxRouteSteps {
		s, done, err := w.current(ctx)
		if err != nil || done {
			return nil, err
		}
		tgt, ok := targetAt(s.wf, s.t.FilterIndex, s.t.TargetIndex)
		if !ok {
			if stop, err := w.lost(ctx, s); err != nil || stop {
				return nil, err
			}
			continue
		}
		r, err := offer(ctx, w, s, &tgt, exclude)
		switch {
		case errors.Is(err, errTaskMoved):
			continue // someone else moved it: look again
		case err != nil:
			return nil, err
		case r != nil:
			return r, nil
		}
		// Nobody reservable now. skip_if is only ever evaluated here, so a
		// task that waits keeps waiting at this target until a worker frees
		// up or the step times out.
		if !skipHolds(s.wi, &tgt, s.attrs) {
			return nil, nil
		}
		if _, _, ok := nextPosition(s.wf, s.t.FilterIndex, s.t.TargetIndex, s.attrs, true); !ok {
			return nil, nil // nowhere to skip to: wait here
		}
		if err := w.skip(ctx, s); err != nil && !errors.Is(err, errTaskMoved) {
			return nil, err
		}
	}
	return nil, errLongWalk
}

// offer offers the task to the best eligible workers in turn until a claim
// succeeds. A failed claim means the index was stale for that worker, so the
// index is asked again, at most three times.
func offer(ctx context.Context, w walker, s walkStep, tgt *routing.Target, exclude func(string) bool) (*reserved, error) {
	tried := make(map[string]bool)
	skip := func(sid string) bool {
		return tried[sid] || slices.Contains(s.t.RejectedWorkers, sid) || (exclude != nil && exclude(sid))
	}
	for range 3 {
		s.wi.mu.RLock()
		cands := s.wi.ix.EligibleOn(capacityOf(s.t.TaskChannel), tgt, s.attrs, skip, candidatesPerRound)
		s.wi.mu.RUnlock()
		if len(cands) == 0 {
			return nil, nil
		}
		for _, c := range cands {
			tried[c.SID] = true
			if r, err := w.claim(ctx, s, c); err != nil || r != nil {
				return r, err
			}
		}
	}
	return nil, nil
}

// skipHolds evaluates the target's skip_if with its queue's worker counts.
func skipHolds(wi *wsIndex, tgt *routing.Target, attrs routing.Attributes) bool {
	if tgt.SkipIf == nil {
		return false
	}
	wi.mu.RLock()
	stats, _ := wi.ix.QueueStats(tgt.Queue)
	wi.mu.RUnlock()
	return tgt.ShouldSkip(attrs, stats)
}

// storeWalk walks a committed task. Every step reads the task again, and
// every claim or skip is a transaction of its own, because other callers and
// instances may move the task meanwhile.
type storeWalk struct {
	e     *Engine
	ws    string
	task  string
	known *didrouter.Task // the task just read or written, used by the first step
}

func (w *storeWalk) current(ctx context.Context) (walkStep, bool, error) {
	var t didrouter.Task
	if w.known != nil {
		t, w.known = *w.known, nil
	} else {
		var err error
		if t, err = w.e.store.GetTask(ctx, w.ws, w.task); err != nil {
			return walkStep{}, false, fmt.Errorf("read task %s: %w", w.task, err)
		}
	}
	if t.AssignmentStatus != didrouter.TaskPending {
		return walkStep{}, true, nil
	}
	wfRow, wf, err := w.e.workflow(ctx, w.ws, t.WorkflowSID)
	if err != nil {
		return walkStep{}, false, err
	}
	attrs, err := routing.ParseAttributes([]byte(t.Attributes))
	if err != nil {
		return walkStep{}, false, didrouter.Errorf(didrouter.EINVALID, "task %s attributes: %v", t.SID, err)
	}
	wi, err := w.e.index(ctx, w.ws)
	if err != nil {
		return walkStep{}, false, err
	}
	return walkStep{t: t, wfRow: wfRow, wf: wf, attrs: attrs, wi: wi}, false, nil
}

func (w *storeWalk) claim(ctx context.Context, s walkStep, c routing.WorkerInfo) (*reserved, error) {
	r, err := w.e.reserve(ctx, s.wfRow, s.t, c.SID)
	if !errors.Is(err, errWorkerTaken) {
		return r, err
	}
	// Re-read the worker so that the index stops offering it.
	_, _, err = w.e.refreshWorker(ctx, w.ws, c.SID)
	return nil, err
}

func (w *storeWalk) skip(ctx context.Context, s walkStep) error {
	// A skip frees nobody, so the only follow-up is the walk routing the
	// task again at its new target.
	_, err := w.e.tx(ctx, func(tx didrouter.Tx, fx *effects) error {
		cur, err := lockAt(ctx, tx, s.t)
		if err != nil {
			return err
		}
		return w.e.moveOn(ctx, tx, fx, s.wf, cur, s.attrs, moveSkip)
	})
	if err != nil && !errors.Is(err, errTaskMoved) {
		return fmt.Errorf("skip task %s to its next target: %w", w.task, err)
	}
	return err
}

func (w *storeWalk) lost(ctx context.Context, s walkStep) (bool, error) {
	// The workflow was edited under the task: enter it afresh.
	if err := w.e.reposition(ctx, s.wfRow, s.wf, s.t, s.attrs); err != nil && !errors.Is(err, errTaskMoved) {
		return true, err
	}
	return false, nil
}

// lockAt reads task t again inside tx, which locks it, and returns it when
// it is still pending at the position t was read at. Otherwise someone
// moved it meanwhile: errTaskMoved.
func lockAt(ctx context.Context, tx didrouter.Tx, t didrouter.Task) (didrouter.Task, error) {
	cur, err := tx.GetTask(ctx, t.WorkspaceSID, t.SID)
	if err != nil {
		return didrouter.Task{}, fmt.Errorf("read task %s: %w", t.SID, err)
	}
	if cur.AssignmentStatus != didrouter.TaskPending || cur.FilterIndex != t.FilterIndex || cur.TargetIndex != t.TargetIndex {
		return didrouter.Task{}, errTaskMoved
	}
	return cur, nil
}

// txWalk walks a new task inside the transaction that creates it. The task
// is not stored yet: nobody else can move it meanwhile, and the task in
// memory is the task as it will be stored. It is written once, when the
// walk ends: reserved with its reservation, or pending where it waits.
type txWalk struct {
	e     *Engine
	tx    didrouter.Tx
	fx    *effects
	wfRow didrouter.Workflow
	wf    *routing.Workflow
	attrs routing.Attributes
	wi    *wsIndex
	t     *didrouter.Task
	stale []string // workers whose claim failed: their index entries are stale
}

func (w *txWalk) current(context.Context) (walkStep, bool, error) {
	return walkStep{t: *w.t, wfRow: w.wfRow, wf: w.wf, attrs: w.attrs, wi: w.wi}, false, nil
}

func (w *txWalk) claim(ctx context.Context, s walkStep, c routing.WorkerInfo) (*reserved, error) {
	r, err := w.e.reserveLocked(ctx, w.tx, w.fx, s.wfRow, s.t, c.SID, true)
	switch {
	case err == nil:
		*w.t = r.task
		return r, nil
	case errors.Is(err, errWorkerTaken):
		// Refreshed after commit: a read here would wait on nothing new.
		w.stale = append(w.stale, c.SID)
		return nil, nil
	case errors.Is(err, errTaskMoved):
		// The task is inserted by this transaction, so another live
		// reservation is a bug. It must not be retried inside the same
		// transaction, where the worker is already claimed.
		return nil, fmt.Errorf("reserve new task %s: it already has a live reservation", s.t.SID)
	default:
		return nil, err
	}
}

// skip moves the task on in memory: it is written when the walk ends.
// The caller routes a task that waits after commit, so moveOn's follow-ups
// are not needed here.
func (w *txWalk) skip(ctx context.Context, s walkStep) error {
	filter, target, ok := nextPosition(s.wf, s.t.FilterIndex, s.t.TargetIndex, s.attrs, true)
	if !ok {
		return errTaskMoved // walk checked it first: cannot happen
	}
	t := s.t
	if err := w.e.enterNext(ctx, w.tx, w.fx, s.wf, &t, filter, target, moveSkip, w.e.clock.Now()); err != nil {
		return err
	}
	*w.t = t
	return nil
}

// lost cannot happen to a task just placed from the same workflow; the
// task then waits, and route handles it after commit.
func (w *txWalk) lost(context.Context, walkStep) (bool, error) { return true, nil }

// placeNew routes a new task inside the transaction that creates it, as
// route would after commit, and stores it. A new call then costs one
// transaction instead of one to store it, one per skip and one to reserve,
// and its task row is written once, not inserted and then updated.
//
// It returns the reservation made (nil: the task waits where t now is) and
// the workers whose claim failed, whose index entries are stale. t is
// updated to the task as stored. When the call already has a task, the
// error is a *callHasTask and the transaction must roll back.
func (e *Engine) placeNew(ctx context.Context, tx didrouter.Tx, fx *effects, wfRow didrouter.Workflow, wf *routing.Workflow, t *didrouter.Task, attrs routing.Attributes) (*reserved, []string, error) {
	var stale []string
	if !e.paused.Load() { // paused: ResumeRouting serves it
		wi, err := e.index(ctx, t.WorkspaceSID)
		if err != nil {
			return nil, nil, err
		}
		w := &txWalk{e: e, tx: tx, fx: fx, wfRow: wfRow, wf: wf, attrs: attrs, wi: wi, t: t}
		r, err := walk(ctx, w, nil)
		switch {
		case r != nil:
			return r, w.stale, nil
		case err != nil && !errors.Is(err, errLongWalk): // a workflow this long waits; route goes on after commit
			return nil, w.stale, err
		}
		stale = w.stale
	}
	stored, err := storeNew(ctx, tx, *t)
	if err != nil {
		return nil, stale, err
	}
	*t = stored
	return nil, stale, nil
}

// callHasTask is placeNew's answer when the call already has a task: a
// concurrent or earlier transaction stored it first.
type callHasTask struct{ task didrouter.Task }

func (c *callHasTask) Error() string {
	return fmt.Sprintf("call %s already has task %s", c.task.CallSID, c.task.SID)
}

// storeNew inserts the new task t. When its call already has a task, the
// error is a *callHasTask carrying that task.
func storeNew(ctx context.Context, tx didrouter.Tx, t didrouter.Task) (didrouter.Task, error) {
	stored, created, err := tx.InsertTask(ctx, t)
	if err != nil {
		return didrouter.Task{}, fmt.Errorf("insert task: %w", err)
	}
	if !created {
		return didrouter.Task{}, &callHasTask{task: stored}
	}
	return stored, nil
}

// taskDraft is a TaskInsert checked against its workflow. CreateTask and
// Degraded.Route both build their task from one, so that both refuse the
// same input with the same message.
type taskDraft struct {
	wsSID   string
	wfRow   didrouter.Workflow
	wf      *routing.Workflow
	raw     string // the attributes as stored, "{}" when empty
	attrs   routing.Attributes
	filter  int // the task starts at the first target of this filter
	timeout int
	channel string
	n       TaskInsert
}

// draftTask checks n against the workflow it enters. Bad input is EINVALID.
func draftTask(wsSID string, wfRow didrouter.Workflow, wf *routing.Workflow, n TaskInsert) (taskDraft, error) {
	raw, attrs, err := parseTaskAttributes(n.Attributes)
	if err != nil {
		return taskDraft{}, err
	}
	filter, ok := firstPosition(wf, attrs)
	if !ok {
		return taskDraft{}, didrouter.Errorf(didrouter.EINVALID, "the task matches no filter of workflow %s, which has no default_filter", wfRow.SID)
	}
	timeout := n.Timeout
	if timeout == 0 {
		timeout = DefaultTaskTimeout
	}
	if timeout < 1 || timeout > MaxTaskTimeout {
		return taskDraft{}, didrouter.Errorf(didrouter.EINVALID, "timeout must be between 1 and %d seconds, not %d", MaxTaskTimeout, n.Timeout)
	}
	if n.Priority < 0 {
		return taskDraft{}, didrouter.Errorf(didrouter.EINVALID, "priority must not be negative, not %d", n.Priority)
	}
	channel := n.TaskChannel
	if channel == "" {
		channel = DefaultTaskChannel
	}
	return taskDraft{wsSID: wsSID, wfRow: wfRow, wf: wf, raw: raw, attrs: attrs, filter: filter,
		timeout: timeout, channel: channel, n: n}, nil
}

// task is the new task, pending at its first target since now.
func (d taskDraft) task(now time.Time) didrouter.Task {
	first, _ := targetAt(d.wf, d.filter, 0)
	t := didrouter.Task{
		SID: didrouter.NewSID(didrouter.PrefixTask), WorkspaceSID: d.wsSID, WorkflowSID: d.wfRow.SID, Attributes: d.raw,
		AssignmentStatus: didrouter.TaskPending, Priority: d.n.Priority, Timeout: d.timeout, TaskChannel: d.channel,
		CallSID: d.n.CallSID, FilterIndex: d.filter, TargetIndex: 0, TaskQueueSID: first.Queue,
		StepEnteredAt: now, RejectedWorkers: []string{}, DateCreated: now, DateUpdated: now,
	}
	if first.Priority != nil {
		t.Priority = *first.Priority
	}
	return t
}

// parseTaskAttributes parses a new task's attributes, "" meaning {}. raw is
// the form stored.
func parseTaskAttributes(s string) (raw string, attrs routing.Attributes, err error) {
	raw = strings.TrimSpace(s)
	if raw == "" {
		raw = "{}"
	}
	if attrs, err = routing.ParseAttributes([]byte(raw)); err != nil {
		return "", nil, didrouter.Errorf(didrouter.EINVALID, "attributes: %v", err)
	}
	return raw, attrs, nil
}

// emitFunc records one event of a routing step. In a transaction the event
// is stored with the rest of the step; in degraded mode it is kept in memory
// for the journal.
type emitFunc func(ev didrouter.Event, data map[string]any) error

// txEmit stores events in tx, dated now.
func (e *Engine) txEmit(ctx context.Context, tx didrouter.Tx) emitFunc {
	return func(ev didrouter.Event, data map[string]any) error { return e.event(ctx, tx, ev, data) }
}

// newEvent gives ev a sid, its date (now unless set) and its data as JSON.
func newEvent(ev didrouter.Event, data map[string]any, now time.Time) (didrouter.Event, error) {
	ev.SID = didrouter.NewSID(didrouter.PrefixEvent)
	if ev.Date.IsZero() {
		ev.Date = now
	}
	ev.Data = "{}"
	if data != nil {
		b, err := json.Marshal(data)
		if err != nil {
			return didrouter.Event{}, err
		}
		ev.Data = string(b)
	}
	return ev, nil
}

// degradedNote ends the description of an event decided without the store,
// so that a reader of the history can tell.
const degradedNote = " (store unreachable)"

// emitTaskCreated emits task.created for a new task.
func emitTaskCreated(emit emitFunc, t didrouter.Task, degraded bool) error {
	data := map[string]any{"workflow_sid": t.WorkflowSID, "task_priority": t.Priority, "call_sid": t.CallSID}
	desc := fmt.Sprintf("Task %s created", t.SID)
	if degraded {
		data["degraded"], desc = true, desc+degradedNote
	}
	return emit(taskEvent(t, didrouter.EventTaskCreated, desc), data)
}

// emitReservationCreated emits reservation.created for r, made for the
// worker named workerName while t waited in its queue.
func emitReservationCreated(emit emitFunc, r didrouter.Reservation, t didrouter.Task, workerName string, degraded bool) error {
	data := map[string]any{"task_queue_sid": t.TaskQueueSID, "task_priority": t.Priority}
	desc := fmt.Sprintf("Reservation %s created for worker %s", r.SID, workerName)
	if degraded {
		data["degraded"], desc = true, desc+degradedNote
	}
	return emit(reservationEvent(r, didrouter.EventReservationCreated, desc), data)
}

// newReservation is the pending reservation of task t for workerSID, with
// the workflow's reservation timeout.
func newReservation(wfRow didrouter.Workflow, t didrouter.Task, workerSID string, now time.Time) didrouter.Reservation {
	timeout := wfRow.TaskReservationTimeout
	if timeout <= 0 {
		timeout = DefaultReservationTimeout
	}
	return didrouter.Reservation{
		SID: didrouter.NewSID(didrouter.PrefixReservation), WorkspaceSID: t.WorkspaceSID, TaskSID: t.SID, WorkerSID: workerSID,
		Status: didrouter.ReservationPending, Timeout: timeout, DateCreated: now, DateUpdated: now,
	}
}

// enterPosition places t, in memory, at a position of wf since now, and
// emits workflow.target-matched and task-queue.entered. The caller writes
// the task and sets its timers.
func enterPosition(emit emitFunc, wf *routing.Workflow, t *didrouter.Task, filter, target int, now time.Time) (routing.Target, error) {
	tgt, ok := targetAt(wf, filter, target)
	if !ok {
		return routing.Target{}, fmt.Errorf("enter target %d of filter %d: no such target", target, filter)
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
	if err := emit(taskEvent(*t, didrouter.EventWorkflowTargetMatched,
		fmt.Sprintf("Task %s matched target %d of %q", t.SID, target, filterName)),
		map[string]any{"filter": filter, "filter_friendly_name": filterName, "target": target,
			"task_queue_sid": tgt.Queue, "target_expression": tgt.ExprSrc}); err != nil {
		return routing.Target{}, err
	}
	if err := emit(taskEvent(*t, didrouter.EventTaskQueueEntered,
		fmt.Sprintf("Task %s entered queue %s", t.SID, tgt.Queue)),
		map[string]any{"task_queue_sid": tgt.Queue, "task_priority": t.Priority}); err != nil {
		return routing.Target{}, err
	}
	return tgt, nil
}

// emitLeft emits the event of t leaving its current target, which is
// workflow.skipped for a skip and task-queue.timeout for a timeout.
func emitLeft(emit emitFunc, t didrouter.Task, why moveReason) error {
	typ := didrouter.EventWorkflowSkipped
	if why == moveTimeout {
		typ = didrouter.EventTaskQueueTimeout
	}
	return emit(taskEvent(t, typ, fmt.Sprintf("Task %s %s target %d of filter %d (queue %s)",
		t.SID, why, t.TargetIndex, t.FilterIndex, t.TaskQueueSID)),
		map[string]any{"task_queue_sid": t.TaskQueueSID, "filter": t.FilterIndex, "target": t.TargetIndex})
}

// emitMoved emits task-queue.moved for t, which left queue from for why.
func emitMoved(emit emitFunc, t didrouter.Task, from, why string) error {
	return emit(taskEvent(t, didrouter.EventTaskQueueMoved,
		fmt.Sprintf("Task %s moved from queue %s to queue %s (%s)", t.SID, from, t.TaskQueueSID, why)),
		map[string]any{"previous_task_queue_sid": from, "task_queue_sid": t.TaskQueueSID, "reason": why})
}
