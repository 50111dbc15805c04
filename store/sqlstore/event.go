package sqlstore

import (
	"context"
	"strings"

	"github.com/didrouter/didrouter"
)

const eventCols = `sid, workspace_sid, event_type, resource_type, resource_sid, description, task_sid, worker_sid,
	reservation_sid, data, date`

func scanEvent(r Row) (didrouter.Event, error) {
	var e didrouter.Event
	err := r.Scan(&e.SID, &e.WorkspaceSID, &e.EventType, &e.ResourceType, &e.ResourceSID, &e.Description, &e.TaskSID,
		&e.WorkerSID, &e.ReservationSID, &e.Data, scanTime(&e.Date))
	return e, err
}

// resourceCol names the column that also carries a resource's sid, chosen
// by the sid's prefix. engine/effects.go writes the sid of an event's task,
// worker or reservation in task_sid, worker_sid or reservation_sid as
// well. A ResourceSid filter is served by that column's index, so
// resource_sid needs none of its own. For other sids it returns "", and
// the filter on resource_sid is used alone.
func resourceCol(sid string) string {
	if len(sid) < 2 {
		return ""
	}
	switch sid[:2] {
	case didrouter.PrefixTask:
		return "task_sid"
	case didrouter.PrefixWorker:
		return "worker_sid"
	case didrouter.PrefixReservation:
		return "reservation_sid"
	}
	return ""
}

// ListEvents orders by Date then sid (descending with Newest); StartDate
// and EndDate are inclusive.
func (q *Queries) ListEvents(ctx context.Context, workspaceSID string, f didrouter.EventFilter) ([]didrouter.Event, error) {
	query, a := ListEventsSQL(q.d, workspaceSID, f)
	page, err := list(ctx, q, scanEvent, "events", query, a...)
	if err != nil {
		return nil, err
	}
	return checkCursor(ctx, q, page, "events", f.After)
}

// ListEventsSQL is ListEvents' statement and arguments (exported for the
// store's query-plan test). An EventType filter alone is served by the
// workspace's date index: the event types of a call are a handful, so the
// walk in date order meets a match every few rows.
func ListEventsSQL(d *Dialect, workspaceSID string, f didrouter.EventFilter) (string, []any) {
	var a args
	var b strings.Builder
	ws := "workspace_sid"
	if f.ResourceSID != "" || f.TaskSID != "" || f.WorkerSID != "" || f.ReservationSID != "" {
		ws = d.Unindexed(ws)
	}
	b.WriteString(`SELECT ` + eventCols + ` FROM events WHERE ` + ws + ` = ` + a.add(workspaceSID))
	if col := resourceCol(f.ResourceSID); col != "" {
		b.WriteString(` AND ` + col + ` = ` + a.add(f.ResourceSID) + ` AND ` + col + ` <> ''`)
	}
	for _, c := range []struct{ col, val string }{
		{"event_type", f.EventType},
		{"resource_sid", f.ResourceSID},
		{"task_sid", f.TaskSID},
		{"worker_sid", f.WorkerSID},
		{"reservation_sid", f.ReservationSID},
	} {
		if c.val != "" {
			// "<> ''" lets the planner use the column's partial index
			// with a bound value (SQLite cannot prove it otherwise).
			b.WriteString(` AND ` + c.col + ` = ` + a.add(c.val) + ` AND ` + c.col + ` <> ''`)
		}
	}
	if !f.StartDate.IsZero() {
		b.WriteString(` AND date >= ` + a.add(d.Time(UTC(f.StartDate))))
	}
	if !f.EndDate.IsZero() {
		b.WriteString(` AND date <= ` + a.add(d.Time(UTC(f.EndDate))))
	}
	b.WriteString(pageClause(&a, "events", "date", f.Page, f.Newest))
	return b.String(), a
}

var eventInsert = Insert{Table: "events", Columns: eventCols}

// InsertEvent's row joins the transaction's other events in one INSERT,
// sent at commit or with the next statement that reads events.
func (t *Tx) InsertEvent(ctx context.Context, e didrouter.Event) error {
	wrap := func(err error, rows int) error {
		return t.insertError(err, "event", rowsNamed(e.SID, rows, "event"), e.WorkspaceSID)
	}
	return t.insertLater(ctx, wrap, eventInsert, e.WorkspaceSID, "",
		e.SID, e.WorkspaceSID, e.EventType, e.ResourceType, e.ResourceSID, e.Description, e.TaskSID, e.WorkerSID,
		e.ReservationSID, e.Data, t.timeArg(e.Date))
}
