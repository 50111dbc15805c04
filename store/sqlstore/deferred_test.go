package sqlstore

import (
	"errors"
	"strings"
	"testing"
)

// Rows of one table and key join one INSERT in the place of the first;
// other writes keep their order around it.
func TestPendingJoinsRows(t *testing.T) {
	ab := Insert{Table: "e", Columns: "a, b"}
	var p Pending
	var failed []int
	wrap := func(name string) func(error, int) error {
		return func(err error, rows int) error {
			failed = append(failed, rows)
			return errors.New(name + ": " + err.Error())
		}
	}
	p.AddRow(ab, "WS1", "", []any{1, 2}, wrap("first"))
	p.Add("DELETE FROM t", nil, func(err error) error { return err })
	p.AddRow(ab, "WS2", "", []any{5, 6}, wrap("other workspace"))
	p.AddRow(ab, "WS1", "", []any{3, 4}, wrap("second"))
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
		p.AddRow(Insert{Table: "e", Columns: "a"}, "", "", []any{i}, func(err error, _ int) error { return err })
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
	p.AddRow(Insert{Table: "events", Columns: "a"}, "", "", []any{1}, func(err error, _ int) error { return err })
	p.Add("DELETE FROM timers", nil, func(err error) error { return err })
	got := p.TakeBefore("UPDATE workspaces SET events_filter = $1")
	if len(got) != 1 || got[0].Query != "DELETE FROM timers" || p.Len() != 1 {
		t.Fatalf("before an update of workspaces: %v, %d left", got, p.Len())
	}
	p.AddRow(Insert{Table: "events", Columns: "a"}, "", "", []any{2}, func(err error, _ int) error { return err })
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

// An upsert of a key already in the statement replaces that row; a
// held-back write of the table closes the statement, which runs before it.
func TestPendingUpserts(t *testing.T) {
	up := Insert{Table: "timers", Columns: "k, v", Tail: " ON CONFLICT (k) DO UPDATE SET v = excluded.v"}
	keep := func(err error, _ int) error { return err }
	var p Pending
	p.AddRow(up, "", "a", []any{"a", 1}, keep)
	p.AddRow(up, "", "b", []any{"b", 2}, keep)
	p.AddRow(up, "", "a", []any{"a", 3}, keep)
	p.Add("DELETE FROM timers WHERE k = $1", []any{"b"}, func(err error) error { return err })
	p.AddRow(up, "", "b", []any{"b", 4}, keep)
	got := p.TakeBefore("UPDATE tasks SET x = 1")
	if len(got) != 2 || p.Len() != 1 {
		t.Fatalf("%d statements before another table's, %d left; want 2 and 1", len(got), p.Len())
	}
	if want := "INSERT INTO timers (k, v) VALUES ($1, $2), ($3, $4) ON CONFLICT (k) DO UPDATE SET v = excluded.v"; got[0].Query != want {
		t.Errorf("upsert %q, want %q", got[0].Query, want)
	}
	if a := got[0].Args; len(a) != 4 || a[0] != "a" || a[1] != 3 || a[3] != 2 {
		t.Errorf("upsert arguments %v, want [a 3 b 2]", a)
	}
	if got[1].Query != "DELETE FROM timers WHERE k = $1" {
		t.Errorf("second statement %q", got[1].Query)
	}
	if rest := p.Take(); len(rest) != 1 || rest[0].Args[1] != 4 {
		t.Errorf("after the delete: %v", rest)
	}
}
