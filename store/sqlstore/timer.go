package sqlstore

import (
	"context"
	"sort"
	"time"

	"github.com/didrouter/didrouter"
)

const timerCols = `sid, workspace_sid, kind, task_sid, reservation_sid, worker_sid, task_version, fire_at`

func scanTimer(r Row) (didrouter.Timer, error) {
	var t didrouter.Timer
	err := r.Scan(&t.SID, &t.WorkspaceSID, &t.Kind, &t.TaskSID, &t.ReservationSID, &t.WorkerSID, &t.TaskVersion,
		scanTime(&t.FireAt))
	return t, err
}

// DefaultTimerClaim is how many timers ClaimDueTimers takes when limit <= 0.
const DefaultTimerClaim = 100

// timerGuard is the sid a timer of its kind guards: setting a timer replaces
// the previous one with the same kind and guard. A wrap-up timer guards its
// task, not its worker: a worker with capacity > 1 may wrap up two calls at
// once, and each needs its own timer.
func timerGuard(t didrouter.Timer) (string, error) {
	var guard, field string
	switch t.Kind {
	case didrouter.TimerReservation:
		guard, field = t.ReservationSID, "ReservationSID"
	case didrouter.TimerAway:
		guard, field = t.WorkerSID, "WorkerSID"
	case "":
		return "", didrouter.Errorf(didrouter.EINVALID, "timer %s has no kind", t.SID)
	default:
		guard, field = t.TaskSID, "TaskSID"
	}
	if guard == "" {
		return "", didrouter.Errorf(didrouter.EINVALID, "a %s timer needs a %s", t.Kind, field)
	}
	return guard, nil
}

// SetTimer replaces the timer of the same kind and guard; an empty SID gets
// a new one.
func (t *Tx) SetTimer(ctx context.Context, tm didrouter.Timer) error {
	guard, err := timerGuard(tm)
	if err != nil {
		return err
	}
	if tm.SID == "" {
		tm.SID = didrouter.NewSID(didrouter.PrefixTimer)
	}
	wrap := func(err error, rows int) error {
		return t.insertError(err, "timer", rowsNamed(tm.SID, rows, "timer"), tm.WorkspaceSID)
	}
	return t.insertLater(ctx, wrap, timerInsert, tm.WorkspaceSID, tm.Kind+" "+guard,
		tm.SID, tm.WorkspaceSID, tm.Kind, tm.TaskSID, tm.ReservationSID, tm.WorkerSID, tm.TaskVersion,
		t.timeArg(tm.FireAt), guard)
}

// timerInsert is SetTimer's upsert; a transaction's timers go in one
// statement (Pending.AddRow).
var timerInsert = Insert{Table: "timers", Columns: timerCols + `, guard_sid`,
	Tail: ` ON CONFLICT (workspace_sid, kind, guard_sid) DO UPDATE SET sid = excluded.sid, task_sid = excluded.task_sid,
		reservation_sid = excluded.reservation_sid, worker_sid = excluded.worker_sid,
		task_version = excluded.task_version, fire_at = excluded.fire_at`}

func (t *Tx) ClearTimers(ctx context.Context, workspaceSID, taskSID string, kinds ...string) error {
	var a args
	query := `DELETE FROM timers WHERE workspace_sid = ` + a.add(workspaceSID) + ` AND task_sid = ` + a.add(taskSID) + ` AND task_sid <> ''`
	if len(kinds) > 0 {
		query += ` AND kind IN ` + a.in(kinds)
	}
	wrap := func(err error) error { return t.wrap(err, "clear timers of task %s", taskSID) }
	return t.execLater(ctx, wrap, query, a...)
}

func (t *Tx) ClearWorkerTimers(ctx context.Context, workspaceSID, workerSID string, kinds ...string) error {
	var a args
	query := `DELETE FROM timers WHERE workspace_sid = ` + a.add(workspaceSID) + ` AND worker_sid = ` + a.add(workerSID) + ` AND worker_sid <> ''`
	if len(kinds) > 0 {
		query += ` AND kind IN ` + a.in(kinds)
	}
	wrap := func(err error) error { return t.wrap(err, "clear timers of worker %s", workerSID) }
	return t.execLater(ctx, wrap, query, a...)
}

// ClaimDueTimers returns the claimed timers earliest first. On Postgres the
// candidates are locked with SKIP LOCKED, so concurrent claimers split the
// due timers between them instead of waiting for each other.
func (t *Tx) ClaimDueTimers(ctx context.Context, now time.Time, limit int) ([]didrouter.Timer, error) {
	if limit <= 0 {
		limit = DefaultTimerClaim
	}
	timers, err := list(ctx, &t.Queries, scanTimer, "due timers", `DELETE FROM timers WHERE (workspace_sid, kind, guard_sid) IN (
		SELECT workspace_sid, kind, guard_sid FROM timers WHERE fire_at <= $1 ORDER BY fire_at, sid LIMIT $2`+t.d.SkipLocked+`)
		RETURNING `+timerCols, t.timeArg(now), limit)
	if err != nil {
		return nil, err
	}
	sort.Slice(timers, func(i, j int) bool {
		if !timers[i].FireAt.Equal(timers[j].FireAt) {
			return timers[i].FireAt.Before(timers[j].FireAt)
		}
		return timers[i].SID < timers[j].SID
	})
	return timers, nil
}

func (t *Tx) NextTimer(ctx context.Context) (time.Time, error) {
	var at time.Time
	err := t.db.QueryRow(ctx, `SELECT fire_at FROM timers ORDER BY fire_at LIMIT 1`).Scan(scanTime(&at))
	switch {
	case isNoRows(err):
		return time.Time{}, nil
	case err != nil:
		return time.Time{}, t.wrap(err, "read next timer")
	default:
		return at, nil
	}
}
