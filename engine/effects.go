package engine

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/didrouter/didrouter"
)

// effects collects what a transaction's caller must do once it commits:
// cache worker rows in the index, route tasks, serve freed workers. A
// transaction function may run more than once (the store retries on
// deadlocks), so it gets a fresh effects value on every run.
type effects struct {
	workers   []didrouter.Worker // committed worker rows to put into the index
	gone      []didrouter.Worker // deleted workers to drop from the index, by SID and WorkspaceSID
	route     []string           // tasks that became pending and should be routed
	serve     []string           // workers that may now take a waiting task
	leave     []string           // workers the engine made unavailable, whose pending reservations end after commit
	timers    bool               // a timer was set, so the timer loop must wake
	soonest   time.Time          // the earliest timer set, zero when none was
	lastEvent time.Time          // the date of the transaction's last event
	pending   []string           // tasks announced as pending by ChangeTask, and workers claimed by this transaction

	own *ownChanges // where announced task changes are marked as this instance's
	now time.Time
}

// notifyTask announces that a task became pending, to every instance.
func notifyTask(ctx context.Context, tx didrouter.Tx, fx *effects, workspaceSID, sid string) error {
	if err := tx.Notify(ctx, didrouter.Change{Kind: didrouter.ChangeTask, WorkspaceSID: workspaceSID, SID: sid}); err != nil {
		return fmt.Errorf("notify task change: %w", err)
	}
	fx.ownChange(sid)
	return nil
}

// ownChange marks the change this transaction announces for sid (a task, or
// a worker it claimed) as this instance's own, so that its echo from the
// change feed is skipped: the instance acts on it after commit itself.
func (fx *effects) ownChange(sid string) {
	if !slices.Contains(fx.pending, sid) {
		// The store sends one change per sid per transaction. Mark it now,
		// before commit: the echo can arrive before Tx returns.
		fx.pending = append(fx.pending, sid)
		if fx.own != nil {
			fx.own.mark([]string{sid}, fx.now)
		}
	}
}

func (fx *effects) noteWorker(w didrouter.Worker) {
	fx.workers = append(fx.workers, w)
}

func (fx *effects) routeTask(sid string) {
	if !slices.Contains(fx.route, sid) {
		fx.route = append(fx.route, sid)
	}
}

// leaveWorker gives up, after commit, the pending reservations of a worker
// the engine moved to an unavailable activity (as UpdateWorker does), so
// that a call ringing them moves on at once.
func (fx *effects) leaveWorker(sid string) {
	if !slices.Contains(fx.leave, sid) {
		fx.leave = append(fx.leave, sid)
	}
}

func (fx *effects) serveWorker(sid string) {
	if !slices.Contains(fx.serve, sid) {
		fx.serve = append(fx.serve, sid)
	}
}

// tx runs fn in a store transaction and, after commit, applies the index
// updates fn recorded. Routing and serving are left to the caller, which
// wants their results.
func (e *Engine) tx(ctx context.Context, fn func(tx didrouter.Tx, fx *effects) error) (*effects, error) {
	var fx *effects
	err := e.store.Tx(ctx, func(tx didrouter.Tx) error {
		if fx != nil {
			e.own.unmark(fx.pending) // the previous attempt rolled back
		}
		fx = &effects{own: &e.own, now: e.clock.Now()}
		return fn(timerTx{Tx: tx, fx: fx}, fx)
	})
	if err != nil {
		if fx != nil {
			e.own.unmark(fx.pending)
		}
		return nil, err
	}
	for _, w := range fx.workers {
		e.noteWorker(ctx, w)
	}
	for _, w := range fx.gone {
		e.forgetWorker(ctx, w.WorkspaceSID, w.SID)
	}
	// The timer loop polls every e.poll anyway and then schedules what is
	// due before its next poll; waking it (two store transactions) is only
	// worth it for a timer due sooner than that. Calls set timers a minute
	// or more ahead, so under load this saves two transactions per call.
	if fx.timers && (fx.soonest.IsZero() || fx.soonest.Before(e.clock.Now().Add(e.poll))) {
		e.nudge()
	}
	return fx, nil
}

// timerTx notes the earliest timer a transaction sets, and dates its
// events in the order they are written.
type timerTx struct {
	didrouter.Tx
	fx *effects
}

// InsertEvent keeps a transaction's events in order when listed by date:
// a new call's routing writes several in one transaction, often within one
// microsecond (the store's precision), where only their random sids would
// order them. Each gets at least a microsecond more than the one before.
func (t timerTx) InsertEvent(ctx context.Context, ev didrouter.Event) error {
	d := ev.Date.Truncate(time.Microsecond)
	if last := t.fx.lastEvent; !last.IsZero() && !d.After(last) {
		d = last.Add(time.Microsecond)
	}
	ev.Date, t.fx.lastEvent = d, d
	return t.Tx.InsertEvent(ctx, ev)
}

func (t timerTx) SetTimer(ctx context.Context, tm didrouter.Timer) error {
	if err := t.Tx.SetTimer(ctx, tm); err != nil {
		return err
	}
	if t.fx.soonest.IsZero() || tm.FireAt.Before(t.fx.soonest) {
		t.fx.soonest = tm.FireAt
	}
	return nil
}

// after routes the tasks and serves the workers fx names. It returns the
// first reservation made for wantTask, unless wantTask is "". It also
// returns the first error met. The rest of the work still runs, because
// one failure must not strand other work.
func (e *Engine) after(ctx context.Context, workspaceSID string, fx *effects, wantTask string) (*didrouter.Reservation, *didrouter.Worker, error) {
	var (
		res      *didrouter.Reservation
		worker   *didrouter.Worker
		firstErr error
	)
	for _, sid := range fx.leave {
		if err := e.rejectPendingOf(ctx, workspaceSID, sid); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	for _, sid := range fx.route {
		r, err := e.route(ctx, workspaceSID, sid)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if r != nil && sid == wantTask && res == nil {
			res, worker = &r.reservation, &r.worker
		}
	}
	for _, sid := range fx.serve {
		if _, err := e.serveWorker(ctx, workspaceSID, sid); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return res, worker, firstErr
}

// event inserts one event dated now.
func (e *Engine) event(ctx context.Context, tx didrouter.Tx, ev didrouter.Event, data map[string]any) error {
	ev, err := newEvent(ev, data, e.clock.Now())
	if err != nil {
		return err
	}
	return tx.InsertEvent(ctx, ev)
}

func taskEvent(t didrouter.Task, typ, desc string) didrouter.Event {
	return didrouter.Event{WorkspaceSID: t.WorkspaceSID, EventType: typ, ResourceType: "task", ResourceSID: t.SID,
		Description: desc, TaskSID: t.SID}
}

func reservationEvent(r didrouter.Reservation, typ, desc string) didrouter.Event {
	return didrouter.Event{WorkspaceSID: r.WorkspaceSID, EventType: typ, ResourceType: "reservation", ResourceSID: r.SID,
		Description: desc, TaskSID: r.TaskSID, WorkerSID: r.WorkerSID, ReservationSID: r.SID}
}

func workerEvent(w didrouter.Worker, typ, desc string) didrouter.Event {
	return didrouter.Event{WorkspaceSID: w.WorkspaceSID, EventType: typ, ResourceType: "worker", ResourceSID: w.SID,
		Description: desc, WorkerSID: w.SID}
}

// ownChanges counts the task changes this instance announced and has not
// yet heard back from the change feed. The instance already routed those
// tasks itself, so their echo is skipped. Counting per commit keeps a change
// from another instance for the same task from being lost: whichever of the
// two arrives second is still handled, and handling re-reads the task.
type ownChanges struct {
	mu     sync.Mutex
	active bool // only while subscribed: otherwise nothing would ever consume the marks
	marks  map[string]ownMark
}

type ownMark struct {
	n  int
	at time.Time
}

// ownMarkTTL bounds how long an unheard mark is kept (a notification lost
// with a broken connection is followed by a resync, which clears them all).
const ownMarkTTL = time.Minute

func (o *ownChanges) start() {
	o.mu.Lock()
	o.active, o.marks = true, make(map[string]ownMark)
	o.mu.Unlock()
}

func (o *ownChanges) stop() {
	o.mu.Lock()
	o.active, o.marks = false, nil
	o.mu.Unlock()
}

func (o *ownChanges) mark(sids []string, now time.Time) {
	if len(sids) == 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.active {
		return
	}
	if len(o.marks) > 10000 {
		for sid, m := range o.marks {
			if now.Sub(m.at) > ownMarkTTL {
				delete(o.marks, sid)
			}
		}
	}
	for _, sid := range sids {
		m := o.marks[sid]
		o.marks[sid] = ownMark{n: m.n + 1, at: now}
	}
}

// unmark takes back marks of a transaction that rolled back.
func (o *ownChanges) unmark(sids []string) {
	if len(sids) == 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, sid := range sids {
		m, ok := o.marks[sid]
		switch {
		case !ok:
		case m.n <= 1:
			delete(o.marks, sid)
		default:
			o.marks[sid] = ownMark{n: m.n - 1, at: m.at}
		}
	}
}

// echo reports whether a task change is the echo of one of ours (and uses it up).
func (o *ownChanges) echo(sid string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	m, ok := o.marks[sid]
	if !ok {
		return false
	}
	if m.n <= 1 {
		delete(o.marks, sid)
	} else {
		o.marks[sid] = ownMark{n: m.n - 1, at: m.at}
	}
	return true
}

func (o *ownChanges) clear() {
	o.mu.Lock()
	if o.active {
		o.marks = make(map[string]ownMark)
	}
	o.mu.Unlock()
}
