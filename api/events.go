package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/didrouter/didrouter"
)

type eventJSON struct {
	AccountSID   *string         `json:"account_sid"`
	ActorSID     *string         `json:"actor_sid"`
	ActorType    *string         `json:"actor_type"`
	ActorURL     *string         `json:"actor_url"`
	Description  string          `json:"description"`
	EventData    json.RawMessage `json:"event_data"`
	EventDate    *string         `json:"event_date"`
	EventDateMs  int64           `json:"event_date_ms"`
	EventType    string          `json:"event_type"`
	ResourceSID  string          `json:"resource_sid"`
	ResourceType string          `json:"resource_type"`
	ResourceURL  *string         `json:"resource_url"`
	SID          string          `json:"sid"`
	Source       string          `json:"source"`
	URL          string          `json:"url"`
	WorkspaceSID string          `json:"workspace_sid"`
}

// resourcePaths maps an event's resource type to its collection.
var resourcePaths = map[string]string{
	"task":        "/Tasks/",
	"worker":      "/Workers/",
	"workflow":    "/Workflows/",
	"taskqueue":   "/TaskQueues/",
	"reservation": "/Tasks/",
}

func (h *Handler) eventJSON(r *http.Request, e didrouter.Event) eventJSON {
	ws := h.workspaceURL(r, e.WorkspaceSID)
	data := json.RawMessage(e.Data)
	if !json.Valid(data) {
		data = json.RawMessage("{}")
	}
	out := eventJSON{
		AccountSID:   nullable(h.account),
		Description:  e.Description,
		EventData:    data,
		EventDate:    isoTime(e.Date),
		EventDateMs:  e.Date.UnixMilli(),
		EventType:    e.EventType,
		ResourceSID:  e.ResourceSID,
		ResourceType: e.ResourceType,
		SID:          e.SID,
		Source:       "didrouter",
		URL:          ws + "/Events/" + e.SID,
		WorkspaceSID: e.WorkspaceSID,
	}
	if p, ok := resourcePaths[e.ResourceType]; ok {
		u := ws + p + e.ResourceSID
		if e.ResourceType == "reservation" && e.TaskSID != "" {
			u = ws + "/Tasks/" + e.TaskSID + "/Reservations/" + e.ResourceSID
		}
		out.ResourceURL = &u
	}
	if e.WorkerSID != "" {
		actor, typ := ws+"/Workers/"+e.WorkerSID, "worker"
		out.ActorSID, out.ActorType, out.ActorURL = &e.WorkerSID, &typ, &actor
	}
	return out
}

func (h *Handler) listEvents(w http.ResponseWriter, r *http.Request, p pageRequest) error {
	q := r.URL.Query()
	for _, n := range []string{"TaskQueueSid", "WorkflowSid", "TaskChannel", "Sid"} {
		if q.Get(n) != "" {
			return didrouter.Errorf(didrouter.EINVALID, "filter %s is not supported by didrouter", n)
		}
	}
	f := didrouter.EventFilter{
		Page:           p.storePage(),
		EventType:      q.Get("EventType"),
		ResourceSID:    q.Get("ResourceSid"),
		TaskSID:        q.Get("TaskSid"),
		WorkerSID:      q.Get("WorkerSid"),
		ReservationSID: q.Get("ReservationSid"),
	}
	if m := q.Get("Minutes"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 1 {
			return didrouter.Errorf(didrouter.EINVALID, "Minutes must be a whole number of minutes from 1, not %q", m)
		}
		if q.Get("StartDate") != "" {
			return didrouter.Errorf(didrouter.EINVALID, "Minutes cannot be combined with StartDate")
		}
		f.StartDate = h.clock.Now().Add(-time.Duration(n) * time.Minute)
	}
	for name, dst := range map[string]*time.Time{"StartDate": &f.StartDate, "EndDate": &f.EndDate} {
		if s := q.Get(name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return didrouter.Errorf(didrouter.EINVALID, "%s must be an ISO 8601 date such as 2024-01-02T15:04:05Z, not %q", name, s)
			}
			*dst = t.UTC()
		}
	}
	rows, err := h.store.ListEvents(r.Context(), workspaceOf(r).SID, f)
	if err != nil {
		return err
	}
	page, next := cut(rows, p, func(e didrouter.Event) string { return e.SID })
	return h.writePage(w, r, "events", p, next, render(r, page, h.eventJSON))
}
