package engine

import (
	"context"
	"encoding/json"
	"slices"
)

// effects collects what a transaction's caller must do once it commits:
// cache worker rows in the index, route tasks, serve freed workers. A
// transaction function may run more than once (the store retries on
// deadlocks), so it gets a fresh effects value on every run.
type effects struct {
	workers []Worker // committed worker rows to put into the index
	gone    []Worker // deleted workers to drop from the index (SID, WorkspaceSID)
	route   []string // tasks that became pending and should be routed
	serve   []string // workers that may now take a waiting task
	timers  bool     // a timer was set: wake the timer loop
}

func (fx *effects) noteWorker(w Worker) {
	fx.workers = append(fx.workers, w)
}

func (fx *effects) routeTask(sid string) {
	if !slices.Contains(fx.route, sid) {
		fx.route = append(fx.route, sid)
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
func (e *Engine) tx(ctx context.Context, fn func(tx Tx, fx *effects) error) (*effects, error) {
	var fx *effects
	err := e.store.Tx(ctx, func(tx Tx) error {
		fx = &effects{}
		return fn(tx, fx)
	})
	if err != nil {
		return nil, err
	}
	for _, w := range fx.workers {
		e.noteWorker(ctx, w)
	}
	for _, w := range fx.gone {
		e.forgetWorker(ctx, w.WorkspaceSID, w.SID)
	}
	if fx.timers {
		e.nudge()
	}
	return fx, nil
}

// after routes the tasks and serves the workers fx names. It returns the
// first reservation made for wantTask ("" = none wanted), and the first
// error met (the others still run: one failure must not strand other work).
func (e *Engine) after(ctx context.Context, workspaceSID string, fx *effects, wantTask string) (*Reservation, *Worker, error) {
	var (
		res      *Reservation
		worker   *Worker
		firstErr error
	)
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
func (e *Engine) event(ctx context.Context, tx Tx, ev Event, data map[string]any) error {
	ev.SID = NewSID(PrefixEvent)
	if ev.Date.IsZero() {
		ev.Date = e.clock.Now()
	}
	if data == nil {
		ev.Data = "{}"
	} else {
		b, err := json.Marshal(data)
		if err != nil {
			return err
		}
		ev.Data = string(b)
	}
	return tx.InsertEvent(ctx, ev)
}

func taskEvent(t Task, typ, desc string) Event {
	return Event{WorkspaceSID: t.WorkspaceSID, EventType: typ, ResourceType: "task", ResourceSID: t.SID,
		Description: desc, TaskSID: t.SID}
}

func reservationEvent(r Reservation, typ, desc string) Event {
	return Event{WorkspaceSID: r.WorkspaceSID, EventType: typ, ResourceType: "reservation", ResourceSID: r.SID,
		Description: desc, TaskSID: r.TaskSID, WorkerSID: r.WorkerSID, ReservationSID: r.SID}
}

func workerEvent(w Worker, typ, desc string) Event {
	return Event{WorkspaceSID: w.WorkspaceSID, EventType: typ, ResourceType: "worker", ResourceSID: w.SID,
		Description: desc, WorkerSID: w.SID}
}
