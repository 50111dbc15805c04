package sqlstore

import (
	"context"
	"strings"

	"github.com/didrouter/didrouter"
)

const reservationCols = `sid, workspace_sid, task_sid, worker_sid, status, timeout, date_created, date_updated`

func scanReservation(r Row) (didrouter.Reservation, error) {
	var v didrouter.Reservation
	err := r.Scan(&v.SID, &v.WorkspaceSID, &v.TaskSID, &v.WorkerSID, &v.Status, &v.Timeout,
		scanTime(&v.DateCreated), scanTime(&v.DateUpdated))
	return v, err
}

func (q *Queries) GetReservation(ctx context.Context, workspaceSID, sid string) (didrouter.Reservation, error) {
	return get(ctx, q, scanReservation, "reservation", sid,
		`SELECT `+reservationCols+` FROM reservations WHERE workspace_sid = $1 AND sid = $2`, workspaceSID, sid)
}

func (q *Queries) ListReservations(ctx context.Context, workspaceSID string, f didrouter.ReservationFilter) ([]didrouter.Reservation, error) {
	query, a := ListReservationsSQL(q.d, workspaceSID, f)
	page, err := list(ctx, q, scanReservation, "reservations", query, a...)
	if err != nil {
		return nil, err
	}
	return checkCursor(ctx, q, page, "reservations", f.After)
}

// ListReservationsSQL is ListReservations' statement and arguments
// (exported for the store's query-plan test).
func ListReservationsSQL(d *Dialect, workspaceSID string, f didrouter.ReservationFilter) (string, []any) {
	var a args
	var b strings.Builder
	ws := "workspace_sid"
	if f.TaskSID != "" || f.WorkerSID != "" {
		ws = d.Unindexed(ws)
	}
	b.WriteString(`SELECT ` + reservationCols + ` FROM reservations WHERE ` + ws + ` = ` + a.add(workspaceSID))
	if f.TaskSID != "" {
		b.WriteString(` AND task_sid = ` + a.add(f.TaskSID))
	}
	if f.WorkerSID != "" {
		b.WriteString(` AND worker_sid = ` + a.add(f.WorkerSID))
	}
	if f.Status != "" {
		b.WriteString(` AND status = ` + a.add(f.Status))
	}
	b.WriteString(pageClause(&a, "reservations", "date_created", f.Page, f.Newest))
	return b.String(), a
}

// reservationWriteError names the task when the one-active-reservation
// index refused the write.
func (t *Tx) reservationWriteError(err error, r didrouter.Reservation) error {
	if detail, ok := t.d.UniqueViolation(err); ok && strings.Contains(detail, "task_sid") {
		return didrouter.Errorf(didrouter.ECONFLICT, "task %s already has a pending or accepted reservation", r.TaskSID)
	}
	return nil
}

func (t *Tx) InsertReservation(ctx context.Context, r didrouter.Reservation) error {
	_, err := t.db.Exec(ctx, `INSERT INTO reservations (`+reservationCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		r.SID, r.WorkspaceSID, r.TaskSID, r.WorkerSID, r.Status, r.Timeout, t.timeArg(r.DateCreated), t.timeArg(r.DateUpdated))
	if err == nil {
		return t.notifyReservation(ctx, r)
	}
	if cerr := t.reservationWriteError(err, r); cerr != nil {
		return cerr
	}
	if t.d.ForeignKeyViolation(err) {
		return didrouter.Errorf(didrouter.ENOTFOUND, "cannot add reservation %s: task %s or workspace %s not found",
			r.SID, r.TaskSID, r.WorkspaceSID)
	}
	return t.insertError(err, "reservation", r.SID, r.WorkspaceSID)
}

func (t *Tx) UpdateReservation(ctx context.Context, r didrouter.Reservation) error {
	n, err := t.db.Exec(ctx, `UPDATE reservations SET status = $3, date_updated = $4 WHERE workspace_sid = $1 AND sid = $2`,
		r.WorkspaceSID, r.SID, r.Status, t.timeArg(r.DateUpdated))
	if err != nil {
		if cerr := t.reservationWriteError(err, r); cerr != nil {
			return cerr
		}
		return t.wrap(err, "update reservation %s", r.SID)
	}
	if n == 0 {
		return didrouter.Errorf(didrouter.ENOTFOUND, "reservation %s not found", r.SID)
	}
	return t.notifyReservation(ctx, r)
}

// notifyReservation tells the worker's pages that their calls changed: a
// reservation accepted or ended does not always change the worker row.
func (t *Tx) notifyReservation(ctx context.Context, r didrouter.Reservation) error {
	if r.WorkerSID == "" {
		return nil
	}
	return t.Notify(ctx, didrouter.Change{Kind: didrouter.ChangeReservation, WorkspaceSID: r.WorkspaceSID, SID: r.WorkerSID})
}
