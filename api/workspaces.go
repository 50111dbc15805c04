package api

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/api/callback"
)

type ctxKey int

const workspaceKey ctxKey = iota

// loadWorkspace reads the {workspace} of the path once for every resource
// below it: an unknown workspace is a 404 for all of them.
func (h *Handler) loadWorkspace(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sid := chi.URLParam(r, "workspace")
		ws, err := h.store.GetWorkspace(r.Context(), sid)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), workspaceKey, ws)))
	})
}

func workspaceOf(r *http.Request) didrouter.Workspace {
	ws, _ := r.Context().Value(workspaceKey).(didrouter.Workspace)
	return ws
}

type workspaceJSON struct {
	AccountSID           *string           `json:"account_sid"`
	DateCreated          *string           `json:"date_created"`
	DateUpdated          *string           `json:"date_updated"`
	DefaultActivityName  *string           `json:"default_activity_name"`
	DefaultActivitySID   *string           `json:"default_activity_sid"`
	EventCallbackURL     *string           `json:"event_callback_url"`
	EventsFilter         *string           `json:"events_filter"`
	FriendlyName         string            `json:"friendly_name"`
	MultiTaskEnabled     bool              `json:"multi_task_enabled"`
	PrioritizeQueueOrder string            `json:"prioritize_queue_order"`
	SID                  string            `json:"sid"`
	TimeoutActivityName  *string           `json:"timeout_activity_name"`
	TimeoutActivitySID   *string           `json:"timeout_activity_sid"`
	URL                  string            `json:"url"`
	Links                map[string]string `json:"links"`
}

func (h *Handler) workspaceJSON(r *http.Request, ws didrouter.Workspace) workspaceJSON {
	ctx := r.Context()
	u := h.workspaceURL(r, ws.SID)
	return workspaceJSON{
		AccountSID:           nullable(h.account),
		DateCreated:          isoTime(ws.DateCreated),
		DateUpdated:          isoTime(ws.DateUpdated),
		DefaultActivityName:  h.activityName(ctx, ws.SID, ws.DefaultActivitySID),
		DefaultActivitySID:   nullable(ws.DefaultActivitySID),
		EventCallbackURL:     nullable(callback.HidePassword(ws.EventCallbackURL)),
		EventsFilter:         nullable(ws.EventsFilter),
		FriendlyName:         ws.FriendlyName,
		MultiTaskEnabled:     false,
		PrioritizeQueueOrder: "FIFO",
		SID:                  ws.SID,
		TimeoutActivityName:  h.activityName(ctx, ws.SID, ws.TimeoutActivitySID),
		TimeoutActivitySID:   nullable(ws.TimeoutActivitySID),
		URL:                  u,
		Links: map[string]string{
			"activities":            u + "/Activities",
			"workers":               u + "/Workers",
			"task_queues":           u + "/TaskQueues",
			"workflows":             u + "/Workflows",
			"tasks":                 u + "/Tasks",
			"events":                u + "/Events",
			"statistics":            u + "/Statistics",
			"real_time_statistics":  u + "/RealTimeStatistics",
			"cumulative_statistics": u + "/CumulativeStatistics",
		},
	}
}

// activityName is the friendly name of an activity, nil when unset or gone.
func (h *Handler) activityName(ctx context.Context, ws, sid string) *string {
	if sid == "" {
		return nil
	}
	a, err := h.store.GetActivity(ctx, ws, sid)
	if err != nil {
		return nil
	}
	return &a.FriendlyName
}

func (h *Handler) listWorkspaces(w http.ResponseWriter, r *http.Request, p pageRequest) error {
	all, err := h.store.ListWorkspaces(r.Context())
	if err != nil {
		return err
	}
	if name := r.URL.Query().Get("FriendlyName"); name != "" {
		all = keep(all, func(ws didrouter.Workspace) bool { return ws.FriendlyName == name })
	}
	page, next := pageOf(all, p, func(ws didrouter.Workspace) string { return ws.SID })
	return h.writePage(w, r, "workspaces", p, next, render(r, page, h.workspaceJSON))
}

func (h *Handler) getWorkspace(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, h.workspaceJSON(r, workspaceOf(r)))
	return nil
}

// updateWorkspace changes FriendlyName, DefaultActivitySid,
// TimeoutActivitySid, EventCallbackUrl and EventsFilter. An empty value
// clears the last three. Package eventcallback POSTs the events.
func (h *Handler) updateWorkspace(w http.ResponseWriter, r *http.Request) error {
	f, err := parseForm(r)
	if err == nil {
		err = f.onlyValues("MultiTaskEnabled", "false", "False")
	}
	if err == nil {
		err = f.onlyValues("PrioritizeQueueOrder", "FIFO")
	}
	if err != nil {
		return err
	}
	ws, err := h.writeWorkspace(r.Context(), workspaceOf(r).SID, workspaceUpdate{
		FriendlyName:       f.ptr("FriendlyName"),
		DefaultActivitySID: f.ptr("DefaultActivitySid"),
		TimeoutActivitySID: f.ptr("TimeoutActivitySid"),
		EventCallbackURL:   f.ptr("EventCallbackUrl"),
		EventsFilter:       f.ptr("EventsFilter"),
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h.workspaceJSON(r, ws))
	return nil
}
