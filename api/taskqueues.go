package api

import (
	"context"
	"net/http"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/routing"
)

type taskQueueJSON struct {
	AccountSID              *string           `json:"account_sid"`
	AssignmentActivitySID   *string           `json:"assignment_activity_sid"`
	AssignmentActivityName  *string           `json:"assignment_activity_name"`
	DateCreated             *string           `json:"date_created"`
	DateUpdated             *string           `json:"date_updated"`
	FriendlyName            string            `json:"friendly_name"`
	MaxReservedWorkers      int               `json:"max_reserved_workers"`
	ReservationActivitySID  *string           `json:"reservation_activity_sid"`
	ReservationActivityName *string           `json:"reservation_activity_name"`
	SID                     string            `json:"sid"`
	TargetWorkers           string            `json:"target_workers"`
	TaskOrder               string            `json:"task_order"`
	URL                     string            `json:"url"`
	WorkspaceSID            string            `json:"workspace_sid"`
	Links                   map[string]string `json:"links"`
}

func (h *Handler) taskQueueJSON(r *http.Request, q didrouter.TaskQueue) taskQueueJSON {
	ws := h.workspaceURL(r, q.WorkspaceSID)
	u := ws + "/TaskQueues/" + q.SID
	return taskQueueJSON{
		AccountSID:         nullable(h.account),
		DateCreated:        isoTime(q.DateCreated),
		DateUpdated:        isoTime(q.DateUpdated),
		FriendlyName:       q.FriendlyName,
		MaxReservedWorkers: q.MaxReservedWorkers,
		SID:                q.SID,
		TargetWorkers:      q.TargetWorkers,
		TaskOrder:          q.TaskOrder,
		URL:                u,
		WorkspaceSID:       q.WorkspaceSID,
		Links: map[string]string{
			"workspace":             ws,
			"statistics":            u + "/Statistics",
			"real_time_statistics":  u + "/RealTimeStatistics",
			"cumulative_statistics": u + "/CumulativeStatistics",
			"list_statistics":       ws + "/TaskQueues/Statistics",
		},
	}
}

// listTaskQueues filters by FriendlyName, EvaluateWorkerAttributes (the
// queues whose target_workers a worker with these attributes matches) and
// WorkerSid (the queues that worker is in).
func (h *Handler) listTaskQueues(w http.ResponseWriter, r *http.Request, p pageRequest) error {
	if err := oldestFirst(r.URL.Query()); err != nil {
		return err
	}
	kept, err := h.filterQueues(r, workspaceOf(r).SID)
	if err != nil {
		return err
	}
	page, next := pageOf(kept, p, func(q didrouter.TaskQueue) string { return q.SID })
	return h.writePage(w, r, "task_queues", p, next, render(r, page, h.taskQueueJSON))
}

// filterQueues returns the workspace's queues the list filters keep.
func (h *Handler) filterQueues(r *http.Request, ws string) ([]didrouter.TaskQueue, error) {
	q := r.URL.Query()
	all, err := h.store.ListTaskQueues(r.Context(), ws)
	if err != nil {
		return nil, err
	}
	var member *routing.WorkerInfo
	if raw := q.Get("EvaluateWorkerAttributes"); raw != "" {
		attrs, err := routing.ParseAttributes([]byte(raw))
		if err != nil {
			return nil, didrouter.Errorf(didrouter.EINVALID, "EvaluateWorkerAttributes: %v", err)
		}
		member = &routing.WorkerInfo{Attributes: attrs}
	}
	var worker *routing.WorkerInfo
	if sid := q.Get("WorkerSid"); sid != "" {
		wk, err := h.store.GetWorker(r.Context(), ws, sid)
		if err != nil {
			if didrouter.ErrorCode(err) == didrouter.ENOTFOUND {
				return nil, didrouter.Errorf(didrouter.EINVALID, "WorkerSid %s is not a worker of this workspace", sid)
			}
			return nil, err
		}
		worker = workerInfo(wk)
	}
	name := q.Get("FriendlyName")
	kept := all[:0:0]
	for _, tq := range all {
		if name != "" && tq.FriendlyName != name {
			continue
		}
		if member != nil || worker != nil {
			e, err := routing.Compile(tq.TargetWorkers, routing.ScopeWorker)
			if err != nil {
				continue // a stored queue always compiles; a broken one has no members
			}
			if (member != nil && !e.EvalWorker(nil, member)) || (worker != nil && !e.EvalWorker(nil, worker)) {
				continue
			}
		}
		kept = append(kept, tq)
	}
	return kept, nil
}

// Activity changes on reservation and assignment are TaskRouter features
// didrouter does not have: a worker's activity only changes when asked.
var unsupportedQueueParams = []string{"ReservationActivitySid", "AssignmentActivitySid"}

// queueForm reads MaxReservedWorkers from the form of a queue's creation
// or update, and refuses the parameters didrouter does not have.
func queueForm(f form) (maxReserved *int, err error) {
	if err = f.unsupported(unsupportedQueueParams...); err != nil {
		return nil, err
	}
	return f.intPtr("MaxReservedWorkers")
}

func (h *Handler) createTaskQueue(ctx context.Context, ws string, f form) (didrouter.TaskQueue, error) {
	maxReserved, err := queueForm(f)
	if err != nil {
		return didrouter.TaskQueue{}, err
	}
	n := engine.TaskQueueInsert{
		FriendlyName:  f.get("FriendlyName"),
		TargetWorkers: f.get("TargetWorkers"),
		TaskOrder:     f.get("TaskOrder"),
	}
	if maxReserved != nil {
		n.MaxReservedWorkers = *maxReserved
	}
	return h.eng.CreateTaskQueue(ctx, ws, n)
}

func (h *Handler) updateTaskQueue(ctx context.Context, ws, sid string, f form) (didrouter.TaskQueue, error) {
	maxReserved, err := queueForm(f)
	if err != nil {
		return didrouter.TaskQueue{}, err
	}
	return h.eng.UpdateTaskQueue(ctx, ws, sid, engine.TaskQueueUpdate{
		FriendlyName:       f.ptr("FriendlyName"),
		TargetWorkers:      f.ptr("TargetWorkers"),
		TaskOrder:          f.ptr("TaskOrder"),
		MaxReservedWorkers: maxReserved,
	})
}
