package sqlstore

import (
	"context"

	"github.com/didrouter/didrouter"
)

const workspaceCols = `sid, friendly_name, default_activity_sid, timeout_activity_sid, default_workflow_sid,
	event_callback_url, greeting, hold_message, date_created, date_updated, events_filter`

func scanWorkspace(r Row) (didrouter.Workspace, error) {
	var w didrouter.Workspace
	err := r.Scan(&w.SID, &w.FriendlyName, &w.DefaultActivitySID, &w.TimeoutActivitySID, &w.DefaultWorkflowSID,
		&w.EventCallbackURL, &w.Greeting, &w.HoldMessage, scanTime(&w.DateCreated), scanTime(&w.DateUpdated),
		&w.EventsFilter)
	return w, err
}

func (q *Queries) GetWorkspace(ctx context.Context, sid string) (didrouter.Workspace, error) {
	return getShared(ctx, q, scanWorkspace, "workspace", sid,
		`SELECT `+workspaceCols+` FROM workspaces WHERE sid = $1`, sid)
}

func (q *Queries) ListWorkspaces(ctx context.Context) ([]didrouter.Workspace, error) {
	return list(ctx, q, scanWorkspace, "workspaces",
		`SELECT `+workspaceCols+` FROM workspaces ORDER BY date_created, sid`)
}

func (t *Tx) InsertWorkspace(ctx context.Context, w didrouter.Workspace) error {
	return t.insert(ctx, "workspace", w.SID, w.SID, `INSERT INTO workspaces (`+workspaceCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		w.SID, w.FriendlyName, w.DefaultActivitySID, w.TimeoutActivitySID, w.DefaultWorkflowSID,
		w.EventCallbackURL, w.Greeting, w.HoldMessage, t.timeArg(w.DateCreated), t.timeArg(w.DateUpdated),
		w.EventsFilter)
}

func (t *Tx) UpdateWorkspace(ctx context.Context, w didrouter.Workspace) error {
	if err := t.execOne(ctx, "workspace", w.SID, `UPDATE workspaces SET friendly_name = $2,
		default_activity_sid = $3, timeout_activity_sid = $4, default_workflow_sid = $5,
		event_callback_url = $6, greeting = $7, hold_message = $8, date_updated = $9, events_filter = $10
		WHERE sid = $1`,
		w.SID, w.FriendlyName, w.DefaultActivitySID, w.TimeoutActivitySID, w.DefaultWorkflowSID,
		w.EventCallbackURL, w.Greeting, w.HoldMessage, t.timeArg(w.DateUpdated), w.EventsFilter); err != nil {
		return err
	}
	// Every instance caches workspaces read on a call's path.
	return t.Notify(ctx, didrouter.Change{Kind: didrouter.ChangeWorkspace, WorkspaceSID: w.SID, SID: w.SID})
}

// LockWorkspaces makes another transaction that calls it wait until this
// one ends, so that seeding an empty store creates one workspace even when
// several instances start at once.
func (t *Tx) LockWorkspaces(ctx context.Context) error {
	if t.d.LockWorkspaces == "" {
		return nil
	}
	if _, err := t.db.Exec(ctx, t.d.LockWorkspaces); err != nil {
		return t.wrap(err, "lock workspaces")
	}
	return nil
}
