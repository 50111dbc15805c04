package sqlstore

import (
	"context"
	"strings"

	"github.com/didrouter/didrouter"
)

const taskCols = `sid, workspace_sid, workflow_sid, attributes, assignment_status, priority, timeout, task_channel,
	call_sid, reason, filter_index, target_index, task_queue_sid, step_entered_at, rejected_workers,
	date_created, date_updated, version`

func scanTask(r Row) (didrouter.Task, error) {
	var t didrouter.Task
	err := r.Scan(&t.SID, &t.WorkspaceSID, &t.WorkflowSID, &t.Attributes, &t.AssignmentStatus, &t.Priority, &t.Timeout,
		&t.TaskChannel, &t.CallSID, &t.Reason, &t.FilterIndex, &t.TargetIndex, &t.TaskQueueSID,
		scanTime(&t.StepEnteredAt), sidList{&t.RejectedWorkers}, scanTime(&t.DateCreated), scanTime(&t.DateUpdated),
		&t.Version)
	return t, err
}

func (q *Queries) GetTask(ctx context.Context, workspaceSID, sid string) (didrouter.Task, error) {
	return get(ctx, q, scanTask, "task", sid,
		`SELECT `+taskCols+` FROM tasks WHERE workspace_sid = $1 AND sid = $2`, workspaceSID, sid)
}

func (q *Queries) TaskByCallSID(ctx context.Context, workspaceSID, callSID string) (didrouter.Task, error) {
	if callSID == "" {
		return didrouter.Task{}, didrouter.Errorf(didrouter.ENOTFOUND, "no task has an empty call sid")
	}
	return get(ctx, q, scanTask, "task for call", callSID, TaskByCallSQL, workspaceSID, callSID)
}

// TaskByCallSQL finds a call's task. "call_sid <> ”" repeats the partial
// index's condition so that the planner can use the index with a bound
// value: without it SQLite scans the workspace's tasks on every webhook.
// Exported for the store's query-plan test.
const TaskByCallSQL = `SELECT ` + taskCols + ` FROM tasks WHERE workspace_sid = $1 AND call_sid = $2 AND call_sid <> ''`

func (q *Queries) ListTasks(ctx context.Context, workspaceSID string, f didrouter.TaskFilter) ([]didrouter.Task, error) {
	var a args
	var b strings.Builder
	b.WriteString(`SELECT ` + taskCols + ` FROM tasks WHERE workspace_sid = ` + a.add(workspaceSID))
	if len(f.AssignmentStatus) > 0 {
		b.WriteString(` AND assignment_status IN ` + a.in(f.AssignmentStatus))
	}
	if f.WorkflowSID != "" {
		b.WriteString(` AND workflow_sid = ` + a.add(f.WorkflowSID))
	}
	if f.TaskQueueSID != "" {
		b.WriteString(` AND task_queue_sid = ` + a.add(f.TaskQueueSID))
	}
	b.WriteString(pageClause(&a, "tasks", "date_created", f.Page, f.Newest))
	page, err := list(ctx, q, scanTask, "tasks", b.String(), a...)
	if err != nil {
		return nil, err
	}
	return checkCursor(ctx, q, page, "tasks", f.After)
}

// WaitingTasks returns up to limit pending tasks (every one when limit <= 0)
// in service order.
func (q *Queries) WaitingTasks(ctx context.Context, workspaceSID string, limit int) ([]didrouter.Task, error) {
	query := `SELECT ` + taskCols + ` FROM tasks WHERE workspace_sid = $1 AND assignment_status = 'pending'
		ORDER BY priority DESC, date_created, sid`
	if limit > 0 {
		return list(ctx, q, scanTask, "waiting tasks", query+` LIMIT $2`, workspaceSID, limit)
	}
	return list(ctx, q, scanTask, "waiting tasks", query, workspaceSID)
}

// InsertTask stores t (Version 0 is stored as 1) and returns the stored row.
// A task with the same CallSID wins: ON CONFLICT waits for a concurrent
// insert of the same call to commit, then the existing row is returned.
func (t *Tx) InsertTask(ctx context.Context, task didrouter.Task) (didrouter.Task, bool, error) {
	conflict := ""
	if task.CallSID != "" {
		conflict = ` ON CONFLICT (workspace_sid, call_sid) WHERE call_sid <> '' DO NOTHING`
	}
	stored, err := scanTask(t.db.QueryRow(ctx, `INSERT INTO tasks (`+taskCols+`, callback_number)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`+conflict+`
		RETURNING `+taskCols,
		task.SID, task.WorkspaceSID, task.WorkflowSID, task.Attributes, task.AssignmentStatus, task.Priority, task.Timeout,
		task.TaskChannel, task.CallSID, task.Reason, task.FilterIndex, task.TargetIndex, task.TaskQueueSID,
		t.timeArg(task.StepEnteredAt), sidListArg(task.RejectedWorkers), t.timeArg(task.DateCreated),
		t.timeArg(task.DateUpdated), max(task.Version, 1), didrouter.CallbackNumber(task.Attributes)))
	switch {
	case err == nil:
		return stored, true, nil
	case isNoRows(err) && task.CallSID != "":
		existing, err := t.TaskByCallSID(ctx, task.WorkspaceSID, task.CallSID)
		return existing, false, err
	default:
		return didrouter.Task{}, false, t.insertError(err, "task", task.SID, task.WorkspaceSID)
	}
}

func (t *Tx) UpdateTask(ctx context.Context, task didrouter.Task) (didrouter.Task, error) {
	stored, err := scanTask(t.db.QueryRow(ctx, `UPDATE tasks SET workflow_sid = $4, attributes = $5,
		assignment_status = $6, priority = $7, timeout = $8, task_channel = $9, reason = $10, filter_index = $11,
		target_index = $12, task_queue_sid = $13, step_entered_at = $14, rejected_workers = $15,
		date_updated = $16, callback_number = $17, version = version + 1
		WHERE workspace_sid = $1 AND sid = $2 AND version = $3
		RETURNING `+taskCols,
		task.WorkspaceSID, task.SID, task.Version, task.WorkflowSID, task.Attributes, task.AssignmentStatus,
		task.Priority, task.Timeout, task.TaskChannel, task.Reason, task.FilterIndex, task.TargetIndex,
		task.TaskQueueSID, t.timeArg(task.StepEnteredAt), sidListArg(task.RejectedWorkers), t.timeArg(task.DateUpdated),
		didrouter.CallbackNumber(task.Attributes)))
	if err == nil {
		return stored, nil
	}
	if !isNoRows(err) {
		return didrouter.Task{}, t.wrap(err, "update task %s", task.SID)
	}
	var version int64
	err = t.db.QueryRow(ctx, `SELECT version FROM tasks WHERE workspace_sid = $1 AND sid = $2`,
		task.WorkspaceSID, task.SID).Scan(&version)
	switch {
	case isNoRows(err):
		return didrouter.Task{}, didrouter.Errorf(didrouter.ENOTFOUND, "task %s not found", task.SID)
	case err != nil:
		return didrouter.Task{}, t.wrap(err, "read task %s", task.SID)
	default:
		return didrouter.Task{}, didrouter.Errorf(didrouter.ECONFLICT,
			"task %s was changed meanwhile (version %d, not %d)", task.SID, version, task.Version)
	}
}

// DeleteTask also deletes the task's reservations and timers.
func (t *Tx) DeleteTask(ctx context.Context, workspaceSID, sid string) error {
	if err := t.ClearTimers(ctx, workspaceSID, sid); err != nil {
		return err
	}
	return t.execOne(ctx, "task", sid, `DELETE FROM tasks WHERE workspace_sid = $1 AND sid = $2`, workspaceSID, sid)
}
