package faults

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/didrouter/didrouter/engine"
)

// auditSQL records, from inside Postgres, when each reservation starts and
// ends and every change of a worker's busy count. clock_timestamp() is read
// while the row is written, before its transaction commits: a reservation
// that ends and frees its worker is stamped before the commit that lets
// another transaction claim the worker, and that claim is stamped after. So
// two live intervals of one worker overlap only if the worker really was
// booked twice, whatever the engines' clocks said.
const auditSQL = `
CREATE TABLE faults_reservation_audit (
    reservation_sid text NOT NULL,
    worker_sid      text NOT NULL,
    status          text NOT NULL,
    at              timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE FUNCTION faults_audit_reservation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM NEW.status THEN
        INSERT INTO faults_reservation_audit (reservation_sid, worker_sid, status)
        VALUES (NEW.sid, NEW.worker_sid, NEW.status);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER faults_audit_reservation AFTER INSERT OR UPDATE ON reservations
    FOR EACH ROW EXECUTE FUNCTION faults_audit_reservation();

CREATE TABLE faults_worker_audit (
    worker_sid text NOT NULL,
    busy       integer NOT NULL,
    capacity   integer NOT NULL,
    at         timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE FUNCTION faults_audit_worker() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.busy IS DISTINCT FROM NEW.busy THEN
        INSERT INTO faults_worker_audit (worker_sid, busy, capacity) VALUES (NEW.sid, NEW.busy, NEW.capacity);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER faults_audit_worker AFTER UPDATE ON workers
    FOR EACH ROW EXECUTE FUNCTION faults_audit_worker();
`

// recoverySlack is how long after the database is back the instances may
// take to act on what fell due meanwhile.
const recoverySlack = 2 * time.Second

// recoveryWindow is how long after the settle time timers may still need
// the recovery slack.
const recoveryWindow = 10 * time.Second

// postponed is degraded mode's settle time: timers due within it after the
// database is back wait for the journals (degraded.Config.SettleAfter).
const postponed = 3 * time.Second

// window is a time span during which timers may fire late for a known
// reason (the database was down).
type window struct{ from, to time.Time }

// report collects what the checks found.
type report struct {
	Records   map[string]int // rows checked, by kind
	Anomalies []string
	Lateness  map[string][]time.Duration // timer kind → how late each fired
}

func (r *report) anomaly(format string, args ...any) {
	r.Anomalies = append(r.Anomalies, fmt.Sprintf(format, args...))
}

// checkDatabase runs every database check. calls are the CallSids the
// simulation placed; stepTimeout is the owner step's timeout.
func checkDatabase(ctx context.Context, conn *pgx.Conn, calls []string, stepTimeout time.Duration, slack time.Duration, outages []window) (*report, error) {
	r := &report{Records: map[string]int{}, Lateness: map[string][]time.Duration{}}
	for _, check := range []func(context.Context, *pgx.Conn, *report) error{
		checkNoDoubleBooking,
		checkBusyCounts,
		func(ctx context.Context, conn *pgx.Conn, r *report) error {
			return checkOneTaskPerCall(ctx, conn, r, calls)
		},
		checkEventsOnce,
		func(ctx context.Context, conn *pgx.Conn, r *report) error {
			return checkTimers(ctx, conn, r, stepTimeout, slack, outages)
		},
	} {
		if err := check(ctx, conn, r); err != nil {
			return r, err
		}
	}
	return r, nil
}

var liveStatuses = map[string]bool{"pending": true, "accepted": true, "wrapping": true}

// checkNoDoubleBooking replays the reservation audit: per worker, the live
// intervals (created → first non-live status) must never overlap more than
// the worker's capacity allows.
func checkNoDoubleBooking(ctx context.Context, conn *pgx.Conn, r *report) error {
	rows, err := conn.Query(ctx, `
		SELECT a.reservation_sid, a.worker_sid, a.status, a.at, w.capacity
		FROM faults_reservation_audit a JOIN workers w ON w.sid = a.worker_sid
		ORDER BY a.at`)
	if err != nil {
		return fmt.Errorf("read reservation audit: %w", err)
	}
	type interval struct {
		res      string
		from, to time.Time // zero to: still live
	}
	byWorker := map[string][]*interval{}
	open := map[string]*interval{}
	ended := map[string]bool{}
	capacity := map[string]int{}
	n := 0
	for rows.Next() {
		var res, worker, status string
		var at time.Time
		var capa int
		if err := rows.Scan(&res, &worker, &status, &at, &capa); err != nil {
			return err
		}
		n++
		capacity[worker] = capa
		iv, isOpen := open[res]
		switch {
		case liveStatuses[status] && !isOpen:
			if ended[res] {
				r.anomaly("reservation %s became live again (%s) after it ended", res, status)
			}
			iv = &interval{res: res, from: at}
			open[res] = iv
			byWorker[worker] = append(byWorker[worker], iv)
		case !liveStatuses[status] && isOpen:
			iv.to = at
			delete(open, res)
			ended[res] = true
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	r.Records["reservation audit rows"] = n
	for worker, ivs := range byWorker {
		// Sweep the interval ends in time order; count live ones.
		type edge struct {
			at    time.Time
			delta int
			res   string
		}
		var edges []edge
		for _, iv := range ivs {
			edges = append(edges, edge{iv.from, +1, iv.res})
			if !iv.to.IsZero() {
				edges = append(edges, edge{iv.to, -1, iv.res})
			}
		}
		sort.SliceStable(edges, func(i, j int) bool {
			if !edges[i].at.Equal(edges[j].at) {
				return edges[i].at.Before(edges[j].at)
			}
			return edges[i].delta < edges[j].delta // an end at the same instant frees first
		})
		live := 0
		for _, e := range edges {
			live += e.delta
			if e.delta > 0 && live > max(capacity[worker], 1) {
				r.anomaly("worker %s double-booked: reservation %s started at %s while %d were live (capacity %d)",
					worker, e.res, e.at.Format(time.RFC3339Nano), live-1, capacity[worker])
			}
		}
		r.Records["reservation intervals"] += len(ivs)
	}
	// And the busy counter itself never went over capacity.
	var over int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM faults_worker_audit WHERE busy > capacity`).Scan(&over); err != nil {
		return fmt.Errorf("read worker audit: %w", err)
	}
	if over > 0 {
		r.anomaly("%d worker busy-count changes went over capacity", over)
	}
	var changes int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM faults_worker_audit`).Scan(&changes); err != nil {
		return err
	}
	r.Records["worker busy changes"] = changes
	return nil
}

// checkBusyCounts: once every call is over, each worker's busy count equals
// its live reservations (no leaked or lost claims).
func checkBusyCounts(ctx context.Context, conn *pgx.Conn, r *report) error {
	rows, err := conn.Query(ctx, `
		SELECT w.sid, w.busy, count(res.sid) FILTER (WHERE res.status IN ('pending', 'accepted', 'wrapping'))
		FROM workers w LEFT JOIN reservations res ON res.worker_sid = w.sid
		GROUP BY w.sid, w.busy`)
	if err != nil {
		return fmt.Errorf("read workers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var sid string
		var busy, live int
		if err := rows.Scan(&sid, &busy, &live); err != nil {
			return err
		}
		r.Records["workers"]++
		if busy != live {
			r.anomaly("worker %s: busy %d but %d live reservations", sid, busy, live)
		}
		if live > 0 {
			r.anomaly("worker %s still has %d live reservation(s) after every call ended", sid, live)
		}
	}
	return rows.Err()
}

// checkOneTaskPerCall: every simulated call has exactly one task, in a
// terminal state once the call is over.
func checkOneTaskPerCall(ctx context.Context, conn *pgx.Conn, r *report, calls []string) error {
	rows, err := conn.Query(ctx, `
		SELECT call_sid, count(*), min(assignment_status), max(assignment_status)
		FROM tasks WHERE call_sid <> '' GROUP BY call_sid`)
	if err != nil {
		return fmt.Errorf("read tasks: %w", err)
	}
	defer rows.Close()
	type row struct {
		n        int
		min, max string
	}
	got := map[string]row{}
	for rows.Next() {
		var sid string
		var x row
		if err := rows.Scan(&sid, &x.n, &x.min, &x.max); err != nil {
			return err
		}
		got[sid] = x
	}
	if err := rows.Err(); err != nil {
		return err
	}
	r.Records["tasks of calls"] = len(got)
	placed := map[string]bool{}
	for _, sid := range calls {
		placed[sid] = true
		x, ok := got[sid]
		switch {
		case !ok:
			r.anomaly("call %s has no task", sid)
		case x.n != 1:
			r.anomaly("call %s has %d tasks", sid, x.n)
		case x.min != "completed" && x.min != "canceled":
			r.anomaly("call %s is over but its task is %s", sid, x.min)
		}
	}
	for sid := range got {
		if !placed[sid] {
			r.anomaly("task for unknown call %s", sid)
		}
	}
	return nil
}

// checkEventsOnce: each task was created once, each reservation created
// once and ended at most once (a replayed or retried write would repeat them).
func checkEventsOnce(ctx context.Context, conn *pgx.Conn, r *report) error {
	var events int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&events); err != nil {
		return fmt.Errorf("count events: %w", err)
	}
	r.Records["events"] = events
	var degradedTasks, degradedRes int
	if err := conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE event_type = 'task.created'),
		count(*) FILTER (WHERE event_type = 'reservation.created') FROM events WHERE data LIKE '%"degraded":true%'`).
		Scan(&degradedTasks, &degradedRes); err != nil {
		return fmt.Errorf("count degraded events: %w", err)
	}
	r.Records["tasks imported from degraded mode"] = degradedTasks
	r.Records["reservations imported from degraded mode"] = degradedRes
	for _, q := range []struct{ what, sql string }{
		{"task.created events per task", `
			SELECT t.sid, count(e.sid) FROM tasks t
			LEFT JOIN events e ON e.task_sid = t.sid AND e.event_type = 'task.created'
			GROUP BY t.sid HAVING count(e.sid) <> 1`},
		{"reservation.created events per reservation", `
			SELECT res.sid, count(e.sid) FROM reservations res
			LEFT JOIN events e ON e.reservation_sid = res.sid AND e.event_type = 'reservation.created'
			GROUP BY res.sid HAVING count(e.sid) <> 1`},
		{"ending events per reservation", `
			SELECT res.sid, count(e.sid) FROM reservations res
			JOIN events e ON e.reservation_sid = res.sid AND e.event_type IN
				('reservation.rejected', 'reservation.timeout', 'reservation.canceled', 'reservation.rescinded', 'reservation.completed')
			GROUP BY res.sid HAVING count(e.sid) > 1`},
		{"ending events per task", `
			SELECT t.sid, count(e.sid) FROM tasks t
			JOIN events e ON e.task_sid = t.sid AND e.event_type IN ('task.completed', 'task.canceled')
			GROUP BY t.sid HAVING count(e.sid) > 1`},
	} {
		rows, err := conn.Query(ctx, q.sql)
		if err != nil {
			return fmt.Errorf("check %s: %w", q.what, err)
		}
		for rows.Next() {
			var sid string
			var n int
			if err := rows.Scan(&sid, &n); err != nil {
				rows.Close()
				return err
			}
			r.anomaly("%s: %s has %d", q.what, sid, n)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// checkTimers: nothing is overdue (no timer row, no pending reservation, no
// waiting task past its deadline), and every timer that acted did so
// within slack of its deadline (plus the outage, when the deadline fell in
// one).
func checkTimers(ctx context.Context, conn *pgx.Conn, r *report, stepTimeout, slack time.Duration, outages []window) error {
	overdue := []struct{ what, sql string }{
		{"overdue timers", `SELECT count(*) FROM timers WHERE fire_at < now() - $1::interval`},
		{"pending reservations past their timeout", `
			SELECT count(*) FROM reservations
			WHERE status = 'pending' AND date_created + make_interval(secs => timeout) < now() - $1::interval`},
		{"waiting tasks past their TTL", `
			SELECT count(*) FROM tasks
			WHERE assignment_status IN ('pending', 'reserved') AND date_created + make_interval(secs => timeout) < now() - $1::interval`},
	}
	for _, q := range overdue {
		var n int
		if err := conn.QueryRow(ctx, q.sql, slack.String()).Scan(&n); err != nil {
			return fmt.Errorf("count %s: %w", q.what, err)
		}
		if n > 0 {
			r.anomaly("%d %s", n, q.what)
		}
	}
	late := []struct{ kind, sql string }{
		{"step (owner ring timeout)", `
			SELECT t.sid, t.date_created, t.date_created + $1::interval, e.date FROM events e JOIN tasks t ON t.sid = e.task_sid
			WHERE e.event_type = 'task-queue.timeout'`},
		{"reservation timeout", `
			SELECT res.sid, res.date_created, res.date_created + make_interval(secs => res.timeout), e.date
			FROM events e JOIN reservations res ON res.sid = e.reservation_sid
			WHERE e.event_type = 'reservation.timeout'`},
		{"task TTL", `
			SELECT t.sid, t.date_created, t.date_created + make_interval(secs => t.timeout), e.date
			FROM events e JOIN tasks t ON t.sid = e.task_sid
			WHERE e.event_type = 'task.canceled' AND t.reason = 'Task TTL Exceeded'`},
	}
	for _, q := range late {
		args := []any{}
		if strings.HasPrefix(q.kind, "step") {
			args = append(args, stepTimeout.String())
		}
		rows, err := conn.Query(ctx, q.sql, args...)
		if err != nil {
			return fmt.Errorf("read %s timers: %w", q.kind, err)
		}
		for rows.Next() {
			var sid string
			var created, due, fired time.Time
			if err := rows.Scan(&sid, &created, &due, &fired); err != nil {
				rows.Close()
				return err
			}
			lateBy := fired.Sub(due)
			r.Lateness[q.kind] = append(r.Lateness[q.kind], lateBy)
			allowed := slack
			for _, w := range outages {
				// Due while the database was down, or in the settle time
				// after it (degraded mode postpones those until the
				// journals are replayed): it fires once the instances
				// have reconnected (pool, breaker probe, timer poll).
				if back := w.to.Add(postponed); !due.Before(w.from.Add(-slack)) && due.Before(back) {
					allowed = back.Sub(due) + slack + recoverySlack
				}
				// Due shortly after the database is back: pools reconnect
				// and the instances catch up on a loaded machine, so allow
				// the recovery slack too (still a few seconds).
				if !due.Before(w.to) && due.Before(w.to.Add(postponed+recoveryWindow)) {
					allowed = max(allowed, slack+recoverySlack)
				}
				// Created during the outage (routed from memory, imported
				// afterwards): its timers run at least the import grace.
				if back := w.to.Add(engine.DegradedImportGrace); !created.Before(w.from) && created.Before(w.to) && due.Before(back) {
					allowed = max(allowed, back.Sub(due)+slack+recoverySlack)
				}
			}
			// A timer still within its allowance when the next outage began
			// (two outages a few seconds apart) waits through that one too,
			// and gets the same allowance after it.
			for changed := true; changed; {
				changed = false
				for _, w := range outages {
					if w.from.Before(due.Add(allowed)) && w.to.After(due) {
						if a := w.to.Add(postponed).Sub(due) + slack + recoverySlack; a > allowed {
							allowed, changed = a, true
						}
					}
				}
			}
			if lateBy > allowed {
				r.anomaly("%s timer of %s (due %s) fired %.1f s after its deadline (allowed %.1f s)", q.kind, sid,
					due.Format("15:04:05.000"), lateBy.Seconds(), allowed.Seconds())
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		r.Records["fired timers checked"] += len(r.Lateness[q.kind])
	}
	return nil
}
