package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/store/sqlstore"
)

// The look-ups every webhook makes use their own indexes: a walk of the
// workspace's tasks or reservations instead grows with every call ever
// taken.
func TestQueryPlansUseTheirIndexes(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "didrouter.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	byTask, taskArgs := sqlstore.ListReservationsSQL(newDialect(), "WS1", didrouter.ReservationFilter{TaskSID: "WT1"})
	byWorker, workerArgs := sqlstore.ListReservationsSQL(newDialect(), "WS1", didrouter.ReservationFilter{WorkerSID: "WK1", Newest: true})
	now := time.Now()
	recentWait, recentArgs := sqlstore.ListEventsSQL(newDialect(), "WS1", didrouter.EventFilter{Page: didrouter.Page{Size: 50},
		EventType: didrouter.EventReservationAccepted, StartDate: now.Add(-30 * time.Minute), EndDate: now, Newest: true})
	lastActivity, activityArgs := sqlstore.ListEventsSQL(newDialect(), "WS1", didrouter.EventFilter{Page: didrouter.Page{Size: 1},
		EventType: didrouter.EventWorkerActivityUpdate, WorkerSID: "WK1", StartDate: now.Add(-time.Hour), Newest: true})
	timeline, timelineArgs := sqlstore.ListEventsSQL(newDialect(), "WS1", didrouter.EventFilter{TaskSID: "WT1"})
	for _, c := range []struct {
		name, sql, index string
		args             []any
	}{
		{"task by call", sqlstore.TaskByCallSQL, "tasks_call_sid_key", []any{"WS1", "CA1"}},
		{"call-back requests", sqlstore.CallbackRequestsSQL, "tasks_callback_number", []any{"WS1", "+15125550100"}},
		{"a task's reservations", byTask, "reservations_task", taskArgs},
		{"a worker's reservations", byWorker, "reservations_worker", workerArgs},
		// Without an index by type, the recent answers walk the window.
		{"recent answers", recentWait, "events_page", recentArgs},
		{"a worker's last activity change", lastActivity, "events_worker", activityArgs},
		{"a call's timeline", timeline, "events_task", timelineArgs},
	} {
		rows, err := s.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+c.sql, c.args...)
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
