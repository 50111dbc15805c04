package degraded

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/didrouter/didrouter/fileperm"
)

// defaultAdoptEvery is how often this instance looks for the journals
// other instances left beside its own. It looks only while the store
// answers and nothing of its own is left to replay.
const defaultAdoptEvery = 30 * time.Second

// Orphans says where the journals of other instances are and whose they are.
type Orphans struct {
	// Glob matches the journal files of every instance. Serve matches its
	// default names in the directory of this instance's journal. This
	// instance's own journal is skipped.
	Glob string
	// Instance returns the instance a journal file belongs to, which is
	// compared with Members' live instances through Name. It returns ""
	// when unknown, and such a file is only adopted when there is no
	// membership to ask.
	Instance func(path string) string
	// Name maps an instance id to the form Instance returns, because file
	// names keep only some characters. Nil leaves ids unchanged.
	Name func(instance string) string
	// Every is how often to look. Zero means defaultAdoptEvery, 30 s.
	Every time.Duration
}

// adoptOrphans replays, once, each journal that another instance left
// with entries in it, when that instance is not alive. It is not alive
// when no process holds the file's lock and, with Members, its heartbeat
// has not been heard for memberTTL. The entries go through the same steps
// as this instance's own, with this instance's engine, and count as
// settled because the outage is over. Entries that cannot be applied yet
// stay in that file for the next look. A file CheckAdoptable refuses is
// skipped, with a warning the first time.
func (m *Mode) adoptOrphans(ctx context.Context) {
	o := m.cfg.Orphans
	paths, err := filepath.Glob(o.Glob)
	if err != nil {
		m.log.WarnContext(ctx, "bad pattern for other instances' journals", "glob", o.Glob, "err", err)
		return
	}
	own, _ := filepath.Abs(m.cfg.Journal.Path())
	var alive map[string]bool
	if mem := m.cfg.Members; mem != nil {
		if !mem.Listening(m.now()) {
			return // this instance has not listened long enough to tell who is gone
		}
		alive = map[string]bool{}
		for _, id := range mem.Alive(m.now()) {
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
		if err := CheckAdoptable(p); errors.Is(err, fs.ErrNotExist) {
			continue // the file went away since the Glob
		} else if err != nil {
			level := slog.LevelWarn
			if m.warnedOnce("journal " + p + " " + err.Error()) {
				// The directory is looked at every Every, and this was
				// said already.
				level = slog.LevelDebug
			}
			m.log.Log(ctx, level, "file named like a journal not adopted",
				"journal", p, "reason", err)
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
				continue // a live instance replays its own, and an unknown one may be alive
			}
		}
		m.adopt(ctx, p)
	}
}

// ErrNotAdoptable says a file is not adopted as another instance's journal.
var ErrNotAdoptable = errors.New("not adoptable as another instance's journal")

// CheckAdoptable says why the file at path must not be adopted as the
// journal of another instance, with an error wrapping ErrNotAdoptable. It
// returns nil when the file is a regular file, not a symbolic link, owned
// by the user this process runs as and writable by nobody else. Other
// journals are found by their names alone, and what they hold is replayed
// into the database. So a file another local user could plant or edit
// must not be adopted.
func CheckAdoptable(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotAdoptable, err)
	}
	return adoptable(fi)
}

// adoptable is CheckAdoptable for a file already looked at with Lstat, or
// for the Stat of an open file. Checking the open file makes what is
// replayed the file that was checked.
func adoptable(fi fs.FileInfo) error {
	mode := fi.Mode()
	switch {
	case mode&fs.ModeSymlink != 0:
		return fmt.Errorf("%w: a symbolic link", ErrNotAdoptable)
	case !mode.IsRegular():
		return fmt.Errorf("%w: not a regular file (%v)", ErrNotAdoptable, mode.Type())
	case mode.Perm()&0o022 != 0:
		return fmt.Errorf("%w: writable by group or others (mode %#o)", ErrNotAdoptable, mode.Perm())
	}
	if uid, ok := fileperm.Owner(fi); ok && uid != os.Getuid() {
		return fmt.Errorf("%w: owned by uid %d, not by this process's uid %d", ErrNotAdoptable, uid, os.Getuid())
	}
	return nil
}

// adopt replays one journal of another instance.
func (m *Mode) adopt(ctx context.Context, path string) {
	j, err := openAdoptedJournal(path)
	if errors.Is(err, ErrJournalInUse) {
		return // its instance, or another instance adopting it, has it
	}
	if err != nil {
		m.log.WarnContext(ctx, "cannot open another instance's journal", "journal", path, "err", err)
		return
	}
	defer j.Close()
	pending := j.Len()
	if pending == 0 {
		return
	}
	cfg := m.cfg
	cfg.Journal, cfg.Members, cfg.Orphans = j, nil, Orphans{}
	sub := &Mode{cfg: cfg, router: m.router, log: m.log.With("adopted_journal", path), own: map[string]ownRes{}}
	sub.replayWith(ctx, replayOpts{settled: true})
	s := sub.Stats()
	m.replayed.Add(s.Replayed)
	m.conflicts.Add(s.Conflicts)
	m.log.InfoContext(ctx, "another instance's journal replayed",
		"journal", path, "entries", pending, "replayed", s.Replayed, "conflicts", s.Conflicts, "left", j.Len())
}
