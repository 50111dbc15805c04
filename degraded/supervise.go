package degraded

// Supervision is the loop that watches the store, holds and resumes
// routing, and starts the warming and the replay rounds.

import (
	"context"
	"time"

	"github.com/didrouter/didrouter"
)

// Run keeps the in-memory routing data warm while the store answers and
// replays the journal whenever it has entries and the store answers, until
// ctx ends.
func (m *Mode) Run(ctx context.Context) {
	// A round is a poll, so the wall clock paces it, as Config.Clock says.
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
	lastAdopt := m.now().Add(-adoptEvery) // so the first look comes right after the first replay
	for {
		if m.Active() {
			// Ask the store whether it is back, so that the replay does
			// not wait for some other call to find out. Through
			// outage.Store this is one short attempt, and a success
			// clears the outage.
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
		if up && m.now().Sub(lastWarm) >= warmEvery {
			if err := m.warm(ctx); err == nil {
				lastWarm = m.now()
			} else if ctx.Err() == nil {
				m.log.DebugContext(ctx, "warming for an outage failed", "err", err)
			}
		}
		if up && m.cfg.Journal.Len() > 0 {
			m.replay(ctx)
		}
		m.mu.Lock()
		settled := up && m.upForLocked() >= m.cfg.SettleAfter
		m.mu.Unlock()
		if settled {
			// This runs outside replay rounds too. A journal emptied
			// before the settle time, with its calls imported waiting,
			// starts no round that would route them. Those calls would
			// also keep this instance from being calm enough to adopt
			// the journals of gone instances.
			m.routeWaiting(ctx)
		}
		m.mu.Lock()
		calm := up && !m.paused && len(m.waiting) == 0
		m.mu.Unlock()
		if calm && m.cfg.Orphans.Glob != "" && m.cfg.Journal.Len() == 0 && m.now().Sub(lastAdopt) >= adoptEvery {
			lastAdopt = m.now()
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
// resumes it once the store has answered for SettleAfter. In between,
// every instance imports the calls it routed from memory. Until a call is
// imported, the store thinks its worker is free, and the pause keeps this
// instance from reserving that worker.
func (m *Mode) holdRouting(ctx context.Context, up bool) {
	m.mu.Lock()
	paused, upFor := m.paused, m.upForLocked()
	switch {
	case !up && !paused && m.now().Sub(m.cfg.Down()) >= pauseAfter:
		m.paused = true
	case up && paused && upFor >= m.cfg.SettleAfter:
		m.paused = false
	default:
		m.mu.Unlock()
		return
	}
	m.mu.Unlock()
	if !up {
		m.router.PauseRouting()
		m.log.InfoContext(ctx, "routing held until the journals are replayed")
		return
	}
	if err := m.router.ResumeRouting(ctx); err != nil {
		m.log.WarnContext(ctx, "some waiting calls not routed on resume", "then", "they wait for a free worker", "err", err)
	}
	m.log.InfoContext(ctx, "routing resumed")
}

// upForLocked is how long the store has answered since it was last seen
// coming back. The caller holds m.mu.
func (m *Mode) upForLocked() time.Duration { return m.cfg.Clock.Now().Sub(m.upAt) }

// journaledSince reports whether entries journaled since t are pending,
// which means that the outage since t left something to replay.
func (m *Mode) journaledSince(t time.Time) bool {
	for _, e := range m.cfg.Journal.Pending() {
		if !e.At.Before(t) {
			return true
		}
	}
	return false
}

// postponeTimers moves the timers that fell due while the store was down
// to SettleAfter from now. It runs once per outage, when this instance has
// journaled entries to replay. A step or reservation timer must not move a
// call on before the journals say whether the agent answered it.
func (m *Mode) postponeTimers(ctx context.Context) {
	until := m.now().Add(m.cfg.SettleAfter)
	n := 0
	err := m.cfg.Store.Tx(ctx, func(tx didrouter.Tx) error {
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
		m.log.WarnContext(ctx, "postponing the timers due during the outage failed",
			"risk", "a timer may move a call on before the journals say the agent answered it", "err", err)
		return
	}
	m.log.InfoContext(ctx, "timers due during the outage postponed",
		"reason", "the journals may say the agents answered", "timers", n, "until", until)
}

// Flush replays the journal until it is empty or ctx ends. Serve calls it
// while draining, so that a stopped instance leaves nothing behind when
// the store answers. What is left stays in the journal file for the next
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
