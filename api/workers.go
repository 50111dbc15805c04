package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/routing"
)

func (h *Handler) workerRoutes(r chi.Router) {
	h.mountResource(r, "/Workers", resource{list: h.listWorkers, create: h.createWorker,
		get: readOne(h.store.GetWorker, h.workerJSON), update: h.updateWorker, remove: h.deleteWorker})
	h.workerChannelRoutes(r)
	h.workerReservationRoutes(r)
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

	// PhoneNumberDisplay is didrouter's own: the DID as people write it.
	PhoneNumberDisplay *string `json:"phone_number_display"`
}

func (h *Handler) workerJSON(r *http.Request, w didrouter.Worker) workerJSON {
	ws := h.workspaceURL(r, w.WorkspaceSID)
	u := ws + "/Workers/" + w.SID
	return workerJSON{
		AccountSID:        nullable(h.account),
		ActivityName:      w.ActivityName,
		ActivitySID:       w.ActivitySID,
		Attributes:        routing.AttributesJSON(w.Attributes),
		Available:         w.Available,
		DateCreated:       isoTime(w.DateCreated),
		DateStatusChanged: isoTime(w.DateStatusChanged),
		DateUpdated:       isoTime(w.DateUpdated),
		FriendlyName:      w.FriendlyName,
		SID:               w.SID,
		WorkspaceSID:      w.WorkspaceSID,
		URL:               u,
		Links: map[string]string{
			"activity":     ws + "/Activities/" + w.ActivitySID,
			"workspace":    ws,
			"channels":     u + "/Channels",
			"reservations": u + "/Reservations",
		},
		PhoneNumberDisplay: h.numberDisplay(w.PhoneNumber),
	}
}

// listWorkers filters by ActivitySid, ActivityName, Available and
// FriendlyName in the store. It filters by TargetWorkersExpression, and by
// membership of the queue named by TaskQueueSid or TaskQueueName, by
// evaluating the expressions on each worker.
func (h *Handler) listWorkers(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p, err := parsePage(q)
	if err != nil {
		return err
	}
	if o := q.Get("Ordering"); o != "" && o != "DateCreated:asc" {
		return didrouter.Errorf(didrouter.EINVALID, "Ordering %q is not supported (DateCreated:asc)", o)
	}
	ws := workspaceOf(r).SID
	f := didrouter.WorkerFilter{
		ActivitySID:  q.Get("ActivitySid"),
		ActivityName: q.Get("ActivityName"),
		FriendlyName: q.Get("FriendlyName"),
	}
	if s := q.Get("Available"); s != "" {
		b, err := parseBool(s)
		if err != nil {
			return didrouter.Errorf(didrouter.EINVALID, "Available must be true or false, not %q", s)
		}
		f.Available = &b
	}
	exprs, none, err := h.workerExprs(r, ws)
	if err != nil {
		return err
	}
	var (
		page []didrouter.Worker
		next string
	)
	switch {
	case none:
	case len(exprs) == 0:
		f.Page = p.storePage()
		var rows []didrouter.Worker
		if rows, err = h.store.ListWorkers(r.Context(), ws, f); err == nil {
			page, next = cut(rows, p, func(w didrouter.Worker) string { return w.SID })
		}
	default:
		page, next, err = scanPage(p, func(after string, n int) ([]didrouter.Worker, error) {
			f.Page = didrouter.Page{Size: n, After: after}
			return h.store.ListWorkers(r.Context(), ws, f)
		}, func(w didrouter.Worker) bool { return workerMatches(w, exprs) }, func(w didrouter.Worker) string { return w.SID })
	}
	if err != nil {
		return err
	}
	out := make([]workerJSON, 0, len(page))
	for _, wk := range page {
		out = append(out, h.workerJSON(r, wk))
	}
	writeJSON(w, http.StatusOK, map[string]any{"workers": out, "meta": h.listMeta(r, "workers", p, next)})
	return nil
}

// workerExprs compiles the expression filters of a worker list. none is
// true when a named queue does not exist: nothing can match.
func (h *Handler) workerExprs(r *http.Request, ws string) (exprs []*routing.Expr, none bool, err error) {
	q := r.URL.Query()
	if src := q.Get("TargetWorkersExpression"); src != "" {
		e, err := compileFilter("TargetWorkersExpression", src, routing.ScopeWorker)
		if err != nil {
			return nil, false, err
		}
		exprs = append(exprs, e)
	}
	var queues []didrouter.TaskQueue
	if sid := q.Get("TaskQueueSid"); sid != "" {
		tq, err := h.store.GetTaskQueue(r.Context(), ws, sid)
		if didrouter.ErrorCode(err) == didrouter.ENOTFOUND {
			return nil, true, nil
		}
		if err != nil {
			return nil, false, err
		}
		queues = append(queues, tq)
	}
	if name := q.Get("TaskQueueName"); name != "" {
		named, err := h.queuesNamed(r.Context(), ws, name)
		if err != nil {
			return nil, false, err
		}
		if len(named) == 0 {
			return nil, true, nil
		}
		queues = append(queues, named[0])
	}
	for _, tq := range queues {
		e, err := compileFilter("target_workers of "+tq.SID, tq.TargetWorkers, routing.ScopeWorker)
		if err != nil {
			return nil, false, err
		}
		exprs = append(exprs, e)
	}
	return exprs, false, nil
}

// createWorker takes FriendlyName, Attributes and ActivitySid. A DID is the
// "phone_number" attribute: the engine stores it in E.164 and refuses a
// number another worker owns (409).
func (h *Handler) createWorker(w http.ResponseWriter, r *http.Request) error {
	f, err := parseForm(r)
	if err != nil {
		return err
	}
	wk, err := h.eng.CreateWorker(r.Context(), workspaceOf(r).SID, engine.WorkerInsert{
		FriendlyName: f.get("FriendlyName"),
		Attributes:   f.get("Attributes"),
		ActivitySID:  f.get("ActivitySid"),
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, h.workerJSON(r, wk))
	return nil
}

// updateWorker changes the parameters that were sent and leaves the others.
func (h *Handler) updateWorker(w http.ResponseWriter, r *http.Request) error {
	f, err := parseForm(r)
	if err == nil {
		// The engine always gives up a worker's pending reservations when
		// it moves to an unavailable activity.
		err = f.onlyValues("RejectPendingReservations", "true", "True")
	}
	if err != nil {
		return err
	}
	wk, err := h.eng.UpdateWorker(r.Context(), workspaceOf(r).SID, chi.URLParam(r, "sid"), engine.WorkerUpdate{
		FriendlyName: f.ptr("FriendlyName"),
		Attributes:   f.ptr("Attributes"),
		ActivitySID:  f.ptr("ActivitySid"),
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h.workerJSON(r, wk))
	return nil
}

func (h *Handler) deleteWorker(w http.ResponseWriter, r *http.Request) error {
	if err := h.eng.DeleteWorker(r.Context(), workspaceOf(r).SID, chi.URLParam(r, "sid")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
