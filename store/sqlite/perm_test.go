package sqlite_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/store/sqlite"
)

// dbFiles are the files SQLite keeps for the database at path in WAL mode.
func dbFiles(path string) []string { return []string{path, path + "-wal", path + "-shm"} }

// checkPrivate fails the test unless every file exists with mode 0600.
func checkPrivate(t *testing.T, files []string) {
	t.Helper()
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s: mode %#o, want 0600 (it holds callers' numbers and emails)", filepath.Base(f), got)
		}
	}
}

// openAndWrite opens the store at path and writes to it (the seed), which
// makes SQLite create its -wal and -shm files; the store stays open until
// the test ends.
func openAndWrite(t *testing.T, path string, logger *slog.Logger) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, path, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if _, err := engine.Seed(ctx, st, didrouter.SystemClock{}); err != nil {
		t.Fatal(err)
	}
}

// A new database and the -wal and -shm files SQLite makes beside it are
// readable by their owner only (SQLite would create the database 0644,
// and gives -wal and -shm the database's mode).
func TestNewDatabaseFilesArePrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "didrouter.db")
	openAndWrite(t, path, nil)
	checkPrivate(t, dbFiles(path))
}

// The files of a database an older version made 0644 are made private on
// open, and the log says so, file by file.
func TestExistingDatabaseFilesAreTightened(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "didrouter.db")
	st, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Seed(ctx, st, didrouter.SystemClock{}); err != nil {
		t.Fatal(err)
	}
	st.Close() // SQLite removes -wal and -shm on the last close: make them as a crash leaves them
	for _, f := range dbFiles(path) {
		if _, err := os.Stat(f); os.IsNotExist(err) {
			if err := os.WriteFile(f, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chmod(f, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var logs bytes.Buffer
	openAndWrite(t, path, slog.New(slog.NewTextHandler(&logs, nil)))
	checkPrivate(t, dbFiles(path))
	for _, f := range dbFiles(path) {
		if !strings.Contains(logs.String(), "file="+f+" ") {
			t.Errorf("no log line names %s:\n%s", f, logs.String())
		}
	}
	if !strings.Contains(logs.String(), "made private") {
		t.Errorf("the log does not say the files were made private:\n%s", logs.String())
	}
}

// A file: URI is refused with a clear error: its file could not be made
// private before SQLite creates it.
func TestOpenRefusesURI(t *testing.T) {
	path := filepath.Join(t.TempDir(), "didrouter.db")
	st, err := sqlite.Open(context.Background(), "file:"+path, nil)
	if err == nil {
		st.Close()
		t.Fatal("a file: URI was opened")
	}
	if !strings.Contains(err.Error(), "not a file: URI") {
		t.Fatalf("error %q does not say why", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the URI's file was created: %v", err)
	}
}
