package metrics

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/didrouter/didrouter"
)

// Store wraps st so that every read and every transaction is timed, store
// failures are counted, and the transitions a committed transaction
// recorded (its events, a task becoming assigned) feed the call and
// reservation counters. Only committed work is counted: a transaction the
// store retried or rolled back counts once or not at all.
func (m *Metrics) Store(st didrouter.Store) didrouter.Store {
	return &store{Store: st, m: m}
}

type store struct {
	didrouter.Store
	m *Metrics
}

// observe times one operation and counts its failure. A missing row or a
// conflict is an answer, not a store failure.
func (m *Metrics) observe(op string, start time.Time, err error) {
	m.storeDuration.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if err != nil {
		switch didrouter.ErrorCode(err) {
		case didrouter.ENOTFOUND, didrouter.ECONFLICT, didrouter.EINVALID, didrouter.EUNAVAILABLE:
		default:
			m.storeErrors.WithLabelValues(op).Inc()
		}
	}
}

// timed runs one read of the store through observe.
func timed[T any](m *Metrics, op string, read func() (T, error)) (T, error) {
	start := time.Now()
	v, err := read()
	m.observe(op, start, err)
	return v, err
}

// timedErr is timed for a read that returns nothing but an error.
func timedErr(m *Metrics, op string, read func() error) error {
	_, err := timed(m, op, func() (struct{}, error) { return struct{}{}, read() })
	return err
}

func (s *store) Tx(ctx context.Context, fn func(didrouter.Tx) error) error {
	start := time.Now()
	var (
		seen  *txObserver
		fnErr error
	)
	err := s.Store.Tx(ctx, func(tx didrouter.Tx) error {
		seen = &txObserver{Tx: tx} // the store may run fn again: keep the last run only
		fnErr = fn(seen)
		return fnErr
	})
	if err != nil && fnErr != nil && errors.Is(err, fnErr) {
		// The caller's own decision to roll back (a task that moved, a
		// worker taken meanwhile) is not a store failure.
		s.m.observe("tx", start, nil)
	} else {
		s.m.observe("tx", start, err)
	}
	if err == nil && seen != nil {
		s.m.committed(seen, time.Now())
	}
	return err
}

// txObserver notes the transitions written in one transaction.
type txObserver struct {
	didrouter.Tx
	events   []string
	assigned []didrouter.Task
}

func (t *txObserver) InsertEvent(ctx context.Context, e didrouter.Event) error {
	err := t.Tx.InsertEvent(ctx, e)
	if err == nil {
		t.events = append(t.events, e.EventType)
	}
	return err
}

func (t *txObserver) UpdateTask(ctx context.Context, task didrouter.Task) (didrouter.Task, error) {
	out, err := t.Tx.UpdateTask(ctx, task)
	if err == nil && task.AssignmentStatus == didrouter.TaskAssigned {
		t.assigned = append(t.assigned, task)
	}
	return out, err
}

// committed counts what a committed transaction did.
func (m *Metrics) committed(t *txObserver, now time.Time) {
	for _, typ := range t.events {
		switch {
		case strings.HasPrefix(typ, "reservation."):
			m.reservations.WithLabelValues(strings.TrimPrefix(typ, "reservation.")).Inc()
		case typ == didrouter.EventTaskCanceled:
			m.calls.WithLabelValues(OutcomeAbandoned).Inc()
		}
	}
	for _, task := range t.assigned {
		// The first target of a matched filter is the task's first choice:
		// the number's owner in the DID workflow.
		m.callAnswered(didrouter.FirstTarget(task.FilterIndex, task.TargetIndex), now.Sub(task.DateCreated))
	}
}

func (s *store) Ping(ctx context.Context) error {
	return timedErr(s.m, "Ping", func() error { return s.Store.Ping(ctx) })
}

func (s *store) GetWorkspace(ctx context.Context, sid string) (didrouter.Workspace, error) {
	return timed(s.m, "GetWorkspace", func() (didrouter.Workspace, error) { return s.Store.GetWorkspace(ctx, sid) })
}

func (s *store) ListWorkspaces(ctx context.Context) ([]didrouter.Workspace, error) {
	return timed(s.m, "ListWorkspaces", func() ([]didrouter.Workspace, error) { return s.Store.ListWorkspaces(ctx) })
}

func (s *store) GetActivity(ctx context.Context, ws, sid string) (didrouter.Activity, error) {
	return timed(s.m, "GetActivity", func() (didrouter.Activity, error) { return s.Store.GetActivity(ctx, ws, sid) })
}

func (s *store) ListActivities(ctx context.Context, ws string) ([]didrouter.Activity, error) {
	return timed(s.m, "ListActivities", func() ([]didrouter.Activity, error) { return s.Store.ListActivities(ctx, ws) })
}

func (s *store) GetWorker(ctx context.Context, ws, sid string) (didrouter.Worker, error) {
	return timed(s.m, "GetWorker", func() (didrouter.Worker, error) { return s.Store.GetWorker(ctx, ws, sid) })
}

func (s *store) WorkerByPhoneNumber(ctx context.Context, ws, e164 string) (didrouter.Worker, error) {
	return timed(s.m, "WorkerByPhoneNumber", func() (didrouter.Worker, error) { return s.Store.WorkerByPhoneNumber(ctx, ws, e164) })
}

func (s *store) ListWorkers(ctx context.Context, ws string, f didrouter.WorkerFilter) ([]didrouter.Worker, error) {
	return timed(s.m, "ListWorkers", func() ([]didrouter.Worker, error) { return s.Store.ListWorkers(ctx, ws, f) })
}

func (s *store) EachWorker(ctx context.Context, ws string, fn func(didrouter.Worker) error) error {
	return timedErr(s.m, "EachWorker", func() error { return s.Store.EachWorker(ctx, ws, fn) })
}

func (s *store) GetTaskQueue(ctx context.Context, ws, sid string) (didrouter.TaskQueue, error) {
	return timed(s.m, "GetTaskQueue", func() (didrouter.TaskQueue, error) { return s.Store.GetTaskQueue(ctx, ws, sid) })
}

func (s *store) ListTaskQueues(ctx context.Context, ws string) ([]didrouter.TaskQueue, error) {
	return timed(s.m, "ListTaskQueues", func() ([]didrouter.TaskQueue, error) { return s.Store.ListTaskQueues(ctx, ws) })
}

func (s *store) GetWorkflow(ctx context.Context, ws, sid string) (didrouter.Workflow, error) {
	return timed(s.m, "GetWorkflow", func() (didrouter.Workflow, error) { return s.Store.GetWorkflow(ctx, ws, sid) })
}

func (s *store) ListWorkflows(ctx context.Context, ws string) ([]didrouter.Workflow, error) {
	return timed(s.m, "ListWorkflows", func() ([]didrouter.Workflow, error) { return s.Store.ListWorkflows(ctx, ws) })
}

func (s *store) GetTask(ctx context.Context, ws, sid string) (didrouter.Task, error) {
	return timed(s.m, "GetTask", func() (didrouter.Task, error) { return s.Store.GetTask(ctx, ws, sid) })
}

func (s *store) TaskByCallSID(ctx context.Context, ws, callSID string) (didrouter.Task, error) {
	return timed(s.m, "TaskByCallSID", func() (didrouter.Task, error) { return s.Store.TaskByCallSID(ctx, ws, callSID) })
}

func (s *store) ListTasks(ctx context.Context, ws string, f didrouter.TaskFilter) ([]didrouter.Task, error) {
	return timed(s.m, "ListTasks", func() ([]didrouter.Task, error) { return s.Store.ListTasks(ctx, ws, f) })
}

func (s *store) WaitingTasks(ctx context.Context, ws string, limit int) ([]didrouter.Task, error) {
	return timed(s.m, "WaitingTasks", func() ([]didrouter.Task, error) { return s.Store.WaitingTasks(ctx, ws, limit) })
}

func (s *store) GetReservation(ctx context.Context, ws, sid string) (didrouter.Reservation, error) {
	return timed(s.m, "GetReservation", func() (didrouter.Reservation, error) { return s.Store.GetReservation(ctx, ws, sid) })
}

func (s *store) ListReservations(ctx context.Context, ws string, f didrouter.ReservationFilter) ([]didrouter.Reservation, error) {
	return timed(s.m, "ListReservations", func() ([]didrouter.Reservation, error) { return s.Store.ListReservations(ctx, ws, f) })
}

func (s *store) ListEvents(ctx context.Context, ws string, f didrouter.EventFilter) ([]didrouter.Event, error) {
	return timed(s.m, "ListEvents", func() ([]didrouter.Event, error) { return s.Store.ListEvents(ctx, ws, f) })
}

func (s *store) GetBinding(ctx context.Context, e164 string) (didrouter.PhoneNumberBinding, error) {
	return timed(s.m, "GetBinding", func() (didrouter.PhoneNumberBinding, error) { return s.Store.GetBinding(ctx, e164) })
}

func (s *store) ListBindings(ctx context.Context, ws string) ([]didrouter.PhoneNumberBinding, error) {
	return timed(s.m, "ListBindings", func() ([]didrouter.PhoneNumberBinding, error) { return s.Store.ListBindings(ctx, ws) })
}
