package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter/engine"
)

func (h *Handler) taskQueueRoutes(r chi.Router) {
	r.Get("/TaskQueues", h.listTaskQueues)
	r.Post("/TaskQueues", h.createTaskQueue)
	r.Get("/TaskQueues/{sid}", h.getTaskQueue)
	r.Post("/TaskQueues/{sid}", h.updateTaskQueue)
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

func (h *Handler) taskQueueJSON(r *http.Request, q engine.TaskQueue) taskQueueJSON {
	ws := h.workspaceURL(r, q.WorkspaceSID)
	return taskQueueJSON{
		AccountSID:         nullable(h.account),
		DateCreated:        isoTime(q.DateCreated),
		DateUpdated:        isoTime(q.DateUpdated),
		FriendlyName:       q.FriendlyName,
		MaxReservedWorkers: q.MaxReservedWorkers,
		SID:                q.SID,
		TargetWorkers:      q.TargetWorkers,
		TaskOrder:          q.TaskOrder,
		URL:                ws + "/TaskQueues/" + q.SID,
		WorkspaceSID:       q.WorkspaceSID,
		Links:              map[string]string{"workspace": ws},
	}
}

func (h *Handler) listTaskQueues(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, err := parsePage(q)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	all, err := h.store.ListTaskQueues(r.Context(), workspaceOf(r).SID)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	name := q.Get("FriendlyName")
	kept := all[:0:0]
	for _, tq := range all {
		if name == "" || tq.FriendlyName == name {
			kept = append(kept, tq)
		}
	}
	page, next := pageOf(kept, p, func(q engine.TaskQueue) string { return q.SID })
	out := make([]taskQueueJSON, 0, len(page))
	for _, tq := range page {
		out = append(out, h.taskQueueJSON(r, tq))
	}
	writeJSON(w, http.StatusOK, map[string]any{"task_queues": out, "meta": h.listMeta(r, "task_queues", p, next)})
}

func (h *Handler) getTaskQueue(w http.ResponseWriter, r *http.Request) {
	q, err := h.store.GetTaskQueue(r.Context(), workspaceOf(r).SID, chi.URLParam(r, "sid"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.taskQueueJSON(r, q))
}

// Activity changes on reservation and assignment are TaskRouter features
// didrouter does not have: a worker's activity only changes when asked.
var unsupportedQueueParams = []string{"ReservationActivitySid", "AssignmentActivitySid"}

func (h *Handler) createTaskQueue(w http.ResponseWriter, r *http.Request) {
	f, err := parseForm(r)
	if err == nil {
		err = f.unsupported(unsupportedQueueParams...)
	}
	var maxReserved *int
	if err == nil {
		maxReserved, err = f.intPtr("MaxReservedWorkers")
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	n := engine.NewTaskQueue{
		FriendlyName:  f.get("FriendlyName"),
		TargetWorkers: f.get("TargetWorkers"),
		TaskOrder:     f.get("TaskOrder"),
	}
	if maxReserved != nil {
		n.MaxReservedWorkers = *maxReserved
	}
	q, err := h.eng.CreateTaskQueue(r.Context(), workspaceOf(r).SID, n)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, h.taskQueueJSON(r, q))
}

func (h *Handler) updateTaskQueue(w http.ResponseWriter, r *http.Request) {
	f, err := parseForm(r)
	if err == nil {
		err = f.unsupported(unsupportedQueueParams...)
	}
	var maxReserved *int
	if err == nil {
		maxReserved, err = f.intPtr("MaxReservedWorkers")
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	q, err := h.eng.UpdateTaskQueue(r.Context(), workspaceOf(r).SID, chi.URLParam(r, "sid"), engine.TaskQueueUpdate{
		FriendlyName:       f.ptr("FriendlyName"),
		TargetWorkers:      f.ptr("TargetWorkers"),
		TaskOrder:          f.ptr("TaskOrder"),
		MaxReservedWorkers: maxReserved,
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.taskQueueJSON(r, q))
}
