package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/didrouter/didrouter/degraded"
	"github.com/didrouter/didrouter/store/storetest"
)

// serve narrows its own journal when an older version or an operator left
// it readable by others, and says so.
func TestServeTightensOwnJournal(t *testing.T) {
	cfg := testConfig(t)
	cfg.DatabaseURL = storetest.PostgresURL(t)
	cfg.Journal = filepath.Join(t.TempDir(), degradedJournalName("wide"))
	if err := os.WriteFile(cfg.Journal, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(cfg.Journal, 0o644); err != nil {
		t.Fatal(err)
	}
	base, logs := runServer(t, cfg)
	waitReady(t, base)
	fi, err := os.Stat(cfg.Journal)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Fatalf("journal mode %#o after start, want 0600", got)
	}
	if !strings.Contains(logs.String(), "made private") || !strings.Contains(logs.String(), `"file":"`+cfg.Journal+`"`) {
		t.Fatalf("the log does not say the journal was made private:\n%s", logs)
	}
}

// At start, only the journals of other instances that degraded mode would
// adopt are announced as "replayed in about a minute": a planted one
// (writable by others, a symbolic link) is not read.
func TestWarnOtherJournalsSkipsUntrusted(t *testing.T) {
	dir := t.TempDir()
	own := filepath.Join(dir, degradedJournalName("me"))
	withEntry := func(path string) {
		t.Helper()
		j, err := degraded.OpenJournal(path)
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		if _, err := j.Append(degraded.Entry{Op: degraded.OpEndCall, WS: "WS1", CallSID: "CA1"}); err != nil {
			t.Fatal(err)
		}
	}
	good := filepath.Join(dir, degradedJournalName("gone"))
	withEntry(good)
	open := filepath.Join(dir, degradedJournalName("open"))
	withEntry(open)
	if err := os.Chmod(open, 0o666); err != nil {
		t.Fatal(err)
	}
	planted := filepath.Join(t.TempDir(), "planted.jsonl")
	withEntry(planted)
	link := filepath.Join(dir, degradedJournalName("link"))
	if err := os.Symlink(planted, link); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	warnOtherJournals(own, slog.New(slog.NewJSONHandler(logs, nil)))
	if !strings.Contains(logs.String(), `"journal":"`+good+`"`) {
		t.Errorf("the gone instance's journal is not announced:\n%s", logs)
	}
	for _, p := range []string{open, link} {
		if strings.Contains(logs.String(), p) {
			t.Errorf("%s is announced as to be replayed:\n%s", filepath.Base(p), logs)
		}
	}
}
