package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/didrouter/didrouter"
)

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

func (h *Handler) listActivities(w http.ResponseWriter, r *http.Request, p pageRequest) error {
	q := r.URL.Query()
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
	return h.writePage(w, r, "activities", p, next, render(r, page, h.activityJSON))
}

// createActivity takes FriendlyName, unique in the workspace, and
// Available, false unless sent. As in TaskRouter, Available cannot change
// later.
func (h *Handler) createActivity(ctx context.Context, ws string, f form) (didrouter.Activity, error) {
	available, err := f.boolPtr("Available")
	if err != nil {
		return didrouter.Activity{}, err
	}
	return h.insertActivity(ctx, ws, f.get("FriendlyName"), available != nil && *available)
}

// updateActivity renames an activity; its availability is fixed.
func (h *Handler) updateActivity(ctx context.Context, ws, sid string, f form) (didrouter.Activity, error) {
	if err := f.unsupported("Available"); err != nil {
		return didrouter.Activity{}, err
	}
	if name, ok := f.str("FriendlyName"); ok {
		return h.renameActivity(ctx, ws, sid, name)
	}
	return h.store.GetActivity(ctx, ws, sid)
}
