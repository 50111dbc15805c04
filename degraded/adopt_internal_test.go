package degraded

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// The file opened for an adoption is checked again once open, because it
// may have been swapped since it was checked by name. A symbolic link is
// not followed, and a file others may write is refused before it is read.
func TestOpenAdoptedJournalChecksTheOpenFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.jsonl")
	if err := os.WriteFile(good, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	j, err := openAdoptedJournal(good)
	if err != nil {
		t.Fatalf("a private journal: %v", err)
	}
	j.Close()

	open := filepath.Join(dir, "open.jsonl")
	if err := os.WriteFile(open, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o666); err != nil {
		t.Fatal(err)
	}
	if _, err := openAdoptedJournal(open); !errors.Is(err, ErrNotAdoptable) {
		t.Fatalf("a journal others may write: %v, want ErrNotAdoptable", err)
	}

	if runtime.GOOS == "windows" {
		return
	}
	link := filepath.Join(dir, "link.jsonl")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	if _, err := openAdoptedJournal(link); err == nil {
		t.Fatal("a symbolic link was opened as a journal to adopt")
	}
}
