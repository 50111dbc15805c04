package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter/engine"
)

func (h *Handler) taskRoutes(r chi.Router) {
	r.Get("/Tasks", h.listTasks)
	r.Get("/Tasks/{sid}", h.getTask)
}

type taskJSON struct {
	AccountSID            *string           `json:"account_sid"`
	Age                   int               `json:"age"`
	AssignmentStatus      string            `json:"assignment_status"`
	Attributes            string            `json:"attributes"`
	DateCreated           *string           `json:"date_created"`
	DateUpdated           *string           `json:"date_updated"`
	TaskQueueEnteredDate  *string           `json:"task_queue_entered_date"`
	Priority              int               `json:"priority"`
	Reason                *string           `json:"reason"`
	SID                   string            `json:"sid"`
	TaskQueueSID          *string           `json:"task_queue_sid"`
	TaskQueueFriendlyName *string           `json:"task_queue_friendly_name"`
	TaskChannelUniqueName string            `json:"task_channel_unique_name"`
	Timeout               int               `json:"timeout"`
	WorkflowSID           string            `json:"workflow_sid"`
	WorkflowFriendlyName  *string           `json:"workflow_friendly_name"`
	WorkspaceSID          string            `json:"workspace_sid"`
	URL                   string            `json:"url"`
	Links                 map[string]string `json:"links"`
}

// names caches the friendly names of queues and workflows within one
// request, so a page of tasks reads each at most once.
type names struct {
	h     *Handler
	ws    string
	cache map[string]*string
}

func (n *names) of(ctx context.Context, sid string) *string {
	if sid == "" {
		return nil
	}
	if v, ok := n.cache[sid]; ok {
		return v
	}
	var name *string
	switch {
	case strings.HasPrefix(sid, engine.PrefixTaskQueue):
		if q, err := n.h.store.GetTaskQueue(ctx, n.ws, sid); err == nil {
			name = &q.FriendlyName
		}
	case strings.HasPrefix(sid, engine.PrefixWorkflow):
		if wf, err := n.h.store.GetWorkflow(ctx, n.ws, sid); err == nil {
			name = &wf.FriendlyName
		}
	}
	n.cache[sid] = name
	return name
}

func (h *Handler) taskJSON(r *http.Request, t engine.Task, n *names) taskJSON {
	ws := h.workspaceURL(r, t.WorkspaceSID)
	age := 0
	if !t.DateCreated.IsZero() {
		age = max(int(h.clock.Now().Sub(t.DateCreated).Seconds()), 0)
	}
	var entered *string
	if t.TaskQueueSID != "" {
		entered = isoTime(t.StepEnteredAt)
	}
	return taskJSON{
		AccountSID:            nullable(h.account),
		Age:                   age,
		AssignmentStatus:      t.AssignmentStatus,
		Attributes:            orEmptyObject(t.Attributes),
		DateCreated:           isoTime(t.DateCreated),
		DateUpdated:           isoTime(t.DateUpdated),
		TaskQueueEnteredDate:  entered,
		Priority:              t.Priority,
		Reason:                nullable(t.Reason),
		SID:                   t.SID,
		TaskQueueSID:          nullable(t.TaskQueueSID),
		TaskQueueFriendlyName: n.of(r.Context(), t.TaskQueueSID),
		TaskChannelUniqueName: t.TaskChannel,
		Timeout:               t.Timeout,
		WorkflowSID:           t.WorkflowSID,
		WorkflowFriendlyName:  n.of(r.Context(), t.WorkflowSID),
		WorkspaceSID:          t.WorkspaceSID,
		URL:                   ws + "/Tasks/" + t.SID,
		Links: map[string]string{
			"workflow":  ws + "/Workflows/" + t.WorkflowSID,
			"workspace": ws,
		},
	}
}

func (h *Handler) listTasks(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, err := parsePage(q)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	for _, n := range []string{"TaskQueueName", "WorkflowName", "EvaluateTaskAttributes", "HasAddons", "RoutingTarget"} {
		if q.Get(n) != "" {
			h.writeError(w, r, engine.Errorf(engine.EINVALID, "filter %s is not supported by didrouter", n))
			return
		}
	}
	f := engine.TaskFilter{
		Page:         p.storePage(),
		WorkflowSID:  q.Get("WorkflowSid"),
		TaskQueueSID: q.Get("TaskQueueSid"),
	}
	for _, v := range q["AssignmentStatus"] {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				f.AssignmentStatus = append(f.AssignmentStatus, s)
			}
		}
	}
	switch o := q.Get("Ordering"); o {
	case "", "DateCreated:asc":
	case "DateCreated:desc":
		f.Newest = true
	default:
		h.writeError(w, r, engine.Errorf(engine.EINVALID, "Ordering %q is not supported (DateCreated:asc or DateCreated:desc)", o))
		return
	}
	ws := workspaceOf(r).SID
	rows, err := h.store.ListTasks(r.Context(), ws, f)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	page, next := cut(rows, p, func(t engine.Task) string { return t.SID })
	n := &names{h: h, ws: ws, cache: map[string]*string{}}
	out := make([]taskJSON, 0, len(page))
	for _, t := range page {
		out = append(out, h.taskJSON(r, t, n))
	}
	writeJSON(w, http.StatusOK, map[string]any{"tasks": out, "meta": h.listMeta(r, "tasks", p, next)})
}

func (h *Handler) getTask(w http.ResponseWriter, r *http.Request) {
	ws := workspaceOf(r).SID
	t, err := h.store.GetTask(r.Context(), ws, chi.URLParam(r, "sid"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.taskJSON(r, t, &names{h: h, ws: ws, cache: map[string]*string{}}))
}
