package sqlstore

import (
	"context"
	"strings"
	"time"

	"github.com/didrouter/didrouter"
)

const workerCols = `sid, workspace_sid, friendly_name, attributes, activity_sid, activity_name, available,
	capacity, busy, phone_number, date_status_changed, date_created, date_updated, version,
	message_capacity, message_busy`

func scanWorker(r Row) (didrouter.Worker, error) {
	var w didrouter.Worker
	err := r.Scan(&w.SID, &w.WorkspaceSID, &w.FriendlyName, &w.Attributes, &w.ActivitySID, &w.ActivityName, &w.Available,
		&w.Capacity, &w.Busy, &w.PhoneNumber, scanTime(&w.DateStatusChanged), scanTime(&w.DateCreated),
		scanTime(&w.DateUpdated), &w.Version, &w.MessageCapacity, &w.MessageBusy)
	return w, err
}

func (q *Queries) GetWorker(ctx context.Context, workspaceSID, sid string) (didrouter.Worker, error) {
	return get(ctx, q, scanWorker, "worker", sid,
		`SELECT `+workerCols+` FROM workers WHERE workspace_sid = $1 AND sid = $2`, workspaceSID, sid)
}

func (q *Queries) WorkerByPhoneNumber(ctx context.Context, workspaceSID, e164 string) (didrouter.Worker, error) {
	if e164 == "" {
		return didrouter.Worker{}, didrouter.Errorf(didrouter.ENOTFOUND, "no worker has an empty phone number")
	}
	return get(ctx, q, scanWorker, "worker with phone number", e164,
		`SELECT `+workerCols+` FROM workers WHERE workspace_sid = $1 AND phone_number = $2 AND phone_number <> ''`, workspaceSID, e164)
}

func (q *Queries) ListWorkers(ctx context.Context, workspaceSID string, f didrouter.WorkerFilter) ([]didrouter.Worker, error) {
	var a args
	var b strings.Builder
	b.WriteString(`SELECT ` + workerCols + ` FROM workers WHERE workspace_sid = ` + a.add(workspaceSID))
	if f.ActivitySID != "" {
		b.WriteString(` AND activity_sid = ` + a.add(f.ActivitySID))
	}
	if f.ActivityName != "" {
		b.WriteString(` AND activity_name = ` + a.add(f.ActivityName))
	}
	if f.Available != nil {
		b.WriteString(` AND available = ` + a.add(*f.Available))
	}
	if f.FriendlyName != "" {
		b.WriteString(` AND friendly_name = ` + a.add(f.FriendlyName))
	}
	b.WriteString(pageClause(&a, "workers", "date_created", f.Page, false))
	page, err := list(ctx, q, scanWorker, "workers", b.String(), a...)
	if err != nil {
		return nil, err
	}
	return checkCursor(ctx, q, page, "workers", f.After)
}

// EachWorker streams rows: inside a Tx, fn must not use the Tx (Postgres
// cannot run a second statement while a result is being read).
func (q *Queries) EachWorker(ctx context.Context, workspaceSID string, fn func(didrouter.Worker) error) error {
	return each(ctx, q, scanWorker, fn, "workers",
		`SELECT `+workerCols+` FROM workers WHERE workspace_sid = $1 ORDER BY date_created, sid`, workspaceSID)
}

// EachWorkerRow streams the index's columns without copying them. pgx
// hands over its read buffer, and SQLite gets database/sql's RawBytes or a
// reused buffer. It has no ORDER BY, so the whole fleet is never sorted.
// Inside a Tx, as with EachWorker, fn must not use the Tx.
func (q *Queries) EachWorkerRow(ctx context.Context, workspaceSID string, fn func(*didrouter.WorkerRow) error) error {
	rows, err := q.db.Query(ctx, `SELECT sid, friendly_name, attributes, activity_sid, activity_name, available,
		capacity, busy, date_status_changed, version, message_capacity, message_busy
		FROM workers WHERE workspace_sid = $1`, workspaceSID)
	if err != nil {
		return q.wrap(err, "list workers")
	}
	defer rows.Close()
	var w didrouter.WorkerRow
	var bufs [5][]byte
	dest := []any{rawText{&w.SID, &bufs[0]}, rawText{&w.FriendlyName, &bufs[1]}, rawText{&w.Attributes, &bufs[2]},
		rawText{&w.ActivitySID, &bufs[3]}, rawText{&w.ActivityName, &bufs[4]}, &w.Available, &w.Capacity, &w.Busy,
		scanTime(&w.DateStatusChanged), &w.Version, &w.MessageCapacity, &w.MessageBusy}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return q.wrap(err, "read workers")
		}
		if err := fn(&w); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return q.wrap(err, "list workers")
	}
	return nil
}

func (q *Queries) CountWorkers(ctx context.Context, workspaceSID string) (int, error) {
	var n int
	if err := q.db.QueryRow(ctx, `SELECT count(*) FROM workers WHERE workspace_sid = $1`, workspaceSID).Scan(&n); err != nil {
		return 0, q.wrap(err, "count workers")
	}
	return n, nil
}

// checkPhoneNumber fails with ECONFLICT when another worker of the workspace
// owns phone. The unique index still decides under concurrency; this check
// only lets the message name the owner.
func (t *Tx) checkPhoneNumber(ctx context.Context, workspaceSID, workerSID, phone string) error {
	if phone == "" {
		return nil
	}
	var owner string
	err := t.db.QueryRow(ctx, `SELECT sid FROM workers WHERE workspace_sid = $1 AND phone_number = $2 AND phone_number <> '' AND sid <> $3`,
		workspaceSID, phone, workerSID).Scan(&owner)
	switch {
	case err == nil:
		return phoneTaken(phone, owner)
	case isNoRows(err):
		return nil
	default:
		return t.wrap(err, "check phone number %s", phone)
	}
}

func phoneTaken(phone, owner string) error {
	if owner == "" {
		owner = "another worker"
	} else {
		owner = "worker " + owner
	}
	return didrouter.Errorf(didrouter.ECONFLICT, "phone number %s is already assigned to %s", phone, owner)
}

func (t *Tx) workerWriteError(err error, w didrouter.Worker, op string) error {
	if detail, ok := t.d.UniqueViolation(err); ok && strings.Contains(detail, "phone_number") {
		return phoneTaken(w.PhoneNumber, "")
	}
	if op == "insert" {
		return t.insertError(err, "worker", w.SID, w.WorkspaceSID)
	}
	return t.wrap(err, "%s worker %s", op, w.SID)
}

func (t *Tx) notifyWorker(ctx context.Context, workspaceSID, sid string) error {
	return t.Notify(ctx, didrouter.Change{Kind: didrouter.ChangeWorker, WorkspaceSID: workspaceSID, SID: sid})
}

// InsertWorker stores w with its Busy count; Version 0 is stored as 1.
func (t *Tx) InsertWorker(ctx context.Context, w didrouter.Worker) error {
	if err := t.checkPhoneNumber(ctx, w.WorkspaceSID, w.SID, w.PhoneNumber); err != nil {
		return err
	}
	_, err := t.db.Exec(ctx, `INSERT INTO workers (`+workerCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		w.SID, w.WorkspaceSID, w.FriendlyName, w.Attributes, w.ActivitySID, w.ActivityName, w.Available,
		w.Capacity, w.Busy, w.PhoneNumber, t.timeArg(w.DateStatusChanged), t.timeArg(w.DateCreated),
		t.timeArg(w.DateUpdated), max(w.Version, 1), w.MessageCapacity, w.MessageBusy)
	if err != nil {
		return t.workerWriteError(err, w, "insert")
	}
	return t.notifyWorker(ctx, w.WorkspaceSID, w.SID)
}

func (t *Tx) UpdateWorker(ctx context.Context, w didrouter.Worker) error {
	if err := t.checkPhoneNumber(ctx, w.WorkspaceSID, w.SID, w.PhoneNumber); err != nil {
		return err
	}
	n, err := t.db.Exec(ctx, `UPDATE workers SET friendly_name = $3, attributes = $4, activity_sid = $5,
		activity_name = $6, available = $7, capacity = $8, phone_number = $9, date_status_changed = $10,
		date_updated = $11, message_capacity = $12, version = version + 1
		WHERE workspace_sid = $1 AND sid = $2`,
		w.WorkspaceSID, w.SID, w.FriendlyName, w.Attributes, w.ActivitySID, w.ActivityName, w.Available,
		w.Capacity, w.PhoneNumber, t.timeArg(w.DateStatusChanged), t.timeArg(w.DateUpdated), w.MessageCapacity)
	if err != nil {
		return t.workerWriteError(err, w, "update")
	}
	if n == 0 {
		return didrouter.Errorf(didrouter.ENOTFOUND, "worker %s not found", w.SID)
	}
	return t.notifyWorker(ctx, w.WorkspaceSID, w.SID)
}

func (t *Tx) DeleteWorker(ctx context.Context, workspaceSID, sid string) error {
	if err := t.execOne(ctx, "worker", sid, `DELETE FROM workers WHERE workspace_sid = $1 AND sid = $2`,
		workspaceSID, sid); err != nil {
		return err
	}
	return t.notifyWorker(ctx, workspaceSID, sid)
}

// The statements that claim and release a worker's voice capacity and its
// message capacity. Each is one fixed text, so no column name is built.
// Each returns the row it wrote, so that the caller needs no second read
// under the lock.
const (
	claimVoice = `UPDATE workers SET busy = busy + 1, date_updated = $3, version = version + 1
		WHERE workspace_sid = $1 AND sid = $2 AND available AND busy < capacity RETURNING ` + workerCols
	claimMessage = `UPDATE workers SET message_busy = message_busy + 1, date_updated = $3, version = version + 1
		WHERE workspace_sid = $1 AND sid = $2 AND available AND message_busy < message_capacity RETURNING ` + workerCols
	releaseVoice = `UPDATE workers SET
		busy = CASE WHEN busy > 0 THEN busy - 1 ELSE 0 END,
		date_status_changed = CASE WHEN busy <= 1 THEN $3 ELSE date_status_changed END,
		date_updated = $3, version = version + 1
		WHERE workspace_sid = $1 AND sid = $2 RETURNING ` + workerCols
	releaseMessage = `UPDATE workers SET
		message_busy = CASE WHEN message_busy > 0 THEN message_busy - 1 ELSE 0 END,
		date_updated = $3, version = version + 1
		WHERE workspace_sid = $1 AND sid = $2 RETURNING ` + workerCols
)

// ClaimWorker is one conditional UPDATE: concurrent claims on one worker
// serialize on its row, and each re-checks the room on the task's channel
// after the previous one committed.
func (t *Tx) ClaimWorker(ctx context.Context, workspaceSID, sid, channel string, now time.Time) (didrouter.Worker, bool, error) {
	q := claimVoice
	if channel == didrouter.MessageChannel {
		q = claimMessage
	}
	w, err := scanWorker(t.db.QueryRow(ctx, q, workspaceSID, sid, t.timeArg(now)))
	switch {
	case isNoRows(err):
		// Not claimable, or not there at all: tell the two apart.
		if err := t.workerExists(ctx, workspaceSID, sid); err != nil {
			return didrouter.Worker{}, false, err
		}
		return didrouter.Worker{}, false, nil
	case err != nil:
		return didrouter.Worker{}, false, t.wrap(err, "claim worker %s", sid)
	}
	return w, true, t.notifyWorker(ctx, workspaceSID, sid)
}

func (t *Tx) workerExists(ctx context.Context, workspaceSID, sid string) error {
	var one int
	err := t.db.QueryRow(ctx, `SELECT 1 FROM workers WHERE workspace_sid = $1 AND sid = $2`, workspaceSID, sid).Scan(&one)
	switch {
	case err == nil:
		return nil
	case isNoRows(err):
		return didrouter.Errorf(didrouter.ENOTFOUND, "worker %s not found", sid)
	default:
		return t.wrap(err, "read worker %s", sid)
	}
}

// ReleaseWorker returns the row it wrote, as ClaimWorker does.
func (t *Tx) ReleaseWorker(ctx context.Context, workspaceSID, sid, channel string, idleSince time.Time) (didrouter.Worker, error) {
	q := releaseVoice
	if channel == didrouter.MessageChannel {
		q = releaseMessage
	}
	w, err := scanWorker(t.db.QueryRow(ctx, q, workspaceSID, sid, t.timeArg(idleSince)))
	switch {
	case isNoRows(err):
		return didrouter.Worker{}, didrouter.Errorf(didrouter.ENOTFOUND, "worker %s not found", sid)
	case err != nil:
		return didrouter.Worker{}, t.wrap(err, "release worker %s", sid)
	}
	return w, t.notifyWorker(ctx, workspaceSID, sid)
}
