package sqlstore

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/didrouter/didrouter"
)

const callSettingsCols = `workspace_sid, phone_number, hours, voicemail_after, date_updated`

func scanCallSettings(r Row) (didrouter.CallSettings, error) {
	var s didrouter.CallSettings
	err := r.Scan(&s.WorkspaceSID, &s.PhoneNumber, &s.Hours, &s.VoicemailAfter, scanTime(&s.DateUpdated))
	return s, err
}

func (c CallSettings) GetCallSettings(ctx context.Context, workspaceSID, phoneNumber string) (didrouter.CallSettings, error) {
	what := "call settings of workspace"
	id := workspaceSID
	if phoneNumber != "" {
		what, id = "call settings of number", phoneNumber
	}
	return getRow(ctx, c.q, scanCallSettings, what, id,
		`SELECT `+callSettingsCols+` FROM call_settings WHERE workspace_sid = $1 AND phone_number = $2`, workspaceSID, phoneNumber)
}

func (c CallSettings) ListCallSettings(ctx context.Context, workspaceSID string) ([]didrouter.CallSettings, error) {
	return list(ctx, c.q, scanCallSettings, "call settings",
		`SELECT `+callSettingsCols+` FROM call_settings WHERE workspace_sid = $1 ORDER BY phone_number`, workspaceSID)
}

func (c CallSettings) PutCallSettings(ctx context.Context, s didrouter.CallSettings) error {
	return c.write(ctx, func(t *Tx) error {
		_, err := t.db.Exec(ctx, `INSERT INTO call_settings (`+callSettingsCols+`) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (workspace_sid, phone_number) DO UPDATE SET hours = excluded.hours,
				voicemail_after = excluded.voicemail_after, date_updated = excluded.date_updated`,
			s.WorkspaceSID, s.PhoneNumber, s.Hours, s.VoicemailAfter, t.timeArg(s.DateUpdated))
		if err != nil {
			return t.insertError(err, "call settings of", s.WorkspaceSID+" "+s.PhoneNumber, s.WorkspaceSID)
		}
		return nil
	})
}

func (c CallSettings) DeleteCallSettings(ctx context.Context, workspaceSID, phoneNumber string) error {
	return c.write(ctx, func(t *Tx) error {
		return t.execOne(ctx, "call settings of", workspaceSID+" "+phoneNumber,
			`DELETE FROM call_settings WHERE workspace_sid = $1 AND phone_number = $2`, workspaceSID, phoneNumber)
	})
}

// CallbackRequests is served by the partial index tasks_callback_number
// (migration 00007), which holds only call-back requests.
func (c CallSettings) CallbackRequests(ctx context.Context, workspaceSID, number string) ([]didrouter.Task, error) {
	if number == "" {
		return nil, nil
	}
	out, err := list(ctx, c.q, scanTask, "call-back requests", CallbackRequestsSQL, workspaceSID, number)
	if err != nil {
		return nil, err
	}
	// Oldest first, sorted here: an ORDER BY would lead SQLite to walk the
	// workspace's tasks in date order rather than use the index.
	slices.SortFunc(out, func(a, b didrouter.Task) int {
		return cmp.Or(a.DateCreated.Compare(b.DateCreated), strings.Compare(a.SID, b.SID))
	})
	return out, nil
}

// CallbackRequestsSQL repeats the partial index's condition, as
// TaskByCallSQL does. Exported for the store's query-plan test.
const CallbackRequestsSQL = `SELECT ` + taskCols + ` FROM tasks WHERE workspace_sid = $1 AND callback_number = $2
	AND callback_number <> '' AND assignment_status IN ('pending', 'reserved')`
