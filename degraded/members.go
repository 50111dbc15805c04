package degraded

import (
	"context"
	"hash/fnv"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/didrouter/didrouter"
)

// ChangeInstance is the change kind of an instance's heartbeat, whose SID
// names the instance. Engines ignore kinds they do not know.
const ChangeInstance = "instance"

// An instance announces itself every heartbeatEvery and counts as alive
// for memberTTL after it was last heard.
const (
	heartbeatEvery = 2 * time.Second
	// memberTTL is generous on purpose. Taking a live instance for gone
	// makes two instances offer the same workers, while taking a gone one
	// for alive only leaves its share of the workers idle during an outage.
	memberTTL = 20 * time.Second
	// selfGap is the longest wait for our own next heartbeat that still
	// counts as hearing the feed without a break.
	selfGap = 2*heartbeatEvery + time.Second
)

// Members tracks the instances sharing the store, from the heartbeats each
// sends through the store's change feed, and splits the workers among them
// for the time the store is down.
type Members struct {
	self  string
	clock didrouter.Clock
	log   *slog.Logger

	mu    sync.Mutex
	seen  map[string]time.Time
	since time.Time // since when this instance has heard its own heartbeats without a break
}

// NewMembers returns the membership of instance self. self is its
// DIDROUTER_INSTANCE_ID, which must differ between instances. The clock
// dates the heartbeats heard; nil means the system clock.
func NewMembers(self string, clock didrouter.Clock, logger *slog.Logger) *Members {
	if clock == nil {
		clock = didrouter.SystemClock{}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Members{self: self, clock: clock, log: logger, seen: map[string]time.Time{}}
}

// Run sends heartbeats and listens to everyone's until ctx ends.
func (m *Members) Run(ctx context.Context, st didrouter.Store) {
	go m.listen(ctx, st)
	for {
		// Our own heartbeat comes back through the feed like the others'
		// do. Hearing it says the feed worked at that time.
		_ = st.Tx(ctx, func(tx didrouter.Tx) error {
			return tx.Notify(ctx, didrouter.Change{Kind: ChangeInstance, SID: m.self})
		})
		select {
		case <-ctx.Done():
			return
		case <-m.clock.After(heartbeatEvery):
		}
	}
}

func (m *Members) listen(ctx context.Context, st didrouter.Store) {
	for ctx.Err() == nil {
		changes, err := st.Subscribe(ctx)
		if err != nil {
			m.log.WarnContext(ctx, "membership feed subscribe failed, retrying", "in", heartbeatEvery.String(), "err", err)
			select {
			case <-ctx.Done():
				return
			case <-m.clock.After(heartbeatEvery):
			}
			continue
		}
		for c := range changes {
			if c.Kind == ChangeInstance && c.SID != "" {
				m.heard(c.SID, m.clock.Now())
			}
		}
	}
}

func (m *Members) heard(instance string, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if instance == m.self {
		// A gap in our own heartbeats is a gap in hearing everyone's.
		if prev, ok := m.seen[instance]; !ok || at.Sub(prev) > selfGap {
			m.since = at
		}
	}
	m.seen[instance] = at
}

// Alive returns the instances heard within memberTTL before asOf, sorted.
// This instance is always among them. The time that counts is the last
// time this instance heard its own heartbeat, if that was before asOf.
// The feed itself may have been down, since it reconnects with a backoff
// after a database restart, and then not hearing the others says nothing
// about them.
func (m *Members) Alive(asOf time.Time) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	ref := asOf
	if self, ok := m.seen[m.self]; ok && self.Before(ref) {
		ref = self
	}
	out := []string{m.self}
	for id, at := range m.seen {
		if id != m.self && !at.Before(ref.Add(-memberTTL)) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// Listening reports whether this instance has heard its own heartbeat
// recently and has been listening for longer than memberTTL. Only then
// does an instance missing from Alive mean it is gone.
func (m *Members) Listening(now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	self, ok := m.seen[m.self]
	return ok && now.Sub(self) < selfGap && now.Sub(m.since) > memberTTL
}

// Mine reports whether, with the membership as it was at asOf, worker
// belongs to this instance's share.
func (m *Members) Mine(worker string, asOf time.Time) bool {
	alive := m.Alive(asOf)
	return alive[shard(worker, len(alive))] == m.self
}

func shard(worker string, n int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(worker))
	return int(h.Sum32() % uint32(n))
}
