package api

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter/engine"
)

func (h *Handler) workerRoutes(r chi.Router) {
	r.Get("/Workers", h.listWorkers)
	r.Post("/Workers", h.createWorker)
	r.Get("/Workers/{sid}", h.getWorker)
	r.Post("/Workers/{sid}", h.updateWorker)
	r.Delete("/Workers/{sid}", h.deleteWorker)
}

type workerJSON struct {
	AccountSID        *string           `json:"account_sid"`
	ActivityName      string            `json:"activity_name"`
	ActivitySID       string            `json:"activity_sid"`
	Attributes        string            `json:"attributes"`
	Available         bool              `json:"available"`
	DateCreated       *string           `json:"date_created"`
	DateStatusChanged *string           `json:"date_status_changed"`
	DateUpdated       *string           `json:"date_updated"`
	FriendlyName      string            `json:"friendly_name"`
	SID               string            `json:"sid"`
	WorkspaceSID      string            `json:"workspace_sid"`
	URL               string            `json:"url"`
	Links             map[string]string `json:"links"`
}

func (h *Handler) workerJSON(r *http.Request, w engine.Worker) workerJSON {
	ws := h.workspaceURL(r, w.WorkspaceSID)
	u := ws + "/Workers/" + w.SID
	return workerJSON{
		AccountSID:        nullable(h.account),
		ActivityName:      w.ActivityName,
		ActivitySID:       w.ActivitySID,
		Attributes:        orEmptyObject(w.Attributes),
		Available:         w.Available,
		DateCreated:       isoTime(w.DateCreated),
		DateStatusChanged: isoTime(w.DateStatusChanged),
		DateUpdated:       isoTime(w.DateUpdated),
		FriendlyName:      w.FriendlyName,
		SID:               w.SID,
		WorkspaceSID:      w.WorkspaceSID,
		URL:               u,
		Links: map[string]string{
			"activity":  ws + "/Activities/" + w.ActivitySID,
			"workspace": ws,
		},
	}
}

func orEmptyObject(s string) string {
	if s == "" {
		return "{}"
	}
	return s
}

func (h *Handler) listWorkers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, err := parsePage(q)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	for _, n := range []string{"TargetWorkersExpression", "TaskQueueName", "TaskQueueSid"} {
		if q.Get(n) != "" {
			h.writeError(w, r, engine.Errorf(engine.EINVALID, "filter %s is not supported by didrouter", n))
			return
		}
	}
	f := engine.WorkerFilter{
		Page:         p.storePage(),
		ActivitySID:  q.Get("ActivitySid"),
		ActivityName: q.Get("ActivityName"),
		FriendlyName: q.Get("FriendlyName"),
	}
	if s := q.Get("Available"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			h.writeError(w, r, engine.Errorf(engine.EINVALID, "Available must be true or false, not %q", s))
			return
		}
		f.Available = &b
	}
	rows, err := h.store.ListWorkers(r.Context(), workspaceOf(r).SID, f)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	page, next := cut(rows, p, func(w engine.Worker) string { return w.SID })
	out := make([]workerJSON, 0, len(page))
	for _, wk := range page {
		out = append(out, h.workerJSON(r, wk))
	}
	writeJSON(w, http.StatusOK, map[string]any{"workers": out, "meta": h.listMeta(r, "workers", p, next)})
}

func (h *Handler) getWorker(w http.ResponseWriter, r *http.Request) {
	wk, err := h.store.GetWorker(r.Context(), workspaceOf(r).SID, chi.URLParam(r, "sid"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.workerJSON(r, wk))
}

// createWorker takes FriendlyName, Attributes and ActivitySid. A DID is the
// "phone_number" attribute: the engine stores it in E.164 and refuses a
// number another worker owns (409).
func (h *Handler) createWorker(w http.ResponseWriter, r *http.Request) {
	f, err := parseForm(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	wk, err := h.eng.CreateWorker(r.Context(), workspaceOf(r).SID, engine.NewWorker{
		FriendlyName: f.get("FriendlyName"),
		Attributes:   f.get("Attributes"),
		ActivitySID:  f.get("ActivitySid"),
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, h.workerJSON(r, wk))
}

// updateWorker changes the parameters that were sent and leaves the others.
func (h *Handler) updateWorker(w http.ResponseWriter, r *http.Request) {
	f, err := parseForm(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	wk, err := h.eng.UpdateWorker(r.Context(), workspaceOf(r).SID, chi.URLParam(r, "sid"), engine.WorkerUpdate{
		FriendlyName: f.ptr("FriendlyName"),
		Attributes:   f.ptr("Attributes"),
		ActivitySID:  f.ptr("ActivitySid"),
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.workerJSON(r, wk))
}

func (h *Handler) deleteWorker(w http.ResponseWriter, r *http.Request) {
	if err := h.eng.DeleteWorker(r.Context(), workspaceOf(r).SID, chi.URLParam(r, "sid")); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
