package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/didrouter/didrouter/store/sqlstore"
)

// The look-ups every webhook makes use their partial indexes: a scan of the
// workspace's tasks instead grows with every call ever taken.
func TestQueryPlansUsePartialIndexes(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "didrouter.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range []struct{ name, sql, index string }{
		{"task by call", sqlstore.TaskByCallSQL, "tasks_call_sid_key"},
		{"call-back requests", sqlstore.CallbackRequestsSQL, "tasks_callback_number"},
	} {
		rows, err := s.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+c.sql, "WS1", "CA1")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if got := strings.Join(plan, "; "); !strings.Contains(got, "USING INDEX "+c.index) {
			t.Errorf("%s: plan %q does not use %s", c.name, got, c.index)
		}
	}
}
