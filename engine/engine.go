package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/routing"
)

// Default durations and limits of the state machine.
const (
	DefaultTimerPoll          = time.Second
	DefaultReservationTimeout = 120   // seconds, TaskRouter's default
	DefaultTaskTimeout        = 86400 // seconds, TaskRouter's default task TTL
	MaxTaskTimeout            = 365 * 86400
	DefaultTaskChannel        = "voice"

	// DefaultMessageCapacity is a new worker's message capacity. It is
	// enough for an owner to be offered every message left for them at
	// once, and few enough that one agent does not hold a whole backlog.
	DefaultMessageCapacity = 10

	// candidatesPerRound bounds how many index candidates one reservation
	// attempt tries before asking the index again.
	candidatesPerRound = 8
	// waitingScan bounds how many waiting tasks a freed worker looks at.
	waitingScan = 200
	// timersPerRun bounds one RunDueTimers call so a storm cannot starve callers.
	timersPerRun = 1000
)

// Config configures an Engine. Store and Clock are required.
type Config struct {
	Store      didrouter.Store
	Clock      didrouter.Clock
	Logger     *slog.Logger
	Normalizer *routing.Normalizer // nil means a US normalizer
	InstanceID string              // names this instance in logs
	TimerPoll  time.Duration       // real-time backstop poll of the timer loop, 1 s when 0
	WrapUp     time.Duration       // wrap-up time after a task is completed, none when 0
	// ReofferAfter is how long a task waiting at a step without timeout
	// keeps out the workers who missed it. Zero means DefaultReofferAfter,
	// and a negative value keeps them out for ever.
	ReofferAfter time.Duration
	// MissedCallsUnavailable moves a worker who missed or declined that
	// many reservations in a row to the workspace's "Unavailable" activity
	// (missed.go); 0 = never.
	MissedCallsUnavailable int
	// AgentAway moves a worker to Offline once the worker's last agent
	// desktop page has not been heard of for that long (presence.go);
	// 0 = never.
	AgentAway time.Duration
}

// Engine is the routing state machine. Its methods are safe for concurrent use.
type Engine struct {
	store  didrouter.Store
	clock  didrouter.Clock
	log    *slog.Logger
	norm   *routing.Normalizer
	id     string
	poll   time.Duration
	wrapUp time.Duration
	// reofferAfter is the cool-down before a waiting task is offered again
	// to the workers who missed it. At zero or below it never is.
	reofferAfter time.Duration
	missedLimit  int           // MissedCallsUnavailable; 0 = off
	away         time.Duration // AgentAway; 0 = off

	mu         sync.Mutex
	workspaces map[string]*wsIndex      // loaded worker indexes by workspace sid
	loading    map[string]chan struct{} // index loads under way (index.go), closed when done

	wfMu  sync.Mutex
	flows map[string]cachedWorkflow // parsed workflows by sid

	config configCache // workspaces and bindings read on every call

	own        ownChanges  // echoes of this instance's task changes to skip
	subscribed atomic.Bool // the change feed keeps caches current
	ready      atomic.Bool
	wake       chan struct{} // nudges the timer loop (a timer was set)
	paused     atomic.Bool   // routing held while degraded mode recovers (pause.go)
}

// New checks cfg and returns an Engine. Call Start to load the index and run
// the timer loop; without Start the engine loads each workspace's index on
// first use, and timers fire only when RunDueTimers is called.
func New(cfg Config) (*Engine, error) {
	if cfg.Store == nil {
		return nil, errors.New("engine: Config.Store is required")
	}
	if cfg.Clock == nil {
		return nil, errors.New("engine: Config.Clock is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Normalizer == nil {
		n, err := routing.NewNormalizer("US")
		if err != nil {
			return nil, fmt.Errorf("engine: default normalizer: %w", err)
		}
		cfg.Normalizer = n
	}
	if cfg.TimerPoll <= 0 {
		cfg.TimerPoll = DefaultTimerPoll
	}
	if cfg.WrapUp < 0 {
		return nil, errors.New("engine: Config.WrapUp must not be negative")
	}
	if cfg.ReofferAfter == 0 {
		cfg.ReofferAfter = DefaultReofferAfter
	}
	if cfg.MissedCallsUnavailable < 0 {
		return nil, errors.New("engine: Config.MissedCallsUnavailable must not be negative")
	}
	if cfg.AgentAway < 0 {
		return nil, errors.New("engine: Config.AgentAway must not be negative")
	}
	return &Engine{
		store:        cfg.Store,
		clock:        cfg.Clock,
		log:          cfg.Logger.With("instance", cfg.InstanceID),
		norm:         cfg.Normalizer,
		id:           cfg.InstanceID,
		poll:         cfg.TimerPoll,
		wrapUp:       cfg.WrapUp,
		reofferAfter: cfg.ReofferAfter,
		missedLimit:  cfg.MissedCallsUnavailable,
		away:         cfg.AgentAway,
		workspaces:   make(map[string]*wsIndex),
		flows:        make(map[string]cachedWorkflow),
		wake:         make(chan struct{}, 1),
	}, nil
}

// Ready reports whether Start has loaded the index of every workspace.
func (e *Engine) Ready() bool { return e.ready.Load() }

// Start subscribes to the store's changes, loads the index of every
// workspace, then applies changes and fires timers until ctx ends. It
// returns ctx's error when ctx ends, or the error that stopped it.
func (e *Engine) Start(ctx context.Context) error {
	// Subscribe before loading so that no change committed during the load is missed.
	changes, err := e.store.Subscribe(ctx)
	if err != nil {
		return fmt.Errorf("engine: subscribe to store changes: %w", err)
	}
	e.own.start()
	defer e.own.stop()
	e.subscribed.Store(true) // before reloadAll, which empties the caches
	defer e.subscribed.Store(false)
	e.config.apply(didrouter.Change{Kind: didrouter.ChangeResync}) // what was read while unsubscribed may be stale
	if err := e.reloadAll(ctx); err != nil {
		return fmt.Errorf("engine: load worker index: %w", err)
	}
	e.ready.Store(true)
	defer e.ready.Store(false)

	timerDone := make(chan error, 1)
	go func() { timerDone <- e.timerLoop(ctx) }()
	// An instance that stopped between freeing a worker and serving the
	// waiting calls (a crash, a kill) left callers waiting beside idle
	// agents: place them now.
	e.serveAllWaiting(ctx)

	for {
		select {
		case <-ctx.Done():
			<-timerDone
			return ctx.Err()
		case err := <-timerDone:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		case c, ok := <-changes:
			if !ok {
				if ctx.Err() != nil {
					<-timerDone
					return ctx.Err()
				}
				// The feed ended without ctx ending: resubscribe and reload,
				// so that nothing committed meanwhile is missed.
				changes, err = e.store.Subscribe(ctx)
				if err != nil {
					return fmt.Errorf("engine: resubscribe to store changes: %w", err)
				}
				c = didrouter.Change{Kind: didrouter.ChangeResync}
			}
			e.config.apply(c)
			if err := e.applyChange(ctx, c); err != nil && ctx.Err() == nil {
				// The index may now be stale: a full reload repairs it.
				e.log.WarnContext(ctx, "applying a store change failed", "then", "the index is reloaded",
					"kind", c.Kind, "sid", c.SID, "err", err)
				if err := e.reloadAll(ctx); err != nil && ctx.Err() == nil {
					e.log.ErrorContext(ctx, "reloading the worker index failed", "err", err)
				}
			}
		}
	}
}

// Sync reloads the worker index of every workspace from the store now, so
// that changes made by other instances are seen without waiting for the
// change feed (tests with two engines call it).
func (e *Engine) Sync(ctx context.Context) error {
	if err := e.reloadAll(ctx); err != nil {
		return fmt.Errorf("engine: sync: %w", err)
	}
	return nil
}

// nudge wakes the timer loop without blocking.
func (e *Engine) nudge() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}
