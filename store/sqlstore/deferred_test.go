package sqlstore

import (
	"errors"
	"strings"
	"testing"
)

// Rows of one table and key join one INSERT in the place of the first;
// other writes keep their order around it.
func TestPendingJoinsRows(t *testing.T) {
	var p Pending
	var failed []int
	wrap := func(name string) func(error, int) error {
		return func(err error, rows int) error {
			failed = append(failed, rows)
			return errors.New(name + ": " + err.Error())
		}
	}
	p.AddRow("e", "a, b", "WS1", []any{1, 2}, wrap("first"))
	p.Add("DELETE FROM t", nil, func(err error) error { return err })
	p.AddRow("e", "a, b", "WS2", []any{5, 6}, wrap("other workspace"))
	p.AddRow("e", "a, b", "WS1", []any{3, 4}, wrap("second"))
	if p.Len() != 3 {
		t.Fatalf("%d statements, want 3", p.Len())
	}
	ws := p.Take()
	if p.Len() != 0 {
		t.Errorf("Take left %d statements", p.Len())
	}
	want := []string{"INSERT INTO e (a, b) VALUES ($1, $2), ($3, $4)", "DELETE FROM t", "INSERT INTO e (a, b) VALUES ($1, $2)"}
	for i, w := range ws {
		if w.Query != want[i] {
			t.Errorf("statement %d: %q, want %q", i, w.Query, want[i])
		}
	}
	if got := ws[0].Args; len(got) != 4 || got[0] != 1 || got[3] != 4 {
		t.Errorf("arguments %v, want [1 2 3 4]", got)
	}
	if err := ws[0].Wrap(errors.New("boom")); err.Error() != "first: boom" || failed[0] != 2 {
		t.Errorf("failure reported as %q for %v rows, want the first row's wrap for 2", err, failed)
	}
}

// One statement holds at most maxRowsPerInsert rows.
func TestPendingBoundsRows(t *testing.T) {
	var p Pending
	for i := range maxRowsPerInsert + 1 {
		p.AddRow("e", "a", "", []any{i}, func(err error, _ int) error { return err })
	}
	ws := p.Take()
	if len(ws) != 2 || len(ws[0].Args) != maxRowsPerInsert || len(ws[1].Args) != 1 {
		t.Fatalf("%d statements, want %d rows and 1", len(ws), maxRowsPerInsert)
	}
	if !strings.HasSuffix(ws[0].Query, "($500)") || ws[1].Query != "INSERT INTO e (a) VALUES ($1)" {
		t.Errorf("statements %q… and %q", ws[0].Query[len(ws[0].Query)-20:], ws[1].Query)
	}
}

func TestRowsNamed(t *testing.T) {
	if got := rowsNamed("EV1", 1, "event"); got != "EV1" {
		t.Errorf("one row: %q", got)
	}
	if got := rowsNamed("EV1", 4, "event"); got != "EV1 (or another of the 4 events written with it)" {
		t.Errorf("four rows: %q", got)
	}
}

// A statement that does not name a table leaves its rows held back; the
// plain writes before it go.
func TestPendingKeepsRowsForTheirTable(t *testing.T) {
	var p Pending
	p.AddRow("events", "a", "", []any{1}, func(err error, _ int) error { return err })
	p.Add("DELETE FROM timers", nil, func(err error) error { return err })
	got := p.TakeBefore("UPDATE workspaces SET events_filter = $1")
	if len(got) != 1 || got[0].Query != "DELETE FROM timers" || p.Len() != 1 {
		t.Fatalf("before an update of workspaces: %v, %d left", got, p.Len())
	}
	p.AddRow("events", "a", "", []any{2}, func(err error, _ int) error { return err })
	got = p.TakeBefore("SELECT sid FROM events WHERE sid = $1")
	if len(got) != 1 || got[0].Query != "INSERT INTO events (a) VALUES ($1), ($2)" || p.Len() != 0 {
		t.Fatalf("before a read of events: %v, %d left", got, p.Len())
	}
}

func TestNamesTable(t *testing.T) {
	for q, want := range map[string]bool{
		"SELECT 1 FROM events WHERE sid = $1":       true,
		"SELECT 1 FROM events":                      true,
		"DELETE FROM events_old":                    false,
		"UPDATE workspaces SET events_filter = $1":  false,
		"SELECT x FROM tasks JOIN events ON 1 = 1":  true,
		"INSERT INTO myevents (a) VALUES ($1)":      false,
		"UPDATE workspaces SET x = 1, events_x = 2": false,
	} {
		if got := namesTable(q, "events"); got != want {
			t.Errorf("namesTable(%q) = %v", q, got)
		}
	}
}
