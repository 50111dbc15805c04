package sqlstore

import (
	"context"

	"github.com/didrouter/didrouter"
)

const activityCols = `sid, workspace_sid, friendly_name, available, date_created, date_updated`

func scanActivity(r Row) (didrouter.Activity, error) {
	var a didrouter.Activity
	err := r.Scan(&a.SID, &a.WorkspaceSID, &a.FriendlyName, &a.Available, scanTime(&a.DateCreated), scanTime(&a.DateUpdated))
	return a, err
}

func (q *Queries) GetActivity(ctx context.Context, workspaceSID, sid string) (didrouter.Activity, error) {
	return getShared(ctx, q, scanActivity, "activity", sid,
		`SELECT `+activityCols+` FROM activities WHERE workspace_sid = $1 AND sid = $2`, workspaceSID, sid)
}

func (q *Queries) ListActivities(ctx context.Context, workspaceSID string) ([]didrouter.Activity, error) {
	return list(ctx, q, scanActivity, "activities",
		`SELECT `+activityCols+` FROM activities WHERE workspace_sid = $1 ORDER BY date_created, sid`, workspaceSID)
}

func (t *Tx) InsertActivity(ctx context.Context, a didrouter.Activity) error {
	err := t.insert(ctx, "activity", a.SID, a.WorkspaceSID, `INSERT INTO activities (`+activityCols+`)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		a.SID, a.WorkspaceSID, a.FriendlyName, a.Available, t.timeArg(a.DateCreated), t.timeArg(a.DateUpdated))
	if err != nil {
		return err
	}
	return t.Notify(ctx, didrouter.Change{Kind: didrouter.ChangeActivity, WorkspaceSID: a.WorkspaceSID, SID: a.SID})
}

// UpdateActivity also rewrites the copy of the activity's name and
// availability that its workers carry (and bumps their versions).
func (t *Tx) UpdateActivity(ctx context.Context, a didrouter.Activity) error {
	err := t.execOne(ctx, "activity", a.SID, `UPDATE activities SET friendly_name = $3, available = $4, date_updated = $5
		WHERE workspace_sid = $1 AND sid = $2`,
		a.WorkspaceSID, a.SID, a.FriendlyName, a.Available, t.timeArg(a.DateUpdated))
	if err != nil {
		return err
	}
	_, err = t.db.Exec(ctx, `UPDATE workers SET activity_name = $3, available = $4, version = version + 1
		WHERE workspace_sid = $1 AND activity_sid = $2 AND (activity_name <> $3 OR available <> $4)`,
		a.WorkspaceSID, a.SID, a.FriendlyName, a.Available)
	if err != nil {
		return t.wrap(err, "update workers of activity %s", a.SID)
	}
	return t.Notify(ctx, didrouter.Change{Kind: didrouter.ChangeActivity, WorkspaceSID: a.WorkspaceSID, SID: a.SID})
}

func (t *Tx) DeleteActivity(ctx context.Context, workspaceSID, sid string) error {
	var worker string
	err := t.db.QueryRow(ctx, `SELECT sid FROM workers WHERE workspace_sid = $1 AND activity_sid = $2 LIMIT 1`,
		workspaceSID, sid).Scan(&worker)
	switch {
	case err == nil:
		return didrouter.Errorf(didrouter.ECONFLICT, "activity %s is in use by worker %s", sid, worker)
	case !isNoRows(err):
		return t.wrap(err, "check workers of activity %s", sid)
	}
	var n int
	err = t.db.QueryRow(ctx, `SELECT count(*) FROM workspaces
		WHERE sid = $1 AND (default_activity_sid = $2 OR timeout_activity_sid = $2)`, workspaceSID, sid).Scan(&n)
	if err != nil {
		return t.wrap(err, "check workspace %s activities", workspaceSID)
	}
	if n > 0 {
		return didrouter.Errorf(didrouter.ECONFLICT, "activity %s is the default or timeout activity of workspace %s", sid, workspaceSID)
	}
	if err := t.execOne(ctx, "activity", sid, `DELETE FROM activities WHERE workspace_sid = $1 AND sid = $2`,
		workspaceSID, sid); err != nil {
		return err
	}
	return t.Notify(ctx, didrouter.Change{Kind: didrouter.ChangeActivity, WorkspaceSID: workspaceSID, SID: sid})
}
