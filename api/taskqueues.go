package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/routing"
)

func (h *Handler) taskQueueRoutes(r chi.Router) {
	h.mountResource(r, "/TaskQueues", resource{list: h.listTaskQueues, create: h.createTaskQueue,
		get: readOne(h.store.GetTaskQueue, h.taskQueueJSON), update: h.updateTaskQueue, remove: h.deleteTaskQueue})
}

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
func (h *Handler) listTaskQueues(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p, err := parsePage(q)
	if err != nil {
		return err
	}
	if o := q.Get("Ordering"); o != "" && o != "DateCreated:asc" {
		return didrouter.Errorf(didrouter.EINVALID, "Ordering %q is not supported (DateCreated:asc)", o)
	}
	ws := workspaceOf(r).SID
	kept, err := h.filterQueues(r, ws)
	if err != nil {
		return err
	}
	page, next := pageOf(kept, p, func(q didrouter.TaskQueue) string { return q.SID })
	out := make([]taskQueueJSON, 0, len(page))
	for _, tq := range page {
		out = append(out, h.taskQueueJSON(r, tq))
	}
	writeJSON(w, http.StatusOK, map[string]any{"task_queues": out, "meta": h.listMeta(r, "task_queues", p, next)})
	return nil
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

// queueForm parses the form of a queue's creation or update.
func queueForm(r *http.Request) (f form, maxReserved *int, err error) {
	if f, err = parseForm(r); err != nil {
		return f, nil, err
	}
	if err = f.unsupported(unsupportedQueueParams...); err != nil {
		return f, nil, err
	}
	maxReserved, err = f.intPtr("MaxReservedWorkers")
	return f, maxReserved, err
}

func (h *Handler) createTaskQueue(w http.ResponseWriter, r *http.Request) error {
	f, maxReserved, err := queueForm(r)
	if err != nil {
		return err
	}
	n := engine.TaskQueueInsert{
		FriendlyName:  f.get("FriendlyName"),
		TargetWorkers: f.get("TargetWorkers"),
		TaskOrder:     f.get("TaskOrder"),
	}
	if maxReserved != nil {
		n.MaxReservedWorkers = *maxReserved
	}
	q, err := h.eng.CreateTaskQueue(r.Context(), workspaceOf(r).SID, n)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, h.taskQueueJSON(r, q))
	return nil
}

func (h *Handler) updateTaskQueue(w http.ResponseWriter, r *http.Request) error {
	f, maxReserved, err := queueForm(r)
	if err != nil {
		return err
	}
	q, err := h.eng.UpdateTaskQueue(r.Context(), workspaceOf(r).SID, chi.URLParam(r, "sid"), engine.TaskQueueUpdate{
		FriendlyName:       f.ptr("FriendlyName"),
		TargetWorkers:      f.ptr("TargetWorkers"),
		TaskOrder:          f.ptr("TaskOrder"),
		MaxReservedWorkers: maxReserved,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h.taskQueueJSON(r, q))
	return nil
}

// deleteTaskQueue refuses (409) a queue a workflow still targets.
func (h *Handler) deleteTaskQueue(w http.ResponseWriter, r *http.Request) error {
	ws, sid := workspaceOf(r).SID, chi.URLParam(r, "sid")
	if _, err := h.store.GetTaskQueue(r.Context(), ws, sid); err != nil {
		return err
	}
	if err := h.eng.DeleteTaskQueue(r.Context(), ws, sid); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
