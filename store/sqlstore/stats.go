package sqlstore

import (
	"context"
	"strings"

	"github.com/didrouter/didrouter"
)

// CountTasks is one GROUP BY over the tasks of a workspace (the
// tasks_status_page index leads with workspace_sid, assignment_status).
func (q *Queries) CountTasks(ctx context.Context, workspaceSID string, f didrouter.TaskCountFilter) ([]didrouter.TaskCount, error) {
	var a args
	var b strings.Builder
	b.WriteString(`SELECT assignment_status, priority, count(*) FROM tasks WHERE workspace_sid = ` + a.add(workspaceSID))
	for _, c := range []struct{ col, val string }{
		{"task_queue_sid", f.TaskQueueSID},
		{"workflow_sid", f.WorkflowSID},
		{"task_channel", f.TaskChannel},
	} {
		if c.val != "" {
			b.WriteString(` AND ` + c.col + ` = ` + a.add(c.val))
		}
	}
	b.WriteString(` GROUP BY assignment_status, priority ORDER BY assignment_status, priority`)
	scan := func(r Row) (didrouter.TaskCount, error) {
		var c didrouter.TaskCount
		var n int64
		err := r.Scan(&c.Status, &c.Priority, &n)
		c.N = int(n)
		return c, err
	}
	return list(ctx, q, scan, "task counts", b.String(), a...)
}
