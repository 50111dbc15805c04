package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/degraded"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/fileperm"
	"github.com/didrouter/didrouter/store/postgres/outage"
	"github.com/didrouter/didrouter/webhooks"
)

// degradedMode is serve's degraded mode (package degraded), or nothing
// when it does not apply.
type degradedMode struct {
	mode    *degraded.Mode
	members *degraded.Members
	journal *degraded.Journal
	store   didrouter.Store
}

// newDegradedMode sets up degraded mode for a Postgres store, unless
// DIDROUTER_JOURNAL=off. SQLite needs none, because a local file is never
// unreachable while the process runs. raw is the store openStore returned,
// which knows when the database is down. st is what the rest of serve reads
// through.
func newDegradedMode(cfg config, raw, st didrouter.Store, eng *engine.Engine, workspaceSID, instance string, clock didrouter.Clock, logger *slog.Logger) (*degradedMode, error) {
	down, ok := raw.(*outage.Store)
	if !cfg.usesPostgres() || !ok || strings.EqualFold(cfg.Journal, "off") {
		return &degradedMode{}, nil
	}
	path := cfg.Journal
	if path == "" {
		path = degradedJournalName(instance)
	}
	// The journal holds callers' numbers: created 0600, and narrowed if
	// an older version or an operator left it wider.
	fileperm.Tighten(context.Background(), path, logger)
	j, err := openOwnJournal(context.Background(), path, 15*time.Second)
	if err != nil {
		return nil, fmt.Errorf("DIDROUTER_JOURNAL: %w", err)
	}
	if n := j.Len(); n > 0 {
		logger.Warn("journal has entries from an earlier run",
			"then", "replayed once the database answers",
			"journal", path, "entries", n)
	}
	members := degraded.NewMembers(instance, clock, logger)
	warnOtherJournals(path, logger)
	mode, err := degraded.New(degraded.Config{
		Engine: eng, Store: st, Down: down.Down, Journal: j, Members: members,
		WorkspaceSID: workspaceSID, Clock: clock, Logger: logger, StartWhen: eng.Ready, Orphans: orphans(path),
	})
	if err != nil {
		j.Close()
		return nil, err
	}
	logger.Info("degraded mode on",
		"journal", path)
	return &degradedMode{mode: mode, members: members, journal: j, store: st}, nil
}

// webhooks is the mode as the webhooks see it (nil when off: never a
// typed nil in the interface).
func (d *degradedMode) webhooks() webhooks.Degraded {
	if d.mode == nil {
		return nil
	}
	return d.mode
}

// active reports whether calls are being answered from memory now.
func (d *degradedMode) active() bool { return d.mode != nil && d.mode.Active() }

// run runs the heartbeats and the journal replay until ctx ends.
func (d *degradedMode) run(ctx context.Context) {
	if d.mode == nil {
		return
	}
	go d.members.Run(ctx, d.store)
	d.mode.Run(ctx)
}

// flush replays what is left in the journal into the store, for at most
// timeout.
func (d *degradedMode) flush(logger *slog.Logger, timeout time.Duration) {
	if d.mode == nil || d.journal.Len() == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if left := d.mode.Flush(ctx); left > 0 {
		logger.Warn("journal not fully replayed before exit",
			"then", "the next start replays it",
			"entries", left)
	}
}

func (d *degradedMode) close() {
	if d.journal != nil {
		_ = d.journal.Close()
	}
}

// safeName keeps the characters of s that are safe in a file name.
func safeName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, s)
	if s == "" {
		return "didrouter"
	}
	return filepath.Base(s)
}
