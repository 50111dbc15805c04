package sqlstore

import (
	"context"

	"github.com/didrouter/didrouter"
)

const workflowCols = `sid, workspace_sid, friendly_name, configuration, task_reservation_timeout,
	assignment_callback_url, fallback_assignment_callback_url, date_created, date_updated`

func scanWorkflow(r Row) (didrouter.Workflow, error) {
	var w didrouter.Workflow
	err := r.Scan(&w.SID, &w.WorkspaceSID, &w.FriendlyName, &w.Configuration, &w.TaskReservationTimeout,
		&w.AssignmentCallbackURL, &w.FallbackAssignmentCallbackURL, scanTime(&w.DateCreated), scanTime(&w.DateUpdated))
	return w, err
}

func (q *Queries) GetWorkflow(ctx context.Context, workspaceSID, sid string) (didrouter.Workflow, error) {
	return getShared(ctx, q, scanWorkflow, "workflow", sid,
		`SELECT `+workflowCols+` FROM workflows WHERE workspace_sid = $1 AND sid = $2`, workspaceSID, sid)
}

func (q *Queries) ListWorkflows(ctx context.Context, workspaceSID string) ([]didrouter.Workflow, error) {
	return list(ctx, q, scanWorkflow, "workflows",
		`SELECT `+workflowCols+` FROM workflows WHERE workspace_sid = $1 ORDER BY date_created, sid`, workspaceSID)
}

func (t *Tx) notifyWorkflow(ctx context.Context, workspaceSID, sid string) error {
	return t.Notify(ctx, didrouter.Change{Kind: didrouter.ChangeWorkflow, WorkspaceSID: workspaceSID, SID: sid})
}

func (t *Tx) InsertWorkflow(ctx context.Context, w didrouter.Workflow) error {
	err := t.insert(ctx, "workflow", w.SID, w.WorkspaceSID, `INSERT INTO workflows (`+workflowCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		w.SID, w.WorkspaceSID, w.FriendlyName, w.Configuration, w.TaskReservationTimeout,
		w.AssignmentCallbackURL, w.FallbackAssignmentCallbackURL, t.timeArg(w.DateCreated), t.timeArg(w.DateUpdated))
	if err != nil {
		return err
	}
	return t.notifyWorkflow(ctx, w.WorkspaceSID, w.SID)
}

func (t *Tx) UpdateWorkflow(ctx context.Context, w didrouter.Workflow) error {
	err := t.execOne(ctx, "workflow", w.SID, `UPDATE workflows SET friendly_name = $3, configuration = $4,
		task_reservation_timeout = $5, assignment_callback_url = $6, fallback_assignment_callback_url = $7,
		date_updated = $8
		WHERE workspace_sid = $1 AND sid = $2`,
		w.WorkspaceSID, w.SID, w.FriendlyName, w.Configuration, w.TaskReservationTimeout,
		w.AssignmentCallbackURL, w.FallbackAssignmentCallbackURL, t.timeArg(w.DateUpdated))
	if err != nil {
		return err
	}
	return t.notifyWorkflow(ctx, w.WorkspaceSID, w.SID)
}

// DeleteWorkflow refuses to delete a workflow that calls still reach: the
// workspace default or one bound to a phone number.
func (t *Tx) DeleteWorkflow(ctx context.Context, workspaceSID, sid string) error {
	var phone string
	err := t.db.QueryRow(ctx, `SELECT phone_number FROM phone_number_bindings WHERE workspace_sid = $1 AND workflow_sid = $2
		ORDER BY phone_number LIMIT 1`, workspaceSID, sid).Scan(&phone)
	switch {
	case err == nil:
		return didrouter.Errorf(didrouter.ECONFLICT, "workflow %s is bound to phone number %s", sid, phone)
	case !isNoRows(err):
		return t.wrap(err, "check bindings of workflow %s", sid)
	}
	var n int
	err = t.db.QueryRow(ctx, `SELECT count(*) FROM workspaces WHERE sid = $1 AND default_workflow_sid = $2`,
		workspaceSID, sid).Scan(&n)
	if err != nil {
		return t.wrap(err, "check workspace %s default workflow", workspaceSID)
	}
	if n > 0 {
		return didrouter.Errorf(didrouter.ECONFLICT, "workflow %s is the default workflow of workspace %s", sid, workspaceSID)
	}
	if err := t.execOne(ctx, "workflow", sid, `DELETE FROM workflows WHERE workspace_sid = $1 AND sid = $2`,
		workspaceSID, sid); err != nil {
		return err
	}
	return t.notifyWorkflow(ctx, workspaceSID, sid)
}
