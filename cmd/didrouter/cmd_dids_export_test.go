package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

// "dids export -o" writes a file only its owner can read (issue 16,
// finding 7: it holds people's names, emails and numbers), also over an
// existing file, and its cells are safe to open in a spreadsheet (finding 2).
func TestDidsExportFileIsPrivate(t *testing.T) {
	didsStores(t, func(t *testing.T, st didrouter.Store) {
		s := newDidsServer(t, st)
		if _, err := s.eng.CreateWorker(context.Background(), s.ws.SID, engine.WorkerInsert{
			FriendlyName: "=cmd|' /C calc'!A0", Attributes: `{"phone_number":"+15125550101"}`}); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		fresh := filepath.Join(dir, "fresh.csv")
		existing := filepath.Join(dir, "existing.csv")
		if err := os.WriteFile(existing, []byte("old\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{fresh, existing} {
			if code, _, errOut := s.run("", "export", "-o", path); code != 0 {
				t.Fatalf("export -o %s: %d %s", path, code, errOut)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if mode := fi.Mode().Perm(); mode != 0o600 {
				t.Errorf("%s: mode %o, want 600", filepath.Base(path), mode)
			}
			b, _ := os.ReadFile(path)
			if !strings.Contains(string(b), "\n'=cmd|' /C calc'!A0,,+15125550101,\n") {
				t.Errorf("%s:\n%s", filepath.Base(path), b)
			}
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 2 {
			t.Errorf("files left beside the exports: %v", entries)
		}
		// Importing the file gives the same name back.
		if code, out, errOut := s.run("", "import", fresh); code != 0 || !strings.Contains(out, "1 unchanged") {
			t.Errorf("re-import: %d %s %s", code, out, errOut)
		}
	})
}
