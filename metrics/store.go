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
	start := time.Now()
	err := s.Store.Ping(ctx)
	s.m.observe("Ping", start, err)
	return err
}

func (s *store) GetWorkspace(ctx context.Context, sid string) (didrouter.Workspace, error) {
	start := time.Now()
	v, err := s.Store.GetWorkspace(ctx, sid)
	s.m.observe("GetWorkspace", start, err)
	return v, err
}

func (s *store) ListWorkspaces(ctx context.Context) ([]didrouter.Workspace, error) {
	start := time.Now()
	v, err := s.Store.ListWorkspaces(ctx)
	s.m.observe("ListWorkspaces", start, err)
	return v, err
}

func (s *store) GetActivity(ctx context.Context, ws, sid string) (didrouter.Activity, error) {
	start := time.Now()
	v, err := s.Store.GetActivity(ctx, ws, sid)
	s.m.observe("GetActivity", start, err)
	return v, err
}

func (s *store) ListActivities(ctx context.Context, ws string) ([]didrouter.Activity, error) {
	start := time.Now()
	v, err := s.Store.ListActivities(ctx, ws)
	s.m.observe("ListActivities", start, err)
	return v, err
}

func (s *store) GetWorker(ctx context.Context, ws, sid string) (didrouter.Worker, error) {
	start := time.Now()
	v, err := s.Store.GetWorker(ctx, ws, sid)
	s.m.observe("GetWorker", start, err)
	return v, err
}

func (s *store) WorkerByPhoneNumber(ctx context.Context, ws, e164 string) (didrouter.Worker, error) {
	start := time.Now()
	v, err := s.Store.WorkerByPhoneNumber(ctx, ws, e164)
	s.m.observe("WorkerByPhoneNumber", start, err)
	return v, err
}

func (s *store) ListWorkers(ctx context.Context, ws string, f didrouter.WorkerFilter) ([]didrouter.Worker, error) {
	start := time.Now()
	v, err := s.Store.ListWorkers(ctx, ws, f)
	s.m.observe("ListWorkers", start, err)
	return v, err
}

func (s *store) EachWorker(ctx context.Context, ws string, fn func(didrouter.Worker) error) error {
	start := time.Now()
	err := s.Store.EachWorker(ctx, ws, fn)
	s.m.observe("EachWorker", start, err)
	return err
}

func (s *store) GetTaskQueue(ctx context.Context, ws, sid string) (didrouter.TaskQueue, error) {
	start := time.Now()
	v, err := s.Store.GetTaskQueue(ctx, ws, sid)
	s.m.observe("GetTaskQueue", start, err)
	return v, err
}

func (s *store) ListTaskQueues(ctx context.Context, ws string) ([]didrouter.TaskQueue, error) {
	start := time.Now()
	v, err := s.Store.ListTaskQueues(ctx, ws)
	s.m.observe("ListTaskQueues", start, err)
	return v, err
}

func (s *store) GetWorkflow(ctx context.Context, ws, sid string) (didrouter.Workflow, error) {
	start := time.Now()
	v, err := s.Store.GetWorkflow(ctx, ws, sid)
	s.m.observe("GetWorkflow", start, err)
	return v, err
}

func (s *store) ListWorkflows(ctx context.Context, ws string) ([]didrouter.Workflow, error) {
	start := time.Now()
	v, err := s.Store.ListWorkflows(ctx, ws)
	s.m.observe("ListWorkflows", start, err)
	return v, err
}

func (s *store) GetTask(ctx context.Context, ws, sid string) (didrouter.Task, error) {
	start := time.Now()
	v, err := s.Store.GetTask(ctx, ws, sid)
	s.m.observe("GetTask", start, err)
	return v, err
}

func (s *store) TaskByCallSID(ctx context.Context, ws, callSID string) (didrouter.Task, error) {
	start := time.Now()
	v, err := s.Store.TaskByCallSID(ctx, ws, callSID)
	s.m.observe("TaskByCallSID", start, err)
	return v, err
}

func (s *store) ListTasks(ctx context.Context, ws string, f didrouter.TaskFilter) ([]didrouter.Task, error) {
	start := time.Now()
	v, err := s.Store.ListTasks(ctx, ws, f)
	s.m.observe("ListTasks", start, err)
	return v, err
}

func (s *store) WaitingTasks(ctx context.Context, ws string, limit int) ([]didrouter.Task, error) {
	start := time.Now()
	v, err := s.Store.WaitingTasks(ctx, ws, limit)
	s.m.observe("WaitingTasks", start, err)
	return v, err
}

func (s *store) GetReservation(ctx context.Context, ws, sid string) (didrouter.Reservation, error) {
	start := time.Now()
	v, err := s.Store.GetReservation(ctx, ws, sid)
	s.m.observe("GetReservation", start, err)
	return v, err
}

func (s *store) ListReservations(ctx context.Context, ws string, f didrouter.ReservationFilter) ([]didrouter.Reservation, error) {
	start := time.Now()
	v, err := s.Store.ListReservations(ctx, ws, f)
	s.m.observe("ListReservations", start, err)
	return v, err
}

func (s *store) ListEvents(ctx context.Context, ws string, f didrouter.EventFilter) ([]didrouter.Event, error) {
	start := time.Now()
	v, err := s.Store.ListEvents(ctx, ws, f)
	s.m.observe("ListEvents", start, err)
	return v, err
}

func (s *store) GetBinding(ctx context.Context, e164 string) (didrouter.PhoneNumberBinding, error) {
	start := time.Now()
	v, err := s.Store.GetBinding(ctx, e164)
	s.m.observe("GetBinding", start, err)
	return v, err
}

func (s *store) ListBindings(ctx context.Context, ws string) ([]didrouter.PhoneNumberBinding, error) {
	start := time.Now()
	v, err := s.Store.ListBindings(ctx, ws)
	s.m.observe("ListBindings", start, err)
	return v, err
}
