package fileperm_test

import (
	"bytes"
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/didrouter/didrouter/fileperm"
)

// Tighten takes away only what group and others may do, says so once per
// file it changed, and says nothing about a private file or a missing one.
func TestTighten(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		mode, want fs.FileMode
	}{
		{0o644, 0o600},
		{0o666, 0o600},
		{0o755, 0o700},
		{0o600, 0o600},
		{0o400, 0o400},
	}
	for _, c := range cases {
		var logs bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&logs, nil))
		path := filepath.Join(dir, c.mode.String())
		if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, c.mode); err != nil {
			t.Fatal(err)
		}
		fileperm.Tighten(context.Background(), path, logger)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != c.want {
			t.Errorf("%#o: now %#o, want %#o", c.mode, got, c.want)
		}
		if said := strings.Contains(logs.String(), "made private"); said != (c.mode != c.want) {
			t.Errorf("%#o: logged %q", c.mode, logs.String())
		}
	}
	var logs bytes.Buffer
	fileperm.Tighten(context.Background(), filepath.Join(dir, "missing"), slog.New(slog.NewTextHandler(&logs, nil)))
	if logs.Len() != 0 {
		t.Errorf("a missing file logged %q", logs.String())
	}
}

// Create makes a new file 0600 and leaves an existing one as it is.
func TestCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := fileperm.Create(path); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("new file: %v %v, want mode 0600", fi.Mode(), err)
	}
	if err := os.WriteFile(path, []byte("kept"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := fileperm.Create(path); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "kept" {
		t.Fatalf("existing file now holds %q", b)
	}
}
