package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/degraded"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/store/postgres"
	"github.com/didrouter/didrouter/store/postgres/outage"
)

// runJournal inspects and replays the degraded-mode journals of instances
// that are not running.
func runJournal(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	return journalCommand{getenv: os.Getenv}.run(ctx, args, stdout, stderr)
}

// journalCommand holds what the subcommands take from outside.
type journalCommand struct {
	getenv func(string) string
}

func (c journalCommand) run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runSubcommand(ctx, "journal", journalUsage, map[string]command{"show": c.show, "replay": c.replay},
		args, nil, stdout, stderr)
}

func journalUsage(w io.Writer) {
	fmt.Fprint(w, `usage: didrouter journal <subcommand> [options] FILE

Degraded-mode journals (DIDROUTER_JOURNAL): what an instance decided while
the database was unreachable and has not yet written to it. An instance
replays its own journal when the database answers again, and on its next
start; these commands are for the journal of an instance that will not come
back.

subcommands:
  show    list the entries not yet replayed (reads the file only)
  replay  replay the entries into the database (DATABASE_URL), as the
          instance would have; safe to run twice

Run "didrouter journal <subcommand> -h" for its options.
`)
}

// show prints a journal's pending entries, one a line.
func (c journalCommand) show(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := journalFlags("show", "[-json] FILE", stderr)
	asJSON := fs.Bool("json", false, "print the entries as JSON, one a line")
	path, code, ok := parseJournalArgs(fs, args, stderr)
	if !ok {
		return code
	}
	entries, err := degraded.ReadJournal(path)
	if err != nil {
		fmt.Fprintf(stderr, "didrouter journal show: %v\n", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, e := range entries {
			if err := enc.Encode(e); err != nil {
				fmt.Fprintf(stderr, "didrouter journal show: %v\n", err)
				return 1
			}
		}
		return 0
	}
	for _, e := range entries {
		fmt.Fprintln(stdout, describeEntry(e))
	}
	fmt.Fprintf(stdout, "%d entries not replayed (%s)\n", len(entries), countOps(entries))
	return 0
}

// replay replays a journal into the database.
func (c journalCommand) replay(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := journalFlags("replay", "[-database-url URL] [-give-up] FILE", stderr)
	dbURL := fs.String("database-url", strings.TrimSpace(c.getenv("DATABASE_URL")), "Postgres URL of the instances' database (DATABASE_URL)")
	giveUp := fs.Bool("give-up", false, "drop (and log) the entries that cannot be applied, such as the end of a call that has no task in the database; "+
		"without it they stay in the journal (replay the other instances' journals first)")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long; what is not replayed stays in the journal")
	level := fs.String("log-level", "warn", "debug, info, warn or error")
	path, code, ok := parseJournalArgs(fs, args, stderr)
	if !ok {
		return code
	}
	cfg := config{DatabaseURL: *dbURL, LogFormat: "text", StoreWait: 6 * time.Second}
	if err := cfg.LogLevel.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(stderr, "didrouter journal replay: -log-level must be debug, info, warn or error, not %q\n", *level)
		return 2
	}
	if !strings.HasPrefix(cfg.DatabaseURL, "postgres://") && !strings.HasPrefix(cfg.DatabaseURL, "postgresql://") {
		fmt.Fprintln(stderr, "didrouter journal replay: DATABASE_URL (or -database-url) must be the instances' postgres:// URL")
		return 2
	}
	logger := newLogger(cfg, stderr)
	res, err := replayJournal(ctx, cfg, path, *giveUp, *timeout, logger)
	if err != nil {
		fmt.Fprintf(stderr, "didrouter journal replay: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: %d entries done (%d of them dropped, %d import conflicts), %d left\n",
		path, res.stats.Replayed, res.stats.Dropped, res.stats.Conflicts, len(res.left))
	if len(res.left) == 0 {
		return 0
	}
	for _, e := range res.left {
		fmt.Fprintln(stdout, "  left: "+describeEntry(e))
	}
	fmt.Fprintln(stdout, "Entries are left when their call has no task in the database yet: replay the other "+
		"instances' journals, then this one again; -give-up drops what still cannot be applied.")
	return 1
}

// journalFlags is the flag set of journal subcommand name, whose usage
// line ends in usage.
func journalFlags(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("journal "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: didrouter journal "+name+" "+usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseJournalArgs parses fs and returns its one FILE argument; ok false
// means the command ends with code.
func parseJournalArgs(fs *flag.FlagSet, args []string, stderr io.Writer) (path string, code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		return "", flagExit(err), false
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(stderr, "didrouter %s: want one journal FILE, got %d arguments\n", fs.Name(), fs.NArg())
		fs.Usage()
		return "", 2, false
	}
	return fs.Arg(0), 0, true
}

type journalReplay struct {
	stats degraded.Stats
	left  []degraded.Entry
}

// replayJournal replays the journal at path into the database of cfg. It
// uses degraded.Mode.ReplayPending, the journal replay a running instance
// does itself.
func replayJournal(ctx context.Context, cfg config, path string, giveUp bool, timeout time.Duration, logger *slog.Logger) (journalReplay, error) {
	j, err := degraded.OpenExistingJournal(path)
	if errors.Is(err, degraded.ErrJournalInUse) {
		return journalReplay{}, fmt.Errorf("%w (a running instance replays its own journal once the database answers)", err)
	}
	if err != nil {
		return journalReplay{}, err
	}
	defer j.Close()
	pending := j.Pending()
	if len(pending) == 0 {
		return journalReplay{}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// No migrations: the instances own the schema (a newer binary run by
	// an operator must not migrate it under them).
	pg, err := postgres.Open(ctx, cfg.DatabaseURL, logger)
	if err != nil {
		return journalReplay{}, fmt.Errorf("DATABASE_URL: %w", err)
	}
	defer pg.Close()
	st := outage.New(pg, outage.Config{Logger: logger, MaxWait: cfg.StoreWait})
	down := st.Down
	eng, err := engine.New(engine.Config{Store: st, Clock: didrouter.SystemClock{}, Logger: logger, InstanceID: "journal-replay"})
	if err != nil {
		return journalReplay{}, err
	}
	mode, err := degraded.New(degraded.Config{
		Engine: eng, Store: st, Down: down, Journal: j, WorkspaceSID: journalWorkspace(pending), Logger: logger,
	})
	if err != nil {
		return journalReplay{}, err
	}
	left := mode.ReplayPending(ctx, giveUp)
	out := journalReplay{stats: mode.Stats()}
	if left > 0 {
		out.left = j.Pending()
	}
	if mode.Active() {
		return out, errors.New("the database stopped answering during the replay; run it again (what was replayed is marked done)")
	}
	if err := ctx.Err(); err != nil {
		return out, fmt.Errorf("replay stopped: %w", err)
	}
	return out, nil
}

// journalWorkspace is the workspace of a journal's first entry that names one.
func journalWorkspace(entries []degraded.Entry) string {
	for _, e := range entries {
		if e.WS != "" {
			return e.WS
		}
	}
	return "-"
}

// describeEntry is one entry as a line of text.
func describeEntry(e degraded.Entry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s %-8s", e.Seq, e.At.UTC().Format(time.RFC3339Nano), e.Op)
	field := func(name, v string) {
		if v != "" {
			fmt.Fprintf(&b, " %s=%s", name, v)
		}
	}
	field("call", e.CallSID)
	field("task", e.Task)
	field("reservation", e.Reservation)
	if e.Call != nil && e.Call.Reservation != nil {
		field("worker", e.Call.Reservation.WorkerSID)
	}
	if e.Call != nil && e.Call.Task.TaskQueueSID != "" {
		field("queue", e.Call.Task.TaskQueueSID)
	}
	if e.Status != "" {
		fmt.Fprintf(&b, " status=%q", e.Status)
	}
	return b.String()
}

// countOps summarizes entries by operation.
func countOps(entries []degraded.Entry) string {
	counts := map[string]int{}
	var order []string
	for _, e := range entries {
		if counts[e.Op] == 0 {
			order = append(order, e.Op)
		}
		counts[e.Op]++
	}
	parts := make([]string, 0, len(order))
	for _, op := range order {
		parts = append(parts, fmt.Sprintf("%s %d", op, counts[op]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
