package api

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

// parent says which path a reservation is reached through.
type parent int

const (
	byTask parent = iota
	byWorker
)

// path is the list of the reservations reached through via.
func (via parent) path() string {
	if via == byWorker {
		return "/Workers/{worker}/Reservations"
	}
	return "/Tasks/{task}/Reservations"
}

type reservationJSON struct {
	AccountSID        *string           `json:"account_sid"`
	DateCreated       *string           `json:"date_created"`
	DateUpdated       *string           `json:"date_updated"`
	ReservationStatus string            `json:"reservation_status"`
	SID               string            `json:"sid"`
	TaskSID           string            `json:"task_sid"`
	WorkerName        string            `json:"worker_name"`
	WorkerSID         string            `json:"worker_sid"`
	WorkspaceSID      string            `json:"workspace_sid"`
	URL               string            `json:"url"`
	Links             map[string]string `json:"links"`
}

// workerNames looks up the friendly names of workers, "" when gone, each
// at most once a request.
func (h *Handler) workerNames(ctx context.Context, ws string) *memo[string] {
	return newMemo(func(sid string) string {
		if w, err := h.store.GetWorker(ctx, ws, sid); err == nil {
			return w.FriendlyName
		}
		return ""
	})
}

func (h *Handler) reservationJSON(r *http.Request, res didrouter.Reservation, via parent, names *memo[string]) reservationJSON {
	ws := h.workspaceURL(r, res.WorkspaceSID)
	u := ws + "/Tasks/" + res.TaskSID + "/Reservations/" + res.SID
	if via == byWorker {
		u = ws + "/Workers/" + res.WorkerSID + "/Reservations/" + res.SID
	}
	return reservationJSON{
		AccountSID:        nullable(h.account),
		DateCreated:       isoTime(res.DateCreated),
		DateUpdated:       isoTime(res.DateUpdated),
		ReservationStatus: res.Status,
		SID:               res.SID,
		TaskSID:           res.TaskSID,
		WorkerName:        names.of(res.WorkerSID),
		WorkerSID:         res.WorkerSID,
		WorkspaceSID:      res.WorkspaceSID,
		URL:               u,
		Links: map[string]string{
			"task":      ws + "/Tasks/" + res.TaskSID,
			"worker":    ws + "/Workers/" + res.WorkerSID,
			"workspace": ws,
		},
	}
}

// parentFilter checks that the task or worker of the path exists and
// returns the filter of its reservations.
func (h *Handler) parentFilter(r *http.Request, via parent) (didrouter.ReservationFilter, error) {
	if via == byWorker {
		wk, err := h.pathWorker(r)
		return didrouter.ReservationFilter{WorkerSID: wk.SID}, err
	}
	t, err := h.store.GetTask(r.Context(), workspaceOf(r).SID, chi.URLParam(r, "task"))
	return didrouter.ReservationFilter{TaskSID: t.SID}, err
}

var reservationStatuses = map[string]bool{
	didrouter.ReservationPending: true, didrouter.ReservationAccepted: true, didrouter.ReservationRejected: true,
	didrouter.ReservationTimeout: true, didrouter.ReservationCanceled: true, didrouter.ReservationRescinded: true,
	didrouter.ReservationWrapping: true, didrouter.ReservationCompleted: true,
}

// listReservations filters by ReservationStatus (and WorkerSid under a task).
func (h *Handler) listReservations(via parent) func(http.ResponseWriter, *http.Request, pageRequest) error {
	return func(w http.ResponseWriter, r *http.Request, p pageRequest) error {
		q := r.URL.Query()
		f, err := h.parentFilter(r, via)
		if err != nil {
			return err
		}
		if s := q.Get("ReservationStatus"); s != "" {
			if !reservationStatuses[s] {
				return didrouter.Errorf(didrouter.EINVALID, "ReservationStatus %q is not a reservation status", s)
			}
			f.Status = s
		}
		if via == byTask {
			f.WorkerSID = q.Get("WorkerSid")
		}
		f.Page = p.storePage()
		ws := workspaceOf(r).SID
		rows, err := h.store.ListReservations(r.Context(), ws, f)
		if err != nil {
			return err
		}
		page, next := cut(rows, p, func(r didrouter.Reservation) string { return r.SID })
		names := h.workerNames(r.Context(), ws)
		return h.writePage(w, r, "reservations", p, next, render(r, page, func(r *http.Request, res didrouter.Reservation) reservationJSON {
			return h.reservationJSON(r, res, via, names)
		}))
	}
}

// pathReservation reads the reservation of the path; one of another task or
// worker is not found there.
func (h *Handler) pathReservation(r *http.Request, via parent) (didrouter.Reservation, error) {
	f, err := h.parentFilter(r, via)
	if err != nil {
		return didrouter.Reservation{}, err
	}
	ws, sid := pathSID(r)
	res, err := h.store.GetReservation(r.Context(), ws, sid)
	if err != nil {
		return didrouter.Reservation{}, err
	}
	if (f.TaskSID != "" && res.TaskSID != f.TaskSID) || (f.WorkerSID != "" && res.WorkerSID != f.WorkerSID) {
		return didrouter.Reservation{}, didrouter.Errorf(didrouter.ENOTFOUND, "reservation %s not found", sid)
	}
	return res, nil
}

func (h *Handler) getReservation(via parent) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		res, err := h.pathReservation(r, via)
		return h.writeReservation(w, r, via, res, err)
	}
}

// writeReservation answers one reservation, or err.
func (h *Handler) writeReservation(w http.ResponseWriter, r *http.Request, via parent, res didrouter.Reservation, err error) error {
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h.reservationJSON(r, res, via, h.workerNames(r.Context(), res.WorkspaceSID)))
	return nil
}

// updateReservation takes either ReservationStatus or Instruction, and
// WorkerActivitySid for the worker's activity afterwards. The statuses are
// accepted, rejected, wrapping and completed. The instructions are accept,
// reject, and dequeue for a call's task, which didrouter's voice flow does
// by itself. TaskRouter's other instructions drive Twilio's voice API,
// which didrouter does not use, so they and their parameters answer 400.
func (h *Handler) updateReservation(via parent) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		f, err := parseForm(r)
		if err == nil {
			err = f.only("ReservationStatus", "Instruction", "WorkerActivitySid")
		}
		if err == nil {
			_, err = reservationAction(f.get("ReservationStatus"), f.get("Instruction"))
		}
		if err != nil {
			return err
		}
		res, err := h.pathReservation(r, via)
		if err != nil {
			return err
		}
		res, err = h.applyReservationUpdate(r.Context(), res, f.get("ReservationStatus"), f.get("Instruction"), f.ptr("WorkerActivitySid"))
		return h.writeReservation(w, r, via, res, err)
	}
}

// reservationAction maps a ReservationStatus or an Instruction to what to do.
func reservationAction(status, instruction string) (string, error) {
	switch {
	case status != "" && instruction != "":
		return "", didrouter.Errorf(didrouter.EINVALID, "send ReservationStatus or Instruction, not both")
	case status == "" && instruction == "":
		return "", didrouter.Errorf(didrouter.EINVALID, "ReservationStatus or Instruction is required")
	}
	switch status {
	case "":
	case didrouter.ReservationAccepted, didrouter.ReservationRejected, didrouter.ReservationWrapping, didrouter.ReservationCompleted:
		return status, nil
	default:
		return "", didrouter.Errorf(didrouter.EINVALID, "ReservationStatus must be accepted, rejected, wrapping or completed, not %q", status)
	}
	switch instruction {
	case "accept":
		return didrouter.ReservationAccepted, nil
	case "reject":
		return didrouter.ReservationRejected, nil
	case "dequeue":
		return "dequeue", nil
	case "call", "redirect", "conference":
		return "", didrouter.Errorf(didrouter.EINVALID,
			"Instruction %s is not supported by didrouter: it needs Twilio's voice API, which didrouter does not call", instruction)
	default:
		return "", didrouter.Errorf(didrouter.EINVALID, "Instruction must be accept, reject or dequeue, not %q", instruction)
	}
}

// applyReservationUpdate performs a reservation status change through the
// engine and then moves the worker to activitySID when given.
func (h *Handler) applyReservationUpdate(ctx context.Context, res didrouter.Reservation, status, instruction string, activitySID *string) (didrouter.Reservation, error) {
	action, err := reservationAction(status, instruction)
	if err != nil {
		return res, err
	}
	ws := res.WorkspaceSID
	switch action {
	case didrouter.ReservationAccepted:
		_, err = h.eng.AcceptReservation(ctx, ws, res.SID)
	case didrouter.ReservationRejected:
		_, err = h.eng.RejectReservation(ctx, ws, res.SID, didrouter.ReservationRejected)
	case didrouter.ReservationWrapping:
		if err = liveAssignment(res); err == nil {
			_, err = h.eng.WrapUpTask(ctx, ws, res.TaskSID, "")
		}
	case didrouter.ReservationCompleted:
		if err = liveAssignment(res); err == nil {
			err = h.completeAll(ctx, ws, res.TaskSID, "")
		}
	case "dequeue":
		err = h.dequeue(ctx, res)
	}
	if err != nil {
		return res, err
	}
	if activitySID != nil && *activitySID != "" {
		if _, err := h.eng.UpdateWorker(ctx, ws, res.WorkerSID, engine.WorkerUpdate{ActivitySID: activitySID}); err != nil {
			return res, err
		}
	}
	return h.store.GetReservation(ctx, ws, res.SID)
}

// liveAssignment refuses to wrap up or complete through a reservation that
// was never accepted (or has ended).
func liveAssignment(res didrouter.Reservation) error {
	if res.Status != didrouter.ReservationAccepted && res.Status != didrouter.ReservationWrapping {
		return didrouter.Errorf(didrouter.EUNAVAILABLE, "reservation %s is %s; only an accepted reservation can be wrapped up or completed",
			res.SID, res.Status)
	}
	return nil
}

// completeAll completes a task, past wrapping when the engine's wrap-up
// time sends a completion there first: asking for completed means completed.
func (h *Handler) completeAll(ctx context.Context, ws, taskSID, reason string) error {
	for range 2 {
		t, err := h.eng.CompleteTask(ctx, ws, taskSID, reason)
		if err != nil || t.AssignmentStatus == didrouter.TaskCompleted {
			return err
		}
	}
	return nil
}

// dequeue is TaskRouter's "connect the waiting call to the worker". For the
// task of a call, didrouter's voice flow does exactly that once a worker is
// reserved (the caller leaves the queue and the worker's contact_uri is
// rung; answering accepts), so the instruction asks for nothing more. A task
// without a call has nothing to dequeue.
func (h *Handler) dequeue(ctx context.Context, res didrouter.Reservation) error {
	t, err := h.store.GetTask(ctx, res.WorkspaceSID, res.TaskSID)
	if err != nil {
		return err
	}
	if t.CallSID == "" {
		return didrouter.Errorf(didrouter.EINVALID, "task %s is not a call: there is nothing to dequeue", t.SID)
	}
	if res.Status != didrouter.ReservationPending {
		return didrouter.Errorf(didrouter.EUNAVAILABLE, "reservation %s is %s, no longer pending", res.SID, res.Status)
	}
	return nil
}
