package degraded

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

// How often degraded mode looks, and how long it waits.
const (
	// replayEvery is how often the journal is looked at while the store answers.
	replayEvery = 500 * time.Millisecond
	// warmEvery is how often, while the store answers, the workspaces,
	// their workflows and the number bindings are read again for a later
	// outage.
	warmEvery = 5 * time.Second
	// defaultSettleAfter is how long after the store came back an entry
	// that depends on other instances' journals waits for them. Answers and
	// ends of calls are such entries. After that wait the entry is applied
	// as well as it can be.
	defaultSettleAfter = 3 * time.Second
	// pauseAfter is how long the store must have been down before routing
	// is held. A single failed call on a stale connection is not an outage.
	pauseAfter = time.Second
	// giveUpAfter bounds how long an entry whose call never appears in the
	// store is kept. Such a call's task was journaled by an instance that
	// is gone.
	giveUpAfter = 5 * time.Minute
)

// Engine is what degraded mode needs from *engine.Engine. That is its
// degraded-mode surface and the operations that replay what was journaled.
type Engine interface {
	Degraded() engine.Degraded
	AcceptReservation(ctx context.Context, workspaceSID, reservationSID string) (didrouter.Reservation, error)
	RejectReservation(ctx context.Context, workspaceSID, reservationSID, status string) (engine.TaskResult, error)
	EndCall(ctx context.Context, workspaceSID, taskSID, reason string) (didrouter.Task, error)
	CancelTask(ctx context.Context, workspaceSID, taskSID, reason string) (didrouter.Task, error)
	CreateTask(ctx context.Context, n engine.TaskInsert) (engine.TaskResult, error)
	Sync(ctx context.Context) error
}

// Router is what degraded mode uses of engine.Degraded. It routes from
// memory, imports what was routed that way, and holds routing in between.
type Router interface {
	Route(ctx context.Context, ws didrouter.Workspace, flow didrouter.Workflow, n engine.TaskInsert, mayReserve func(string) bool) (engine.DegradedCall, error)
	Release(workspaceSID, workerSID string)
	IsDID(workspaceSID, e164 string) bool
	Warm(ctx context.Context, workspaceSID, workflowSID string) (didrouter.Workflow, error)
	Import(ctx context.Context, dc engine.DegradedCall) (engine.DegradedImport, error)
	RouteImported(ctx context.Context, workspaceSID, taskSID string) error
	AdoptAnsweredReservation(ctx context.Context, workspaceSID, reservationSID string) (engine.Adoption, error)
	PauseRouting()
	ResumeRouting(ctx context.Context) error
}

var _ Router = engine.Degraded{}

// Config configures a Mode.
type Config struct {
	Engine Engine
	// Store is read and written while replaying. Serve passes the
	// outage.Store.
	Store didrouter.Store
	// Down says when the store became unreachable. It is zero while the
	// store is reachable.
	Down    func() time.Time
	Journal *Journal // this instance's journal
	// Members splits the workers among the instances during an outage.
	// When nil, as for a single instance, any worker may be reserved.
	Members      *Members
	WorkspaceSID string // the workspace of numbers without a binding
	Logger       *slog.Logger
	// SettleAfter is how long after the store is back an entry that may
	// depend on other instances' entries waits for them. Zero means
	// defaultSettleAfter, 3 s.
	SettleAfter time.Duration
	// StartWhen, when set, holds Run until it reports true. Serve passes
	// a check that the engine has loaded its worker index. Warming or
	// replaying before then would make the engine load a second index
	// beside the one Start is loading, which costs seconds of CPU and a
	// second copy of a million workers.
	StartWhen func() bool
	// Orphans, when its Glob is set, has Run replay the journals other
	// instances left behind. It is off by default.
	Orphans Orphans
	// Clock gives degraded mode the time of the settle wait, of an outage
	// and of journal entries. Give it the engine's clock, so that both
	// agree on when a timer is due. Nil means didrouter.SystemClock. The
	// wall clock paces the rounds of Run and Flush, as it paces the
	// engine's timer poll. So a fake clock changes what a round sees, not
	// how often rounds run.
	Clock didrouter.Clock
}

// Stats counts what degraded mode did.
type Stats struct {
	Calls, Reserved, Journaled, Replayed, Conflicts, Dropped int64
}

// Mode routes and records calls while the store is down, and replays the
// journal once it is back.
type Mode struct {
	cfg    Config
	router Router // cfg.Engine.Degraded()
	log    *slog.Logger

	ws atomic.Pointer[warmed] // the workspaces, workflows and number bindings as last read

	mu      sync.Mutex
	own     map[string]ownRes // reservations this instance made while degraded, by sid
	waiting []importedTask    // imported tasks left waiting, routed once settled
	upAt    time.Time         // when the store was last seen coming back
	downAt  time.Time         // when the store was last seen going away
	paused  bool              // holdRouting holds this instance's routing
	warned  map[string]bool   // problems already logged at warning level
	wasUp   bool

	calls, reserved, journaled, replayed, conflicts, dropped atomic.Int64
}

type ownRes struct{ ws, worker, call string }

type importedTask struct{ ws, task string }

// New returns a Mode. Call Run to warm it and replay its journal.
func New(cfg Config) (*Mode, error) {
	if cfg.Engine == nil || cfg.Store == nil || cfg.Down == nil || cfg.Journal == nil || cfg.WorkspaceSID == "" {
		return nil, errors.New("degraded: Engine, Store, Down, Journal and WorkspaceSID are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SettleAfter <= 0 {
		cfg.SettleAfter = defaultSettleAfter
	}
	if cfg.Clock == nil {
		cfg.Clock = didrouter.SystemClock{}
	}
	return &Mode{cfg: cfg, router: cfg.Engine.Degraded(), log: cfg.Logger, own: map[string]ownRes{}}, nil
}

// now is the time on the configured clock.
func (m *Mode) now() time.Time { return m.cfg.Clock.Now() }

// Ready reports whether degraded mode could take a call. It can once the
// workspace has been read while the store answered.
func (m *Mode) Ready() bool { return m.ws.Load() != nil }

// Active reports whether the store is known to be unreachable now.
func (m *Mode) Active() bool { return !m.cfg.Down().IsZero() }

// Recovering reports whether the store is back after an outage but the
// journals of the instances may not all be in it yet. That is so while
// this instance's routing is still held, until the store has answered for
// SettleAfter, or while its own journal has entries left. Meanwhile the
// store may say that a reservation rung during the outage is pending when
// an agent answered it, because the acceptance is still in a journal. The
// webhooks in webhooks/degraded.go do not decide from that.
func (m *Mode) Recovering() bool {
	if m.Active() {
		return false
	}
	m.mu.Lock()
	held := m.paused || (!m.downAt.IsZero() && !m.upAt.Before(m.downAt) && m.upForLocked() < m.cfg.SettleAfter)
	m.mu.Unlock()
	return held || m.cfg.Journal.Len() > 0
}

// Stats returns the counters.
func (m *Mode) Stats() Stats {
	return Stats{Calls: m.calls.Load(), Reserved: m.reserved.Load(), Journaled: m.journaled.Load(),
		Replayed: m.replayed.Load(), Conflicts: m.conflicts.Load(), Dropped: m.dropped.Load()}
}
