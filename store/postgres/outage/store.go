package outage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/didrouter/didrouter"
)

// DefaultMaxWait is how long one call waits for the database to come back.
// Twilio gives a webhook 15 s and the webhooks bound their decisions at
// 10 s, so waiting 6 s leaves time for the fallback answer.
const DefaultMaxWait = 6 * time.Second

// Backoff between two attempts.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = time.Second
)

// Config configures a Store.
type Config struct {
	// MaxWait is how long a call waits for the database. Zero means
	// DefaultMaxWait, and a negative wait means no retry.
	MaxWait time.Duration
	Logger  *slog.Logger
	// Unreachable classifies errors. Nil means the package's Unreachable.
	Unreachable func(error) bool
	// Clock dates outages and paces the retries. Nil means the system
	// clock.
	Clock didrouter.Clock
}

// Store is a didrouter.Store that rides out short outages of the one it
// wraps. Reads are tried again while the database is unreachable, and
// transactions only when the failure certainly changed nothing. The
// methods it does not override pass through unchanged, such as Subscribe,
// EachWorker and the lists the admin API uses.
type Store struct {
	didrouter.Store
	maxWait     time.Duration
	log         *slog.Logger
	unreachable func(error) bool
	clock       didrouter.Clock

	downSince atomic.Int64 // Unix nanoseconds of the current outage's first failure, or 0 while reachable
	outages   atomic.Int64 // outages seen
	retries   atomic.Int64 // calls tried again
}

var _ didrouter.Store = (*Store)(nil)

// New wraps s.
func New(s didrouter.Store, cfg Config) *Store {
	if cfg.MaxWait == 0 {
		cfg.MaxWait = DefaultMaxWait
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Unreachable == nil {
		cfg.Unreachable = Unreachable
	}
	if cfg.Clock == nil {
		cfg.Clock = didrouter.SystemClock{}
	}
	return &Store{Store: s, maxWait: cfg.MaxWait, log: cfg.Logger, unreachable: cfg.Unreachable, clock: cfg.Clock}
}

// Down reports since when the database has been unreachable. It is zero
// when the database answered the last call.
func (s *Store) Down() time.Time {
	if ns := s.downSince.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// Stats reports the outages seen and the calls tried again.
func (s *Store) Stats() (outages, retries int64) { return s.outages.Load(), s.retries.Load() }

// observe records whether the database answered.
func (s *Store) observe(ctx context.Context, err error) {
	switch {
	case err == nil || !s.unreachable(err):
		if since := s.downSince.Swap(0); since != 0 && (err == nil || ctx.Err() == nil) {
			s.log.InfoContext(ctx, "database reachable again", "down_for", s.clock.Now().Sub(time.Unix(0, since)).Round(time.Millisecond).String())
		}
	default:
		if s.downSince.CompareAndSwap(0, s.clock.Now().UnixNano()) {
			s.outages.Add(1)
			s.log.WarnContext(ctx, "database unreachable", "then", "calls wait a bounded time for it, then fall back", "err", err)
		}
	}
}

// probeTimeout bounds one attempt while the database is known to be down.
// Otherwise a host that drops packets would hold every call until its
// deadline.
const probeTimeout = time.Second

// do runs call until it succeeds, fails for another reason than an
// outage, retry says it may not be run again, or the wait is over. Once
// the database has been down for longer than one wait, a call makes one
// short attempt. Waiting again would only delay every webhook while
// degraded mode answers them.
func (s *Store) do(ctx context.Context, retry func(error) bool, call func(context.Context) error) error {
	if since := s.Down(); !since.IsZero() && s.clock.Now().Sub(since) > s.maxWait {
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		defer cancel()
		err := call(pctx)
		if err != nil && ctx.Err() == nil && pctx.Err() != nil {
			// The probe timed out, not the caller, so this is still an
			// outage.
			err = fmt.Errorf("%w: %w", errProbeTimeout, err)
		}
		s.observe(ctx, err)
		return err
	}
	deadline := s.clock.Now().Add(s.maxWait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	wait := minBackoff
	for {
		err := call(ctx)
		s.observe(ctx, err)
		if err == nil || s.maxWait < 0 || !s.unreachable(err) || !retry(err) || ctx.Err() != nil {
			return err
		}
		// Sleep with jitter so that waiting calls do not reconnect in step.
		d := wait/2 + rand.N(wait/2+1)
		if s.clock.Now().Add(d).After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-s.clock.After(d):
		}
		s.retries.Add(1)
		wait = min(2*wait, maxBackoff)
	}
}

func anyError(error) bool { return true }

// errProbeTimeout marks a one-shot attempt cut by probeTimeout.
var errProbeTimeout = errors.New("database did not answer within the probe timeout")

// read runs a read with retries.
func read[T any](ctx context.Context, s *Store, fn func(context.Context) (T, error)) (T, error) {
	var out T
	err := s.do(ctx, anyError, func(ctx context.Context) error {
		var err error
		out, err = fn(ctx)
		return err
	})
	return out, err
}

// Tx runs fn in a transaction of the wrapped store, trying again while the
// database cannot be reached and nothing was sent.
func (s *Store) Tx(ctx context.Context, fn func(didrouter.Tx) error) error {
	return s.do(ctx, retrySafe, func(ctx context.Context) error { return s.Store.Tx(ctx, fn) })
}

func (s *Store) GetWorkspace(ctx context.Context, sid string) (didrouter.Workspace, error) {
	return read(ctx, s, func(ctx context.Context) (didrouter.Workspace, error) { return s.Store.GetWorkspace(ctx, sid) })
}

func (s *Store) ListWorkspaces(ctx context.Context) ([]didrouter.Workspace, error) {
	return read(ctx, s, func(ctx context.Context) ([]didrouter.Workspace, error) { return s.Store.ListWorkspaces(ctx) })
}

func (s *Store) GetActivity(ctx context.Context, workspaceSID, sid string) (didrouter.Activity, error) {
	return read(ctx, s, func(ctx context.Context) (didrouter.Activity, error) {
		return s.Store.GetActivity(ctx, workspaceSID, sid)
	})
}

func (s *Store) ListActivities(ctx context.Context, workspaceSID string) ([]didrouter.Activity, error) {
	return read(ctx, s, func(ctx context.Context) ([]didrouter.Activity, error) {
		return s.Store.ListActivities(ctx, workspaceSID)
	})
}

func (s *Store) GetWorker(ctx context.Context, workspaceSID, sid string) (didrouter.Worker, error) {
	return read(ctx, s, func(ctx context.Context) (didrouter.Worker, error) { return s.Store.GetWorker(ctx, workspaceSID, sid) })
}

func (s *Store) WorkerByPhoneNumber(ctx context.Context, workspaceSID, e164 string) (didrouter.Worker, error) {
	return read(ctx, s, func(ctx context.Context) (didrouter.Worker, error) {
		return s.Store.WorkerByPhoneNumber(ctx, workspaceSID, e164)
	})
}

func (s *Store) GetTaskQueue(ctx context.Context, workspaceSID, sid string) (didrouter.TaskQueue, error) {
	return read(ctx, s, func(ctx context.Context) (didrouter.TaskQueue, error) {
		return s.Store.GetTaskQueue(ctx, workspaceSID, sid)
	})
}

func (s *Store) ListTaskQueues(ctx context.Context, workspaceSID string) ([]didrouter.TaskQueue, error) {
	return read(ctx, s, func(ctx context.Context) ([]didrouter.TaskQueue, error) {
		return s.Store.ListTaskQueues(ctx, workspaceSID)
	})
}

func (s *Store) GetWorkflow(ctx context.Context, workspaceSID, sid string) (didrouter.Workflow, error) {
	return read(ctx, s, func(ctx context.Context) (didrouter.Workflow, error) {
		return s.Store.GetWorkflow(ctx, workspaceSID, sid)
	})
}

func (s *Store) ListWorkflows(ctx context.Context, workspaceSID string) ([]didrouter.Workflow, error) {
	return read(ctx, s, func(ctx context.Context) ([]didrouter.Workflow, error) {
		return s.Store.ListWorkflows(ctx, workspaceSID)
	})
}

func (s *Store) GetTask(ctx context.Context, workspaceSID, sid string) (didrouter.Task, error) {
	return read(ctx, s, func(ctx context.Context) (didrouter.Task, error) { return s.Store.GetTask(ctx, workspaceSID, sid) })
}

func (s *Store) TaskByCallSID(ctx context.Context, workspaceSID, callSID string) (didrouter.Task, error) {
	return read(ctx, s, func(ctx context.Context) (didrouter.Task, error) {
		return s.Store.TaskByCallSID(ctx, workspaceSID, callSID)
	})
}

func (s *Store) WaitingTasks(ctx context.Context, workspaceSID string, limit int) ([]didrouter.Task, error) {
	return read(ctx, s, func(ctx context.Context) ([]didrouter.Task, error) {
		return s.Store.WaitingTasks(ctx, workspaceSID, limit)
	})
}

func (s *Store) GetReservation(ctx context.Context, workspaceSID, sid string) (didrouter.Reservation, error) {
	return read(ctx, s, func(ctx context.Context) (didrouter.Reservation, error) {
		return s.Store.GetReservation(ctx, workspaceSID, sid)
	})
}

func (s *Store) ListReservations(ctx context.Context, workspaceSID string, f didrouter.ReservationFilter) ([]didrouter.Reservation, error) {
	return read(ctx, s, func(ctx context.Context) ([]didrouter.Reservation, error) {
		return s.Store.ListReservations(ctx, workspaceSID, f)
	})
}

func (s *Store) GetBinding(ctx context.Context, e164 string) (didrouter.PhoneNumberBinding, error) {
	return read(ctx, s, func(ctx context.Context) (didrouter.PhoneNumberBinding, error) { return s.Store.GetBinding(ctx, e164) })
}

func (s *Store) ListBindings(ctx context.Context, workspaceSID string) ([]didrouter.PhoneNumberBinding, error) {
	return read(ctx, s, func(ctx context.Context) ([]didrouter.PhoneNumberBinding, error) {
		return s.Store.ListBindings(ctx, workspaceSID)
	})
}

// Unwrap returns the wrapped store. The server finds its
// didrouter.WebStore there, because sign-in state needs no outage
// handling.
func (s *Store) Unwrap() didrouter.Store { return s.Store }
