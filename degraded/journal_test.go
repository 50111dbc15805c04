package degraded_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/didrouter/didrouter/degraded"
)

func TestJournalKeepsWhatIsNotDone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, err := degraded.OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	for _, op := range []string{degraded.OpCall, degraded.OpAccept, degraded.OpEndTask} {
		e, err := j.Append(degraded.Entry{Op: op, Task: "WT1"})
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, e.Seq)
	}
	if err := j.Done(seqs[1]); err != nil {
		t.Fatal(err)
	}
	j.Close()

	// A crash in the middle of the next write leaves a torn line.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"seq":4,"op":"acc`)
	f.Close()

	j, err = degraded.OpenJournal(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	got := j.Pending()
	if len(got) != 2 || got[0].Seq != seqs[0] || got[1].Seq != seqs[2] || got[1].Op != degraded.OpEndTask {
		t.Fatalf("pending after reopen: %+v", got)
	}
	e, err := j.Append(degraded.Entry{Op: degraded.OpReject})
	if err != nil {
		t.Fatal(err)
	}
	if e.Seq <= seqs[2] {
		t.Fatalf("sequence went back: %d after %d", e.Seq, seqs[2])
	}
	for _, s := range []int64{seqs[0], seqs[2], e.Seq} {
		if err := j.Done(s); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	if b, _ := os.ReadFile(path); len(b) != 0 {
		t.Fatalf("journal with nothing pending is %d bytes, want empty", len(b))
	}
	j, err = degraded.OpenJournal(path)
	if err != nil || j.Len() != 0 {
		t.Fatalf("reopen empty: %v, %d pending", err, j.Len())
	}
	j.Close()
}

// A line in the middle that does not parse is not a torn write. The file
// is not ours or was edited, and opening it fails rather than drop entries.
func TestJournalRefusesACorruptFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	os.WriteFile(path, []byte("{\"seq\":1,\"op\":\"call\"}\nnot json\n{\"seq\":2,\"op\":\"accept\"}\n"), 0o600)
	if _, err := degraded.OpenJournal(path); err == nil || !strings.Contains(err.Error(), "does not parse") {
		t.Fatalf("OpenJournal of a corrupt file: %v", err)
	}
}

// A new journal is created 0600: it holds callers' numbers (issue 16,
// finding 7), and the umask alone would leave it readable by others.
func TestNewJournalIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, err := degraded.OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append(degraded.Entry{Op: degraded.OpCall, Task: "WT1"}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("new journal: mode %#o, want 0600", mode)
	}
}
