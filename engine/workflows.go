package engine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/routing"
)

// cachedWorkflow is a parsed workflow configuration, valid while the stored
// row's DateUpdated is unchanged.
type cachedWorkflow struct {
	updated time.Time
	row     didrouter.Workflow
	parsed  *routing.Workflow
}

// workflow returns the stored workflow and its parsed configuration.
func (e *Engine) workflow(ctx context.Context, workspaceSID, sid string) (didrouter.Workflow, *routing.Workflow, error) {
	return e.workflowIn(ctx, e.store, workspaceSID, sid)
}

// workflowIn is workflow reading through r. Inside a transaction r must be
// the Tx, because a second connection could wait for the transaction's own
// locks.
//
// While subscribed to the change feed, the cache is trusted without a
// read. A ChangeWorkflow from anywhere evicts it, and a lost feed resyncs.
// Otherwise the row is read and the parse reused while it is unchanged.
func (e *Engine) workflowIn(ctx context.Context, r didrouter.Reader, workspaceSID, sid string) (didrouter.Workflow, *routing.Workflow, error) {
	e.wfMu.Lock()
	c, ok := e.flows[sid]
	e.wfMu.Unlock()
	if ok && c.row.WorkspaceSID == workspaceSID && e.subscribed.Load() {
		return c.row, c.parsed, nil
	}
	row, err := r.GetWorkflow(ctx, workspaceSID, sid)
	if err != nil {
		return didrouter.Workflow{}, nil, fmt.Errorf("read workflow %s: %w", sid, err)
	}
	if ok && c.updated.Equal(row.DateUpdated) && c.row.Configuration == row.Configuration {
		return row, c.parsed, nil
	}
	parsed, err := routing.ParseWorkflow([]byte(row.Configuration), queueExists(ctx, r, workspaceSID))
	if err != nil {
		// A stored workflow stops parsing when a queue it names is
		// deleted. It cannot route, so the error says which and why.
		return didrouter.Workflow{}, nil, didrouter.Errorf(didrouter.EINVALID, "workflow %s configuration: %v", sid, err)
	}
	e.wfMu.Lock()
	e.flows[sid] = cachedWorkflow{updated: row.DateUpdated, row: row, parsed: parsed}
	e.wfMu.Unlock()
	return row, parsed, nil
}

func (e *Engine) forgetWorkflow(sid string) {
	e.wfMu.Lock()
	delete(e.flows, sid)
	e.wfMu.Unlock()
}

func (e *Engine) forgetWorkflows() {
	e.wfMu.Lock()
	clear(e.flows)
	e.wfMu.Unlock()
}

func queueExists(ctx context.Context, r didrouter.Reader, workspaceSID string) func(string) bool {
	return func(sid string) bool {
		_, err := r.GetTaskQueue(ctx, workspaceSID, sid)
		return err == nil
	}
}

// TaskQueueInsert is the input of CreateTaskQueue.
type TaskQueueInsert struct {
	FriendlyName       string
	TargetWorkers      string // "" = "1==1" (every worker)
	TaskOrder          string // "" = FIFO
	MaxReservedWorkers int    // 0 = 1
}

// TaskQueueUpdate is the input of UpdateTaskQueue; nil fields are unchanged.
type TaskQueueUpdate struct {
	FriendlyName       *string
	TargetWorkers      *string
	TaskOrder          *string
	MaxReservedWorkers *int
}

func validateTaskQueue(q *didrouter.TaskQueue) error {
	q.FriendlyName = strings.TrimSpace(q.FriendlyName)
	if q.FriendlyName == "" {
		return didrouter.Errorf(didrouter.EINVALID, "friendly_name is required")
	}
	if strings.TrimSpace(q.TargetWorkers) == "" {
		q.TargetWorkers = "1==1"
	}
	if _, err := routing.Compile(q.TargetWorkers, routing.ScopeWorker); err != nil {
		return didrouter.Errorf(didrouter.EINVALID, "target_workers: %v", err)
	}
	switch strings.ToUpper(q.TaskOrder) {
	case "", didrouter.TaskOrderFIFO:
		q.TaskOrder = didrouter.TaskOrderFIFO
	case didrouter.TaskOrderLIFO:
		q.TaskOrder = didrouter.TaskOrderLIFO
	default:
		return didrouter.Errorf(didrouter.EINVALID, "task_order must be FIFO or LIFO, not %q", q.TaskOrder)
	}
	if q.MaxReservedWorkers == 0 {
		q.MaxReservedWorkers = 1
	}
	if q.MaxReservedWorkers < 1 || q.MaxReservedWorkers > 50 {
		return didrouter.Errorf(didrouter.EINVALID, "max_reserved_workers must be between 1 and 50, not %d", q.MaxReservedWorkers)
	}
	return nil
}

// CreateTaskQueue validates and stores a task queue and adds it to the index.
func (e *Engine) CreateTaskQueue(ctx context.Context, workspaceSID string, n TaskQueueInsert) (didrouter.TaskQueue, error) {
	now := e.clock.Now()
	q := didrouter.TaskQueue{
		SID:                didrouter.NewSID(didrouter.PrefixTaskQueue),
		WorkspaceSID:       workspaceSID,
		FriendlyName:       n.FriendlyName,
		TargetWorkers:      n.TargetWorkers,
		TaskOrder:          n.TaskOrder,
		MaxReservedWorkers: n.MaxReservedWorkers,
		DateCreated:        now,
		DateUpdated:        now,
	}
	if err := validateTaskQueue(&q); err != nil {
		return didrouter.TaskQueue{}, err
	}
	if _, err := e.store.GetWorkspace(ctx, workspaceSID); err != nil {
		return didrouter.TaskQueue{}, fmt.Errorf("create task queue: read workspace %s: %w", workspaceSID, err)
	}
	err := e.store.Tx(ctx, func(tx didrouter.Tx) error {
		if err := tx.InsertTaskQueue(ctx, q); err != nil {
			return fmt.Errorf("insert task queue: %w", err)
		}
		return nil
	})
	if err != nil {
		return didrouter.TaskQueue{}, fmt.Errorf("create task queue: %w", err)
	}
	if err := e.setQueue(ctx, q); err != nil {
		return didrouter.TaskQueue{}, err
	}
	e.serveWaitingLogged(ctx, workspaceSID)
	return q, nil
}

// UpdateTaskQueue validates and applies u, then re-serves waiting tasks:
// the queue's members may have changed.
func (e *Engine) UpdateTaskQueue(ctx context.Context, workspaceSID, sid string, u TaskQueueUpdate) (didrouter.TaskQueue, error) {
	var q didrouter.TaskQueue
	err := e.store.Tx(ctx, func(tx didrouter.Tx) error {
		var err error
		q, err = tx.GetTaskQueue(ctx, workspaceSID, sid)
		if err != nil {
			return fmt.Errorf("read task queue %s: %w", sid, err)
		}
		setIf(&q.FriendlyName, u.FriendlyName)
		setIf(&q.TargetWorkers, u.TargetWorkers)
		setIf(&q.TaskOrder, u.TaskOrder)
		setIf(&q.MaxReservedWorkers, u.MaxReservedWorkers)
		if err := validateTaskQueue(&q); err != nil {
			return err
		}
		q.DateUpdated = e.clock.Now()
		if err := tx.UpdateTaskQueue(ctx, q); err != nil {
			return fmt.Errorf("update task queue %s: %w", sid, err)
		}
		return nil
	})
	if err != nil {
		return didrouter.TaskQueue{}, fmt.Errorf("update task queue: %w", err)
	}
	if err := e.setQueue(ctx, q); err != nil {
		return didrouter.TaskQueue{}, err
	}
	e.serveWaitingLogged(ctx, workspaceSID)
	return q, nil
}

// DeleteTaskQueue deletes a queue that no workflow of the workspace targets.
func (e *Engine) DeleteTaskQueue(ctx context.Context, workspaceSID, sid string) error {
	flows, err := e.store.ListWorkflows(ctx, workspaceSID)
	if err != nil {
		return fmt.Errorf("list workflows: %w", err)
	}
	for _, wf := range flows {
		if strings.Contains(wf.Configuration, sid) {
			return didrouter.Errorf(didrouter.ECONFLICT, "task queue %s is used by workflow %s (%s)", sid, wf.SID, wf.FriendlyName)
		}
	}
	err = e.store.Tx(ctx, func(tx didrouter.Tx) error {
		if err := tx.DeleteTaskQueue(ctx, workspaceSID, sid); err != nil {
			return fmt.Errorf("delete task queue %s: %w", sid, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete task queue: %w", err)
	}
	if wi, err := e.index(ctx, workspaceSID); err == nil {
		wi.mu.Lock()
		wi.ix.RemoveQueue(sid)
		wi.mu.Unlock()
	}
	return nil
}

// WorkflowInsert is the input of CreateWorkflow.
type WorkflowInsert struct {
	FriendlyName                  string
	Configuration                 string // TaskRouter workflow configuration JSON
	TaskReservationTimeout        int    // seconds; 0 = 120
	AssignmentCallbackURL         string
	FallbackAssignmentCallbackURL string
}

// WorkflowUpdate is the input of UpdateWorkflow; nil fields are unchanged.
type WorkflowUpdate struct {
	FriendlyName                  *string
	Configuration                 *string
	TaskReservationTimeout        *int
	AssignmentCallbackURL         *string
	FallbackAssignmentCallbackURL *string
}

func (e *Engine) validateWorkflow(ctx context.Context, r didrouter.Reader, w *didrouter.Workflow) error {
	w.FriendlyName = strings.TrimSpace(w.FriendlyName)
	if w.FriendlyName == "" {
		return didrouter.Errorf(didrouter.EINVALID, "friendly_name is required")
	}
	if w.TaskReservationTimeout == 0 {
		w.TaskReservationTimeout = DefaultReservationTimeout
	}
	if w.TaskReservationTimeout < 1 || w.TaskReservationTimeout > 86400 {
		return didrouter.Errorf(didrouter.EINVALID, "task_reservation_timeout must be between 1 and 86400 seconds, not %d", w.TaskReservationTimeout)
	}
	if strings.TrimSpace(w.Configuration) == "" {
		return didrouter.Errorf(didrouter.EINVALID, "configuration is required")
	}
	if _, err := routing.ParseWorkflow([]byte(w.Configuration), queueExists(ctx, r, w.WorkspaceSID)); err != nil {
		return didrouter.Errorf(didrouter.EINVALID, "configuration: %v", err)
	}
	return nil
}

// CreateWorkflow validates and stores a workflow.
func (e *Engine) CreateWorkflow(ctx context.Context, workspaceSID string, n WorkflowInsert) (didrouter.Workflow, error) {
	now := e.clock.Now()
	w := didrouter.Workflow{
		SID:                           didrouter.NewSID(didrouter.PrefixWorkflow),
		WorkspaceSID:                  workspaceSID,
		FriendlyName:                  n.FriendlyName,
		Configuration:                 n.Configuration,
		TaskReservationTimeout:        n.TaskReservationTimeout,
		AssignmentCallbackURL:         n.AssignmentCallbackURL,
		FallbackAssignmentCallbackURL: n.FallbackAssignmentCallbackURL,
		DateCreated:                   now,
		DateUpdated:                   now,
	}
	if _, err := e.store.GetWorkspace(ctx, workspaceSID); err != nil {
		return didrouter.Workflow{}, fmt.Errorf("create workflow: read workspace %s: %w", workspaceSID, err)
	}
	if err := e.validateWorkflow(ctx, e.store, &w); err != nil {
		return didrouter.Workflow{}, err
	}
	err := e.store.Tx(ctx, func(tx didrouter.Tx) error {
		if err := tx.InsertWorkflow(ctx, w); err != nil {
			return fmt.Errorf("insert workflow: %w", err)
		}
		return nil
	})
	if err != nil {
		return didrouter.Workflow{}, fmt.Errorf("create workflow: %w", err)
	}
	return w, nil
}

// UpdateWorkflow validates and applies u. Tasks already in the workflow keep
// their position; they follow the new configuration from their next step on.
func (e *Engine) UpdateWorkflow(ctx context.Context, workspaceSID, sid string, u WorkflowUpdate) (didrouter.Workflow, error) {
	var w didrouter.Workflow
	err := e.store.Tx(ctx, func(tx didrouter.Tx) error {
		var err error
		w, err = tx.GetWorkflow(ctx, workspaceSID, sid)
		if err != nil {
			return fmt.Errorf("read workflow %s: %w", sid, err)
		}
		setIf(&w.FriendlyName, u.FriendlyName)
		setIf(&w.Configuration, u.Configuration)
		setIf(&w.TaskReservationTimeout, u.TaskReservationTimeout)
		setIf(&w.AssignmentCallbackURL, u.AssignmentCallbackURL)
		setIf(&w.FallbackAssignmentCallbackURL, u.FallbackAssignmentCallbackURL)
		if err := e.validateWorkflow(ctx, tx, &w); err != nil {
			return err
		}
		w.DateUpdated = e.clock.Now()
		if err := tx.UpdateWorkflow(ctx, w); err != nil {
			return fmt.Errorf("update workflow %s: %w", sid, err)
		}
		return nil
	})
	if err != nil {
		return didrouter.Workflow{}, fmt.Errorf("update workflow: %w", err)
	}
	e.forgetWorkflow(sid)
	e.serveWaitingLogged(ctx, workspaceSID)
	return w, nil
}

// DeleteWorkflow deletes a workflow that is not the workspace default and
// has no unfinished task.
func (e *Engine) DeleteWorkflow(ctx context.Context, workspaceSID, sid string) error {
	ws, err := e.store.GetWorkspace(ctx, workspaceSID)
	if err != nil {
		return fmt.Errorf("delete workflow: read workspace: %w", err)
	}
	if ws.DefaultWorkflowSID == sid {
		return didrouter.Errorf(didrouter.ECONFLICT, "workflow %s is the workspace's default workflow", sid)
	}
	live, err := e.store.ListTasks(ctx, workspaceSID, didrouter.TaskFilter{Page: didrouter.Page{Size: 1}, WorkflowSID: sid,
		AssignmentStatus: []string{didrouter.TaskPending, didrouter.TaskReserved, didrouter.TaskAssigned, didrouter.TaskWrapping}})
	if err != nil {
		return fmt.Errorf("delete workflow: list its tasks: %w", err)
	}
	if len(live) > 0 {
		return didrouter.Errorf(didrouter.ECONFLICT, "workflow %s still has unfinished tasks (for example %s)", sid, live[0].SID)
	}
	err = e.store.Tx(ctx, func(tx didrouter.Tx) error {
		if err := tx.DeleteWorkflow(ctx, workspaceSID, sid); err != nil {
			return fmt.Errorf("delete workflow %s: %w", sid, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete workflow: %w", err)
	}
	e.forgetWorkflow(sid)
	return nil
}

// CachedWorkflow returns a workflow from the engine's cache (kept current by
// the change feed while Start runs; read from the store otherwise), for
// callers on a call's path that would otherwise read it on every request.
func (e *Engine) CachedWorkflow(ctx context.Context, workspaceSID, sid string) (didrouter.Workflow, error) {
	row, _, err := e.workflow(ctx, workspaceSID, sid)
	return row, err
}

// setIf sets *dst to *v when an update gives v (a nil field leaves the
// value as it is).
func setIf[T any](dst, v *T) {
	if v != nil {
		*dst = *v
	}
}
