package degraded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/didrouter/didrouter/engine"
)

// Replay timing.
const (
	// replayEvery is how often the journal is looked at while the store answers.
	replayEvery = 500 * time.Millisecond
	// warmEvery is how often, while the store answers, the workspace and
	// its workflow are refreshed for a later outage.
	warmEvery = 5 * time.Second
	// defaultSettleAfter is how long after the store came back an entry
	// that depends on other instances' journals (an answer, the end of a
	// call) waits for them before it is applied as well as it can be.
	defaultSettleAfter = 3 * time.Second
	// pauseAfter is how long the store must have been down before routing
	// is held: a single failed call on a stale connection is not an outage.
	pauseAfter = time.Second
	// giveUpAfter bounds how long an entry whose call never appears in the
	// store is kept (its task was journaled by an instance that is gone).
	giveUpAfter = 5 * time.Minute
)

// Engine is what degraded mode needs from *engine.Engine.
type Engine interface {
	RouteDegraded(ctx context.Context, ws engine.Workspace, flow engine.Workflow, n engine.NewTask, mayReserve func(string) bool) (engine.DegradedCall, error)
	ImportDegraded(ctx context.Context, dc engine.DegradedCall) (engine.DegradedImport, error)
	RouteImported(ctx context.Context, workspaceSID, taskSID string) error
	PauseRouting()
	ResumeRouting(ctx context.Context) error
	ReleaseDegraded(workspaceSID, workerSID string)
	DegradedIsDID(workspaceSID, e164 string) bool
	WarmDegraded(ctx context.Context, workspaceSID, workflowSID string) (engine.Workflow, error)
	AcceptReservation(ctx context.Context, workspaceSID, reservationSID string) (engine.Reservation, error)
	AdoptAnsweredReservation(ctx context.Context, workspaceSID, reservationSID string) (engine.Adoption, error)
	RejectReservation(ctx context.Context, workspaceSID, reservationSID, status string) (engine.TaskResult, error)
	EndCall(ctx context.Context, workspaceSID, taskSID, reason string) (engine.Task, error)
	CancelTask(ctx context.Context, workspaceSID, taskSID, reason string) (engine.Task, error)
	CreateTask(ctx context.Context, n engine.NewTask) (engine.TaskResult, error)
	Sync(ctx context.Context) error
}

// Config configures a Mode.
type Config struct {
	Engine       Engine
	Store        engine.Store     // reads and writes while replaying (through outage.Store)
	Down         func() time.Time // when the store became unreachable; zero = reachable
	Journal      *Journal         // this instance's journal
	Members      *Members         // nil: reserve any worker (a single instance)
	WorkspaceSID string           // the workspace of numbers without a binding
	Logger       *slog.Logger
	// SettleAfter is how long after the store is back an entry that may
	// depend on other instances' entries waits for them; 0 = 10 s.
	SettleAfter time.Duration
	// StartWhen, when set, holds Run until it reports true (serve: the
	// engine has loaded its worker index). Warming or replaying before
	// then would make the engine load a second index of its own beside
	// the one Start is loading (seconds of CPU and a second copy of the
	// workers at a million of them).
	StartWhen func() bool
	// Orphans, when its Glob is set, has Run replay the journals other
	// instances left behind (see Orphans). Off by default.
	Orphans Orphans
	// Clock measures how long the store has been back (the settle time);
	// nil = engine.SystemClock.
	Clock engine.Clock
}

// Stats counts what degraded mode did.
type Stats struct {
	Calls, Reserved, Journaled, Replayed, Conflicts, Dropped int64
}

// Mode routes and records calls while the store is down, and replays the
// journal once it is back.
type Mode struct {
	cfg Config
	log *slog.Logger

	ws atomic.Pointer[warmed] // the workspaces, workflows and number bindings as last read

	mu      sync.Mutex
	own     map[string]ownRes // reservations this instance made degraded, by sid
	waiting []importedTask    // imported tasks left waiting, routed once settled
	upAt    time.Time         // when the store was last seen coming back
	downAt  time.Time         // when the store was last seen going away
	paused  bool              // this instance's routing is held (holdRouting)
	warned  map[string]bool   // problems already logged at warning level
	wasUp   bool

	calls, reserved, journaled, replayed, conflicts, dropped atomic.Int64
}

type ownRes struct{ ws, worker, call string }

type importedTask struct{ ws, task string }

// warmed is what Incoming routes with: the default workspace and its
// workflow, and the workspace and workflow of each bound number.
type warmed struct {
	def       target
	bound     map[string]target // by dialed number (E.164)
	boundRead bool              // bound holds every binding (they were read at least once)
}

// target is where a call goes: a workspace and one of its workflows.
type target struct {
	ws   engine.Workspace
	flow engine.Workflow
}

// New returns a Mode; call Run to warm it and replay its journal.
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
		cfg.Clock = engine.SystemClock{}
	}
	return &Mode{cfg: cfg, log: cfg.Logger, own: map[string]ownRes{}}, nil
}

// Ready reports whether degraded mode could take a call: the workspace
// has been read while the store answered.
func (m *Mode) Ready() bool { return m.ws.Load() != nil }

// Active reports whether the store is known to be unreachable now.
func (m *Mode) Active() bool { return !m.cfg.Down().IsZero() }

// Recovering reports whether the store is back after an outage but the
// journals of the instances may not all be in it yet: this instance's
// routing is still held (until the store has answered for SettleAfter), or
// its own journal has entries left. Until then the store may say that a
// reservation rung during the outage is pending when an agent answered it
// (the acceptance is in a journal): the webhooks do not decide from that
// (see webhooks/degraded.go).
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

// Run keeps the in-memory routing data warm while the store answers and
// replays the journal whenever it has entries and the store answers, until
// ctx ends.
func (m *Mode) Run(ctx context.Context) {
	replay := time.NewTicker(replayEvery)
	defer replay.Stop()
	for m.cfg.StartWhen != nil && !m.cfg.StartWhen() {
		select {
		case <-ctx.Done():
			return
		case <-replay.C:
		}
	}
	var lastWarm time.Time
	adoptEvery := m.cfg.Orphans.Every
	if adoptEvery <= 0 {
		adoptEvery = defaultAdoptEvery
	}
	lastAdopt := time.Now().Add(-adoptEvery) // look once the first replay is done
	for {
		if m.Active() {
			// Ask the store whether it is back (one short attempt through
			// outage.Store, which clears its outage on success): the
			// replay must not wait for some other call to find out.
			_, _ = m.cfg.Store.GetWorkspace(ctx, m.cfg.WorkspaceSID)
		}
		up := !m.Active()
		m.mu.Lock()
		recovered := up && !m.wasUp
		if recovered {
			m.upAt = m.cfg.Clock.Now()
		}
		if since := m.cfg.Down(); !up && !since.IsZero() {
			m.downAt = since
		}
		m.wasUp = up
		downAt := m.downAt
		m.mu.Unlock()
		if recovered && m.journaledSince(downAt) {
			m.postponeTimers(ctx)
		}
		m.holdRouting(ctx, up)
		if up && time.Since(lastWarm) >= warmEvery {
			if err := m.warm(ctx); err == nil {
				lastWarm = time.Now()
			} else if ctx.Err() == nil {
				m.log.DebugContext(ctx, "degraded: warming failed", "err", err)
			}
		}
		if up && m.cfg.Journal.Len() > 0 {
			m.replay(ctx)
		}
		m.mu.Lock()
		settled := up && m.upForLocked() >= m.cfg.SettleAfter
		m.mu.Unlock()
		if settled {
			// Not only in a replay round: a journal emptied before the
			// settle time (its calls imported waiting) starts no round
			// that would route them, and they would keep this instance
			// from adopting the journals of gone instances (calm).
			m.routeWaiting(ctx)
		}
		m.mu.Lock()
		calm := up && !m.paused && len(m.waiting) == 0
		m.mu.Unlock()
		if calm && m.cfg.Orphans.Glob != "" && m.cfg.Journal.Len() == 0 && time.Since(lastAdopt) >= adoptEvery {
			lastAdopt = time.Now()
			m.adoptOrphans(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-replay.C:
		}
	}
}

// holdRouting pauses this instance's routing while the store is down and
// resumes it once the store has answered for SettleAfter: in between, every
// instance imports the calls it routed from memory (their workers are still
// free in the store's eyes until then), and nothing here reserves a worker
// one of them holds.
func (m *Mode) holdRouting(ctx context.Context, up bool) {
	m.mu.Lock()
	paused, upFor := m.paused, m.upForLocked()
	switch {
	case !up && !paused && time.Since(m.cfg.Down()) >= pauseAfter:
		m.paused = true
	case up && paused && upFor >= m.cfg.SettleAfter:
		m.paused = false
	default:
		m.mu.Unlock()
		return
	}
	m.mu.Unlock()
	if !up {
		m.cfg.Engine.PauseRouting()
		m.log.InfoContext(ctx, "degraded: routing held until the journals are replayed")
		return
	}
	if err := m.cfg.Engine.ResumeRouting(ctx); err != nil {
		m.log.WarnContext(ctx, "degraded: resuming routing: some waiting calls were not routed; they wait for a free worker", "err", err)
	}
	m.log.InfoContext(ctx, "degraded: routing resumed")
}

// upForLocked is how long the store has answered since it was last seen
// coming back (m.mu held).
func (m *Mode) upForLocked() time.Duration { return m.cfg.Clock.Now().Sub(m.upAt) }

// journaledSince reports whether entries journaled since t are pending
// (this outage left something to replay).
func (m *Mode) journaledSince(t time.Time) bool {
	for _, e := range m.cfg.Journal.Pending() {
		if !e.At.Before(t) {
			return true
		}
	}
	return false
}

// postponeTimers moves the timers that fell due while the store was down
// to SettleAfter from now, once, when this instance has journaled entries
// to replay: a step or reservation timer must not move a call on before
// the journals say the agent answered it.
func (m *Mode) postponeTimers(ctx context.Context) {
	until := time.Now().Add(m.cfg.SettleAfter)
	n := 0
	err := m.cfg.Store.Tx(ctx, func(tx engine.Tx) error {
		n = 0
		due, err := tx.ClaimDueTimers(ctx, until, 1000)
		if err != nil {
			return err
		}
		for _, tm := range due {
			if tm.FireAt.Before(until) {
				tm.FireAt = until
			}
			if err := tx.SetTimer(ctx, tm); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		m.log.WarnContext(ctx, "degraded: postponing the timers due during the outage failed", "err", err)
		return
	}
	m.log.InfoContext(ctx, "degraded: timers due during the outage wait for the journals", "timers", n, "until", until)
}

// warm reads the default workspace and the number bindings, and makes
// sure their workflows and worker indexes are in the engine's memory.
func (m *Mode) warm(ctx context.Context) error {
	ws, err := m.cfg.Store.GetWorkspace(ctx, m.cfg.WorkspaceSID)
	if err != nil {
		return err
	}
	if ws.DefaultWorkflowSID == "" {
		return errors.New("degraded: the workspace has no default workflow")
	}
	flow, err := m.cfg.Engine.WarmDegraded(ctx, ws.SID, ws.DefaultWorkflowSID)
	if err != nil {
		return err
	}
	w := &warmed{def: target{ws: ws, flow: flow}, bound: map[string]target{}, boundRead: true}
	if err := m.warmBindings(ctx, w); err != nil {
		// Keep the bindings read last time rather than route every
		// bound number by the default workflow.
		if old := m.ws.Load(); old != nil {
			w.bound, w.boundRead = old.bound, old.boundRead
		}
		m.log.WarnContext(ctx, "degraded: reading the number bindings failed; keeping those read before", "err", err)
	}
	m.ws.Store(w)
	return nil
}

// warmBindings reads every number binding into w, with its workspace and
// workflow. A binding whose workflow cannot be read is left out (logged):
// its number is routed by the default workflow while the store is down.
func (m *Mode) warmBindings(ctx context.Context, w *warmed) error {
	spaces, err := m.cfg.Store.ListWorkspaces(ctx)
	if err != nil {
		return fmt.Errorf("list workspaces: %w", err)
	}
	flows := map[string]target{} // by workspace and workflow sid
	for _, ws := range spaces {
		bindings, err := m.cfg.Store.ListBindings(ctx, ws.SID)
		if err != nil {
			return fmt.Errorf("list the number bindings of %s: %w", ws.SID, err)
		}
		for _, b := range bindings {
			flowSID := b.WorkflowSID
			if flowSID == "" {
				flowSID = ws.DefaultWorkflowSID
			}
			key := ws.SID + "/" + flowSID
			t, ok := flows[key]
			if !ok {
				flow, err := m.cfg.Engine.WarmDegraded(ctx, ws.SID, flowSID)
				if err != nil {
					level := slog.LevelWarn
					if m.warnedOnce("binding " + b.PhoneNumber + " " + flowSID) {
						level = slog.LevelDebug // said already (warm runs every few seconds)
					}
					m.log.Log(ctx, level, "degraded: a bound number's workflow cannot be read; the number is routed by the default workflow during an outage",
						"phone_number", b.PhoneNumber, "workspace_sid", ws.SID, "workflow_sid", flowSID, "err", err)
					continue
				}
				t = target{ws: ws, flow: flow}
				flows[key] = t
			}
			w.bound[b.PhoneNumber] = t
		}
	}
	return nil
}

// warnedOnce reports whether key was seen before, and remembers it.
func (m *Mode) warnedOnce(key string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.warned == nil {
		m.warned = map[string]bool{}
	}
	seen := m.warned[key]
	m.warned[key] = true
	return seen
}

// Incoming routes a new call to dialed (E.164) without the store and
// journals it. n needs no workspace or workflow: those of dialed's binding
// as last read while the store answered are used, else the default
// workspace and its default workflow.
func (m *Mode) Incoming(ctx context.Context, dialed string, n engine.NewTask) (engine.Workspace, engine.TaskResult, error) {
	w := m.ws.Load()
	if w == nil {
		return engine.Workspace{}, engine.TaskResult{}, errors.New("degraded: the workspace was never read")
	}
	to := w.def
	if b, ok := w.bound[dialed]; ok {
		to = b
	}
	ws := to.ws
	n.WorkspaceSID, n.WorkflowSID = ws.SID, to.flow.SID
	var mayReserve func(string) bool
	if m.cfg.Members != nil {
		since := m.cfg.Down()
		if since.IsZero() {
			since = time.Now()
		}
		mayReserve = func(worker string) bool { return m.cfg.Members.Mine(worker, since) }
	}
	dc, err := m.cfg.Engine.RouteDegraded(ctx, ws, to.flow, n, mayReserve)
	if err != nil {
		return ws, engine.TaskResult{}, err
	}
	if _, err := m.journal(Entry{Op: OpCall, WS: ws.SID, Task: dc.Task.SID, CallSID: dc.Task.CallSID, Call: &dc}); err != nil {
		if dc.Reservation != nil {
			m.cfg.Engine.ReleaseDegraded(ws.SID, dc.Reservation.WorkerSID)
		}
		return ws, engine.TaskResult{}, err
	}
	m.calls.Add(1)
	res := engine.TaskResult{Task: dc.Task, Created: true}
	if dc.Reservation != nil {
		m.reserved.Add(1)
		m.mu.Lock()
		m.own[dc.Reservation.SID] = ownRes{ws: ws.SID, worker: dc.Reservation.WorkerSID, call: dc.Task.CallSID}
		m.mu.Unlock()
		res.Reservation, res.Worker = dc.Reservation, dc.Worker
	}
	return ws, res, nil
}

// LoopsBack reports whether ringing the phone number e164 from memory
// could call into didrouter again, as the webhooks check with the store
// before ringing a contact number: it is the DID of a worker in the
// workspace's index, or a number bound to a workflow as last read. Until
// the bindings have been read it says yes.
func (m *Mode) LoopsBack(workspaceSID, e164 string) bool {
	w := m.ws.Load()
	if w == nil || !w.boundRead {
		return true
	}
	if _, ok := w.bound[e164]; ok {
		return true
	}
	return m.cfg.Engine.DegradedIsDID(workspaceSID, e164)
}

// Accept journals that the agent of a reservation picked up.
func (m *Mode) Accept(ctx context.Context, ws, callSID, taskSID, reservationSID string) error {
	_, err := m.journal(Entry{Op: OpAccept, WS: ws, CallSID: callSID, Task: taskSID, Reservation: reservationSID})
	return err
}

// Reject journals that a reservation's agent did not answer (status
// timeout) or refused (rejected), and frees them here if this instance
// reserved them.
func (m *Mode) Reject(ctx context.Context, ws, callSID, taskSID, reservationSID, status string) error {
	m.release(reservationSID)
	_, err := m.journal(Entry{Op: OpReject, WS: ws, CallSID: callSID, Task: taskSID, Reservation: reservationSID, Status: status})
	return err
}

// EndTask journals that the answered call of a task ended.
func (m *Mode) EndTask(ctx context.Context, ws, callSID, taskSID, reservationSID, reason string) error {
	m.release(reservationSID)
	_, err := m.journal(Entry{Op: OpEndTask, WS: ws, CallSID: callSID, Task: taskSID, Reservation: reservationSID, Status: reason})
	return err
}

// EndCall journals that a caller hung up.
func (m *Mode) EndCall(ctx context.Context, ws, callSID, reason string) error {
	m.mu.Lock()
	for sid, o := range m.own {
		if o.call == callSID {
			delete(m.own, sid)
			m.cfg.Engine.ReleaseDegraded(o.ws, o.worker)
		}
	}
	m.mu.Unlock()
	_, err := m.journal(Entry{Op: OpEndCall, WS: ws, CallSID: callSID, Status: reason})
	return err
}

// Voicemail journals a recorded message whose task the store could not
// take.
func (m *Mode) Voicemail(ctx context.Context, n engine.NewTask) error {
	_, err := m.journal(Entry{Op: OpVoicemail, WS: n.WorkspaceSID, CallSID: n.CallSID, NewTask: &n})
	return err
}

func (m *Mode) release(reservationSID string) {
	m.mu.Lock()
	o, ok := m.own[reservationSID]
	delete(m.own, reservationSID)
	m.mu.Unlock()
	if ok {
		m.cfg.Engine.ReleaseDegraded(o.ws, o.worker)
	}
}

func (m *Mode) journal(e Entry) (Entry, error) {
	e.At = time.Now()
	e, err := m.cfg.Journal.Append(e)
	if err != nil {
		m.log.Error("degraded: journaling failed", "op", e.Op, "call_sid", e.CallSID, "task_sid", e.Task, "err", err)
		return e, fmt.Errorf("degraded: %w", err)
	}
	m.journaled.Add(1)
	return e, nil
}

// replay applies the journal in order. An entry that cannot be applied
// yet (its call is in another instance's journal, or the store went away
// again) stays for the next round.
func (m *Mode) replay(ctx context.Context) {
	m.mu.Lock()
	upFor := m.upForLocked()
	m.mu.Unlock()
	m.replayWith(ctx, replayOpts{settled: upFor >= m.cfg.SettleAfter, giveUp: upFor >= giveUpAfter, resync: true,
		entrySettle: m.cfg.SettleAfter})
}

// replayOpts says how far a replay round may go.
type replayOpts struct {
	settled bool // the other instances have had the time to replay their journals
	giveUp  bool // entries that still cannot be applied are dropped (logged)
	resync  bool // reload the engine's index once the journal is empty
	// entrySettle is how old an entry must be before it counts as settled
	// too: an entry journaled while this instance saw no outage (a brief
	// restart, an end of call the store could not take right after an
	// outage) must leave the other instances that time to replay what
	// they journaled before it.
	entrySettle time.Duration
}

// ReplayPending applies every pending entry of the journal once, in order,
// with the same steps as an instance replaying its own journal after an
// outage. It is for the journal of an instance that is not running (didrouter
// journal replay): that outage is over, so the entries are finished as well
// as they can be at once. An entry whose call is in no task of the store
// (its task may be in yet another journal not replayed) stays in the
// journal, unless giveUp: then it is dropped and logged. Entries already
// applied (by an earlier run that stopped before marking them done) apply
// again as no-ops. As on an instance, the engine's routing is held while
// the entries are applied (a worker freed by one entry must not be given
// a call that a later entry ends) and resumed after, which routes the
// imported calls still waiting. The engine's index is not reloaded at the
// end. It returns how many entries are left.
func (m *Mode) ReplayPending(ctx context.Context, giveUp bool) int {
	if !m.Active() {
		m.cfg.Engine.PauseRouting()
		m.replayWith(ctx, replayOpts{settled: true, giveUp: giveUp})
		if err := m.cfg.Engine.ResumeRouting(ctx); err != nil {
			m.log.WarnContext(ctx, "degraded: routing the waiting calls after the replay failed; they wait for a free worker", "err", err)
		}
	}
	return m.cfg.Journal.Len()
}

func (m *Mode) replayWith(ctx context.Context, o replayOpts) {
	for _, e := range m.cfg.Journal.Pending() {
		if ctx.Err() != nil || m.Active() {
			return
		}
		// In journal order: an end that freed a worker comes before the
		// call this instance then gave that worker.
		done, err := m.apply(ctx, e, o.settled && time.Since(e.At) >= o.entrySettle)
		switch {
		case errors.Is(err, errNotYet) && e.Op == OpEndCall && o.giveUp:
			m.log.InfoContext(ctx, "degraded: a call that hung up never had a task", "call_sid", e.CallSID)
			done = true
		case err != nil && o.giveUp:
			m.dropped.Add(1)
			m.log.ErrorContext(ctx, "degraded: giving up on a journal entry", "op", e.Op, "seq", e.Seq,
				"call_sid", e.CallSID, "task_sid", e.Task, "reservation_sid", e.Reservation, "err", err)
			done = true
		case err != nil:
			m.log.DebugContext(ctx, "degraded: journal entry not applied yet", "op", e.Op, "seq", e.Seq, "err", err)
			continue
		}
		if !done {
			continue
		}
		if err := m.cfg.Journal.Done(e.Seq); err != nil {
			m.log.ErrorContext(ctx, "degraded: marking a journal entry done failed", "seq", e.Seq, "err", err)
			return
		}
		m.replayed.Add(1)
	}
	if o.settled {
		m.routeWaiting(ctx)
	}
	if m.cfg.Journal.Len() == 0 && o.resync {
		m.mu.Lock()
		clear(m.own)
		m.mu.Unlock()
		// The index counted degraded reservations; the store now has them all.
		if err := m.cfg.Engine.Sync(ctx); err != nil {
			m.log.WarnContext(ctx, "degraded: reloading the index after the replay failed", "err", err)
		}
		m.log.InfoContext(ctx, "degraded: journal replayed", "replayed", m.replayed.Load(), "conflicts", m.conflicts.Load())
	}
}

// routeWaiting routes the calls imported waiting, once the other instances
// have had the time to import theirs.
func (m *Mode) routeWaiting(ctx context.Context) {
	m.mu.Lock()
	waiting := m.waiting
	m.waiting = nil
	m.mu.Unlock()
	for _, w := range waiting {
		if err := m.cfg.Engine.RouteImported(ctx, w.ws, w.task); err != nil {
			m.log.WarnContext(ctx, "degraded: routing an imported call failed; it waits for a free worker", "task_sid", w.task, "err", err)
		}
	}
}

// Flush replays the journal until it is empty or ctx ends (serve calls it
// while draining, so that a stopped instance leaves nothing behind when
// the store answers). What is left stays in the journal file for the next
// start.
func (m *Mode) Flush(ctx context.Context) int {
	for m.cfg.Journal.Len() > 0 && ctx.Err() == nil {
		if m.Active() {
			_, _ = m.cfg.Store.GetWorkspace(ctx, m.cfg.WorkspaceSID)
		}
		if !m.Active() {
			m.replay(ctx)
		}
		if m.cfg.Journal.Len() == 0 {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(replayEvery):
		}
	}
	return m.cfg.Journal.Len()
}

// errNotYet says an entry waits for other instances' entries.
var errNotYet = errors.New("waiting for the call to reach the store")

// apply applies one entry; done reports whether it is finished with.
// settled says the other instances have had time to replay theirs.
func (m *Mode) apply(ctx context.Context, e Entry, settled bool) (bool, error) {
	eng := m.cfg.Engine
	switch e.Op {
	case OpCall:
		if e.Call == nil {
			return true, nil
		}
		dc := *e.Call
		// Until settled, a worker the store shows busy may be freed by an
		// end of call in another instance's journal: import later rather
		// than cancel the reservation (its answer may be journaled).
		dc.WaitIfBusy = !settled
		got, err := eng.ImportDegraded(ctx, dc)
		if errors.Is(err, engine.ErrDegradedWorkerBusy) {
			return false, errNotYet
		}
		if err != nil {
			return false, err
		}
		if got.Conflict != "" {
			m.conflicts.Add(1)
			m.log.WarnContext(ctx, "degraded: imported call conflicted", "call_sid", e.CallSID, "task_sid", got.TaskSID, "conflict", got.Conflict)
		}
		if got.Waiting {
			m.mu.Lock()
			m.waiting = append(m.waiting, importedTask{ws: e.WS, task: got.TaskSID})
			m.mu.Unlock()
		}
		if !got.Imported && got.TaskSID != e.Task {
			m.conflicts.Add(1)
			m.log.WarnContext(ctx, "degraded: the call already had another task; the degraded one is dropped (its reservation is kept on that task, canceled, in case it was answered)",
				"call_sid", e.CallSID, "task_sid", got.TaskSID, "degraded_task_sid", e.Task)
		}
		return true, nil
	case OpAccept:
		_, err := eng.AcceptReservation(ctx, e.WS, e.Reservation)
		switch engine.ErrorCode(err) {
		case "":
			return true, nil
		case engine.ENOTFOUND:
			return m.superseded(ctx, e)
		case engine.EUNAVAILABLE:
			r, rerr := m.cfg.Store.GetReservation(ctx, e.WS, e.Reservation)
			if rerr != nil {
				return false, rerr
			}
			if r.Status == engine.ReservationCanceled {
				// Canceled on import (its task lost to another of the same
				// call, or its worker was busy): the answered one wins.
				got, aerr := eng.AdoptAnsweredReservation(ctx, e.WS, e.Reservation)
				if aerr != nil {
					return false, aerr
				}
				switch {
				case got.Adopted:
					m.log.InfoContext(ctx, "degraded: an answer replayed for a canceled reservation; the call's task takes it",
						"call_sid", e.CallSID, "task_sid", got.TaskSID, "reservation_sid", e.Reservation, "worker_sid", r.WorkerSID)
					return true, nil
				case got.Conflict != "":
					m.conflicts.Add(1)
					m.log.WarnContext(ctx, "degraded: an answered reservation could not be kept", "call_sid", e.CallSID,
						"task_sid", got.TaskSID, "reservation_sid", e.Reservation, "conflict", got.Conflict)
					return true, nil
				}
				r.Status = got.Status
			}
			if r.Status != engine.ReservationAccepted && r.Status != engine.ReservationWrapping && r.Status != engine.ReservationCompleted {
				m.conflicts.Add(1)
				m.log.WarnContext(ctx, "degraded: an agent answered a reservation that had ended meanwhile",
					"reservation_sid", e.Reservation, "status", r.Status)
			}
			return true, nil
		default:
			return false, err
		}
	case OpReject:
		_, err := eng.RejectReservation(ctx, e.WS, e.Reservation, e.Status)
		switch engine.ErrorCode(err) {
		case "", engine.EUNAVAILABLE:
			return true, nil
		case engine.ENOTFOUND:
			return m.superseded(ctx, e)
		default:
			return false, err
		}
	case OpEndTask:
		t, err := m.cfg.Store.GetTask(ctx, e.WS, e.Task)
		if engine.ErrorCode(err) == engine.ENOTFOUND && e.CallSID != "" {
			// The call's degraded task may have lost to another one of
			// the same call (a retried webhook routed twice): end that one.
			t, err = m.cfg.Store.TaskByCallSID(ctx, e.WS, e.CallSID)
		}
		if engine.ErrorCode(err) == engine.ENOTFOUND {
			return false, errNotYet
		}
		if err != nil {
			return false, err
		}
		return m.end(ctx, t, e.Status, settled)
	case OpEndCall:
		t, err := m.cfg.Store.TaskByCallSID(ctx, e.WS, e.CallSID)
		if engine.ErrorCode(err) == engine.ENOTFOUND {
			// The call's task may be in the journal of an instance that is
			// not back yet: wait for it (up to giveUpAfter: then the call
			// never had a task, and there is nothing to end).
			return false, errNotYet
		}
		if err != nil {
			return false, err
		}
		return m.end(ctx, t, e.Status, settled)
	case OpVoicemail:
		if e.NewTask == nil {
			return true, nil
		}
		// CreateTask finds the task a first attempt stored (same recording).
		if res, err := eng.CreateTask(ctx, *e.NewTask); err != nil && res.Task.SID == "" {
			return false, err
		}
		return true, nil
	default:
		m.log.WarnContext(ctx, "degraded: unknown journal entry", "op", e.Op, "seq", e.Seq)
		return true, nil
	}
}

// superseded finishes an answer or a rejection of a reservation the store
// does not have: when the call has another task than the entry's (its
// degraded task lost to another one of the same call), the reservation
// never reached the store and there is nothing to apply; otherwise the
// call may still be in another instance's journal.
func (m *Mode) superseded(ctx context.Context, e Entry) (bool, error) {
	if e.CallSID == "" {
		return false, errNotYet
	}
	t, err := m.cfg.Store.TaskByCallSID(ctx, e.WS, e.CallSID)
	switch {
	case engine.ErrorCode(err) == engine.ENOTFOUND:
		return false, errNotYet
	case err != nil:
		return false, err
	case t.SID != e.Task && m.callPending(e):
		// The import of the entry's task is still to come: it stores the
		// reservation on the kept task (see engine.ImportDegraded).
		return false, errNotYet
	case t.SID != e.Task:
		m.log.InfoContext(ctx, "degraded: journal entry for a task that lost to another of the same call; dropped",
			"op", e.Op, "call_sid", e.CallSID, "task_sid", e.Task, "kept_task_sid", t.SID)
		return true, nil
	default:
		return false, errNotYet
	}
}

// callPending says whether this journal still holds the import of e's
// task, before e.
func (m *Mode) callPending(e Entry) bool {
	for _, p := range m.cfg.Journal.Pending() {
		if p.Seq < e.Seq && p.Op == OpCall && p.Task == e.Task {
			return true
		}
	}
	return false
}

// end ends a task whose call is over: an answered one completes; one still
// waiting or ringing is canceled once the other instances have had time to
// replay an answer they may have journaled.
func (m *Mode) end(ctx context.Context, t engine.Task, reason string, settled bool) (bool, error) {
	eng := m.cfg.Engine
	switch t.AssignmentStatus {
	case engine.TaskCompleted, engine.TaskCanceled, engine.TaskWrapping:
		return true, nil
	case engine.TaskAssigned:
		if _, err := eng.EndCall(ctx, t.WorkspaceSID, t.SID, reason); err != nil && engine.ErrorCode(err) != engine.EUNAVAILABLE {
			return false, err
		}
		return true, nil
	default:
		if !settled {
			return false, nil
		}
		if _, err := eng.CancelTask(ctx, t.WorkspaceSID, t.SID, reason); err != nil && engine.ErrorCode(err) != engine.EUNAVAILABLE {
			return false, err
		}
		return true, nil
	}
}
