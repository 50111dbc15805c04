package degraded

import (
	"context"
	"errors"
	"path/filepath"
	"time"
)

// defaultAdoptEvery is how often, while the store answers and nothing of
// this instance's own is left to replay, the journals other instances left
// beside this one's are looked for.
const defaultAdoptEvery = 30 * time.Second

// Orphans says where the journals of other instances are and whose they are.
type Orphans struct {
	// Glob matches the journal files of every instance (serve: its default
	// names in the directory of this instance's journal). This instance's
	// own journal is skipped.
	Glob string
	// Instance returns the instance a journal file belongs to (compared
	// with Members' live instances, through Name), "" when unknown: such a
	// file is only adopted when there is no membership to ask.
	Instance func(path string) string
	// Name maps an instance id to the form Instance returns (file names
	// keep only some characters); nil = unchanged.
	Name func(instance string) string
	// Every is how often to look; 0 = 30 s.
	Every time.Duration
}

// adoptOrphans replays, once, each journal that another instance left
// with entries in it, when that instance is not alive: its heartbeat has
// not been heard for memberTTL (with Members), and no process holds the
// file's lock. The entries go through the same steps as this instance's
// own (the outage is over: settled), with this instance's engine. Entries
// that cannot be applied yet stay in that file for the next look.
func (m *Mode) adoptOrphans(ctx context.Context) {
	o := m.cfg.Orphans
	paths, err := filepath.Glob(o.Glob)
	if err != nil {
		m.log.WarnContext(ctx, "degraded: bad pattern for other instances' journals", "glob", o.Glob, "err", err)
		return
	}
	own, _ := filepath.Abs(m.cfg.Journal.Path())
	var alive map[string]bool
	if mem := m.cfg.Members; mem != nil {
		if !mem.Listening(time.Now()) {
			return // not heard for long enough to tell who is gone
		}
		alive = map[string]bool{}
		for _, id := range mem.Alive(time.Now()) {
			if o.Name != nil {
				id = o.Name(id)
			}
			alive[id] = true
		}
	}
	for _, p := range paths {
		if ctx.Err() != nil || m.Active() {
			return
		}
		if abs, _ := filepath.Abs(p); abs == own {
			continue
		}
		if entries, err := ReadJournal(p); err != nil || len(entries) == 0 {
			continue
		}
		if alive != nil {
			id := ""
			if o.Instance != nil {
				id = o.Instance(p)
			}
			if id == "" || alive[id] {
				continue // alive (it replays its own), or nobody can tell
			}
		}
		m.adopt(ctx, p)
	}
}

// adopt replays one journal of another instance.
func (m *Mode) adopt(ctx context.Context, path string) {
	j, err := OpenExistingJournal(path)
	if errors.Is(err, ErrJournalInUse) {
		return // its instance (or someone adopting it) has it
	}
	if err != nil {
		m.log.WarnContext(ctx, "degraded: cannot open another instance's journal", "journal", path, "err", err)
		return
	}
	defer j.Close()
	pending := j.Len()
	if pending == 0 {
		return
	}
	cfg := m.cfg
	cfg.Journal, cfg.Members, cfg.Orphans = j, nil, Orphans{}
	sub := &Mode{cfg: cfg, log: m.log.With("adopted_journal", path), own: map[string]ownRes{}}
	sub.replayWith(ctx, replayOpts{settled: true})
	s := sub.Stats()
	m.replayed.Add(s.Replayed)
	m.conflicts.Add(s.Conflicts)
	m.log.InfoContext(ctx, "degraded: replayed the journal another instance left behind",
		"journal", path, "entries", pending, "replayed", s.Replayed, "conflicts", s.Conflicts, "left", j.Len())
}
