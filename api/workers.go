package api

import (
	"context"
	"net/http"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/routing"
)

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
func (h *Handler) listWorkers(w http.ResponseWriter, r *http.Request, p pageRequest) error {
	q := r.URL.Query()
	if err := oldestFirst(q); err != nil {
		return err
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
	var match func(didrouter.Worker) bool
	if len(exprs) > 0 {
		match = func(w didrouter.Worker) bool { return workerMatches(w, exprs) }
	}
	page, next, err := listPage(p, none, func(page didrouter.Page) ([]didrouter.Worker, error) {
		f.Page = page
		return h.store.ListWorkers(r.Context(), ws, f)
	}, match, func(w didrouter.Worker) string { return w.SID })
	if err != nil {
		return err
	}
	return h.writePage(w, r, "workers", p, next, render(r, page, h.workerJSON))
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
func (h *Handler) createWorker(ctx context.Context, ws string, f form) (didrouter.Worker, error) {
	return h.eng.CreateWorker(ctx, ws, engine.WorkerInsert{
		FriendlyName: f.get("FriendlyName"),
		Attributes:   f.get("Attributes"),
		ActivitySID:  f.get("ActivitySid"),
	})
}

// updateWorker changes the parameters that were sent and leaves the others.
func (h *Handler) updateWorker(ctx context.Context, ws, sid string, f form) (didrouter.Worker, error) {
	// The engine always gives up a worker's pending reservations when it
	// moves to an unavailable activity.
	if err := f.onlyValues("RejectPendingReservations", "true", "True"); err != nil {
		return didrouter.Worker{}, err
	}
	return h.eng.UpdateWorker(ctx, ws, sid, engine.WorkerUpdate{
		FriendlyName: f.ptr("FriendlyName"),
		Attributes:   f.ptr("Attributes"),
		ActivitySID:  f.ptr("ActivitySid"),
	})
}
