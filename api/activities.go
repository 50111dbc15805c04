package api

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter"
)

func (h *Handler) activityRoutes(r chi.Router) {
	h.mountResource(r, "/Activities", resource{list: h.listActivities, create: h.createActivity,
		get: readOne(h.store.GetActivity, h.activityJSON), update: h.updateActivity, remove: h.deleteActivity})
}

type activityJSON struct {
	AccountSID   *string           `json:"account_sid"`
	Available    bool              `json:"available"`
	DateCreated  *string           `json:"date_created"`
	DateUpdated  *string           `json:"date_updated"`
	FriendlyName string            `json:"friendly_name"`
	SID          string            `json:"sid"`
	WorkspaceSID string            `json:"workspace_sid"`
	URL          string            `json:"url"`
	Links        map[string]string `json:"links"`
}

func (h *Handler) activityJSON(r *http.Request, a didrouter.Activity) activityJSON {
	ws := h.workspaceURL(r, a.WorkspaceSID)
	return activityJSON{
		AccountSID:   nullable(h.account),
		Available:    a.Available,
		DateCreated:  isoTime(a.DateCreated),
		DateUpdated:  isoTime(a.DateUpdated),
		FriendlyName: a.FriendlyName,
		SID:          a.SID,
		WorkspaceSID: a.WorkspaceSID,
		URL:          ws + "/Activities/" + a.SID,
		Links:        map[string]string{"workspace": ws},
	}
}

func (h *Handler) listActivities(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p, err := parsePage(q)
	if err != nil {
		return err
	}
	all, err := h.store.ListActivities(r.Context(), workspaceOf(r).SID)
	if err != nil {
		return err
	}
	var available *bool
	if s := q.Get("Available"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return didrouter.Errorf(didrouter.EINVALID, "Available must be true or false, not %q", s)
		}
		available = &b
	}
	name := q.Get("FriendlyName")
	kept := keep(all, func(a didrouter.Activity) bool {
		return (name == "" || a.FriendlyName == name) && (available == nil || a.Available == *available)
	})
	page, next := pageOf(kept, p, func(a didrouter.Activity) string { return a.SID })
	out := make([]activityJSON, 0, len(page))
	for _, a := range page {
		out = append(out, h.activityJSON(r, a))
	}
	writeJSON(w, http.StatusOK, map[string]any{"activities": out, "meta": h.listMeta(r, "activities", p, next)})
	return nil
}

// createActivity takes FriendlyName, unique in the workspace, and
// Available, false unless sent. As in TaskRouter, Available cannot change
// later.
func (h *Handler) createActivity(w http.ResponseWriter, r *http.Request) error {
	f, err := parseForm(r)
	var available *bool
	if err == nil {
		available, err = f.boolPtr("Available")
	}
	if err != nil {
		return err
	}
	a, err := h.insertActivity(r.Context(), workspaceOf(r).SID, f.get("FriendlyName"), available != nil && *available)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, h.activityJSON(r, a))
	return nil
}

// updateActivity renames an activity; its availability is fixed.
func (h *Handler) updateActivity(w http.ResponseWriter, r *http.Request) error {
	f, err := parseForm(r)
	if err == nil {
		err = f.unsupported("Available")
	}
	if err != nil {
		return err
	}
	ws, sid := workspaceOf(r).SID, chi.URLParam(r, "sid")
	var a didrouter.Activity
	if name, ok := f.str("FriendlyName"); ok {
		a, err = h.renameActivity(r.Context(), ws, sid, name)
	} else {
		a, err = h.store.GetActivity(r.Context(), ws, sid)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h.activityJSON(r, a))
	return nil
}

// deleteActivity refuses (409) an activity a worker is in or the workspace
// uses as its default or timeout activity.
func (h *Handler) deleteActivity(w http.ResponseWriter, r *http.Request) error {
	if err := h.removeActivity(r.Context(), workspaceOf(r).SID, chi.URLParam(r, "sid")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
