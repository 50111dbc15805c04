package main

import (
	"log/slog"
	"path/filepath"

	"github.com/didrouter/didrouter/degraded"
)

// otherJournalsPattern matches the default journal names of every instance.
const otherJournalsPattern = "didrouter-journal-*.jsonl"

// warnOtherJournals logs the journals of other instances (default names,
// in the directory of own) that hold entries not replayed: an instance
// replays only its own journal, so the journal of an instance that will
// not start again needs `didrouter journal replay`. The files are only read.
func warnOtherJournals(own string, logger *slog.Logger) {
	paths, err := filepath.Glob(filepath.Join(filepath.Dir(own), otherJournalsPattern))
	if err != nil {
		return
	}
	ownAbs, _ := filepath.Abs(own)
	for _, p := range paths {
		if abs, _ := filepath.Abs(p); abs == ownAbs {
			continue
		}
		entries, err := degraded.ReadJournal(p)
		if err != nil || len(entries) == 0 {
			continue
		}
		logger.Warn("another instance's degraded-mode journal holds entries not replayed: if that instance "+
			"will not run again, replay it with `didrouter journal replay FILE`",
			"journal", p, "entries", len(entries), "oldest", entries[0].At)
	}
}
