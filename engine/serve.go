package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/routing"
)

// serveWorker gives a worker that may have spare capacity the first waiting
// task, in service order (priority, then age: oldest first, newest first in
// a LIFO queue), whose current target the worker is eligible for, and more
// while the worker has room. Each task needs room on the capacity of its
// own channel. It returns the first reservation made, if any.
func (e *Engine) serveWorker(ctx context.Context, workspaceSID, workerSID string) (*reserved, error) {
	if e.paused.Load() {
		return nil, nil // ResumeRouting serves the waiting tasks
	}
	wi, err := e.index(ctx, workspaceSID)
	if err != nil {
		return nil, err
	}
	// freeOn reports whether the worker has room for a task of a channel,
	// or for any task when the channel is "".
	freeOn := func(channel string) bool {
		wi.mu.RLock()
		info, ok := wi.ix.Worker(workerSID)
		wi.mu.RUnlock()
		if channel == "" {
			return ok && (info.FreeOn(routing.Voice) || info.FreeOn(routing.Messages))
		}
		return ok && info.FreeOn(capacityOf(channel))
	}
	if !freeOn("") {
		return nil, nil
	}
	tasks, err := e.store.WaitingTasks(ctx, workspaceSID, waitingScan)
	if err != nil {
		return nil, fmt.Errorf("list waiting tasks: %w", err)
	}
	if tasks, err = e.serviceOrder(ctx, workspaceSID, tasks); err != nil {
		return nil, err
	}
	var (
		first    *reserved
		firstErr error
	)
	onlyThis := func(sid string) bool { return sid != workerSID }
	flows := workflowMemo{e: e, workspaceSID: workspaceSID}
	for _, t := range tasks {
		if slices.Contains(t.RejectedWorkers, workerSID) || !freeOn(t.TaskChannel) {
			continue
		}
		wfRow, wf, err := flows.get(ctx, t.WorkflowSID)
		if err != nil {
			firstErr = keepFirst(firstErr, err)
			continue // one broken workflow must not block other tasks
		}
		tgt, ok := targetAt(wf, t.FilterIndex, t.TargetIndex)
		if !ok {
			continue // its route call repositions it
		}
		attrs, err := routing.ParseAttributes([]byte(t.Attributes))
		if err != nil {
			continue
		}
		wi.mu.RLock()
		fits := len(wi.ix.EligibleOn(capacityOf(t.TaskChannel), &tgt, attrs, onlyThis, 1)) > 0
		wi.mu.RUnlock()
		if !fits {
			continue
		}
		r, err := e.reserve(ctx, wfRow, t, workerSID)
		switch {
		case err == nil:
			if first == nil {
				first = r
			}
			if !freeOn("") {
				return first, nil
			}
		case errors.Is(err, errTaskMoved):
			continue
		case errors.Is(err, errWorkerTaken):
			if _, _, err := e.refreshWorker(ctx, workspaceSID, workerSID); err != nil {
				return first, err
			}
			return first, nil
		default:
			return first, err
		}
	}
	return first, firstErr
}

func keepFirst(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// serveWaiting routes every waiting task again (after a change that can
// alter who is eligible: a queue, a workflow, an activity).
func (e *Engine) serveWaiting(ctx context.Context, workspaceSID string) error {
	tasks, err := e.store.WaitingTasks(ctx, workspaceSID, waitingScan)
	if err != nil {
		return fmt.Errorf("list waiting tasks: %w", err)
	}
	if tasks, err = e.serviceOrder(ctx, workspaceSID, tasks); err != nil {
		return err
	}
	var firstErr error
	for _, t := range tasks {
		if _, err := e.route(ctx, workspaceSID, t.SID); err != nil {
			firstErr = keepFirst(firstErr, err)
		}
	}
	return firstErr
}

// serveWaitingLogged is serveWaiting for callers whose own operation already
// succeeded: a routing failure is reported in the log, and the tasks wait
// for the next trigger.
func (e *Engine) serveWaitingLogged(ctx context.Context, workspaceSID string) {
	if err := e.serveWaiting(ctx, workspaceSID); err != nil {
		e.log.WarnContext(ctx, "serving waiting tasks failed", "workspace", workspaceSID, "err", err)
	}
}

// workflowMemo reads each workflow once for one pass over the waiting tasks.
type workflowMemo struct {
	e            *Engine
	workspaceSID string
	rows         map[string]didrouter.Workflow
	parsed       map[string]*routing.Workflow
	errs         map[string]error
}

func (m *workflowMemo) get(ctx context.Context, sid string) (didrouter.Workflow, *routing.Workflow, error) {
	if err, ok := m.errs[sid]; ok {
		return didrouter.Workflow{}, nil, err
	}
	if p, ok := m.parsed[sid]; ok {
		return m.rows[sid], p, nil
	}
	if m.rows == nil {
		m.rows, m.parsed, m.errs = map[string]didrouter.Workflow{}, map[string]*routing.Workflow{}, map[string]error{}
	}
	row, p, err := m.e.workflow(ctx, m.workspaceSID, sid)
	if err != nil {
		m.errs[sid] = err
		return didrouter.Workflow{}, nil, err
	}
	m.rows[sid], m.parsed[sid] = row, p
	return row, p, nil
}
