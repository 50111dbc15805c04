package main

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/didrouter/didrouter/degraded"
)

// Default journal names: journalPrefix + safeName(instance) + journalSuffix.
const (
	journalPrefix = "didrouter-journal-"
	journalSuffix = ".jsonl"
)

// degradedJournalName is the journal of instance when DIDROUTER_JOURNAL is empty.
func degradedJournalName(instance string) string {
	return journalPrefix + safeName(instance) + journalSuffix
}

// orphans has degraded mode replay the journals that other instances left
// under the default names in the directory of own, once their instance has
// not been heard for a while (degraded.Orphans).
func orphans(own string) degraded.Orphans {
	return degraded.Orphans{
		Glob: filepath.Join(filepath.Dir(own), journalPrefix+"*"+journalSuffix),
		Instance: func(path string) string {
			base := filepath.Base(path)
			if !strings.HasPrefix(base, journalPrefix) || !strings.HasSuffix(base, journalSuffix) {
				return ""
			}
			return strings.TrimSuffix(strings.TrimPrefix(base, journalPrefix), journalSuffix)
		},
		Name: safeName,
	}
}

// openOwnJournal opens this instance's journal, waiting up to wait while
// another process holds it. That happens while another instance replays the
// journal this one left when it was gone, which takes a moment.
func openOwnJournal(ctx context.Context, path string, wait time.Duration) (*degraded.Journal, error) {
	deadline := time.Now().Add(wait)
	for {
		j, err := degraded.OpenJournal(path)
		if !errors.Is(err, degraded.ErrJournalInUse) || time.Now().After(deadline) {
			return j, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// warnOtherJournals logs the journals of other instances (default names,
// in the directory of own) that hold entries not replayed. The files are
// only read; a file that would not be adopted (degraded.CheckAdoptable) is
// not even read, and degraded mode says why when it looks for journals to
// adopt.
func warnOtherJournals(own string, logger *slog.Logger) {
	paths, err := filepath.Glob(orphans(own).Glob)
	if err != nil {
		return
	}
	ownAbs, _ := filepath.Abs(own)
	for _, p := range paths {
		if abs, _ := filepath.Abs(p); abs == ownAbs {
			continue
		}
		if degraded.CheckAdoptable(p) != nil {
			continue
		}
		entries, err := degraded.ReadJournal(p)
		if err != nil || len(entries) == 0 {
			continue
		}
		logger.Warn("another instance's journal holds entries not replayed",
			"then", "replayed here in about a minute if that instance stays silent, or by `didrouter journal replay FILE`",
			"journal", p, "entries", len(entries), "oldest", entries[0].At)
	}
}
