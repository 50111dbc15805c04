package sqlstore

import (
	"context"

	"github.com/didrouter/didrouter"
)

const taskQueueCols = `sid, workspace_sid, friendly_name, target_workers, task_order, max_reserved_workers,
	date_created, date_updated`

func scanTaskQueue(r Row) (didrouter.TaskQueue, error) {
	var q didrouter.TaskQueue
	err := r.Scan(&q.SID, &q.WorkspaceSID, &q.FriendlyName, &q.TargetWorkers, &q.TaskOrder, &q.MaxReservedWorkers,
		scanTime(&q.DateCreated), scanTime(&q.DateUpdated))
	return q, err
}

func (q *Queries) GetTaskQueue(ctx context.Context, workspaceSID, sid string) (didrouter.TaskQueue, error) {
	return getShared(ctx, q, scanTaskQueue, "task queue", sid,
		`SELECT `+taskQueueCols+` FROM task_queues WHERE workspace_sid = $1 AND sid = $2`, workspaceSID, sid)
}

func (q *Queries) ListTaskQueues(ctx context.Context, workspaceSID string) ([]didrouter.TaskQueue, error) {
	return list(ctx, q, scanTaskQueue, "task queues",
		`SELECT `+taskQueueCols+` FROM task_queues WHERE workspace_sid = $1 ORDER BY date_created, sid`, workspaceSID)
}

func (t *Tx) notifyTaskQueue(ctx context.Context, workspaceSID, sid string) error {
	return t.Notify(ctx, didrouter.Change{Kind: didrouter.ChangeTaskQueue, WorkspaceSID: workspaceSID, SID: sid})
}

func (t *Tx) InsertTaskQueue(ctx context.Context, q didrouter.TaskQueue) error {
	err := t.insert(ctx, "task queue", q.SID, q.WorkspaceSID, `INSERT INTO task_queues (`+taskQueueCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		q.SID, q.WorkspaceSID, q.FriendlyName, q.TargetWorkers, q.TaskOrder, q.MaxReservedWorkers,
		t.timeArg(q.DateCreated), t.timeArg(q.DateUpdated))
	if err != nil {
		return err
	}
	return t.notifyTaskQueue(ctx, q.WorkspaceSID, q.SID)
}

func (t *Tx) UpdateTaskQueue(ctx context.Context, q didrouter.TaskQueue) error {
	err := t.execOne(ctx, "task queue", q.SID, `UPDATE task_queues SET friendly_name = $3, target_workers = $4,
		task_order = $5, max_reserved_workers = $6, date_updated = $7
		WHERE workspace_sid = $1 AND sid = $2`,
		q.WorkspaceSID, q.SID, q.FriendlyName, q.TargetWorkers, q.TaskOrder, q.MaxReservedWorkers, t.timeArg(q.DateUpdated))
	if err != nil {
		return err
	}
	return t.notifyTaskQueue(ctx, q.WorkspaceSID, q.SID)
}

func (t *Tx) DeleteTaskQueue(ctx context.Context, workspaceSID, sid string) error {
	if err := t.execOne(ctx, "task queue", sid, `DELETE FROM task_queues WHERE workspace_sid = $1 AND sid = $2`,
		workspaceSID, sid); err != nil {
		return err
	}
	return t.notifyTaskQueue(ctx, workspaceSID, sid)
}
