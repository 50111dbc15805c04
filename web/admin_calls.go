package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/routing"
	"github.com/didrouter/didrouter/stats"
)

// Calls: the workspace's tasks, newest first, each with its events and
// the routing explanation of `didrouter explain`.
const (
	callsPerPage   = 25
	timelineEvents = 500
)

// callRow is one call of the list.
type callRow struct {
	SID        string
	When       string // RFC 3339
	WhenText   string
	Outbound   bool
	From, To   string // display format
	ToOwner    string // the name of the dialed number's owner, when known
	Status     string // the task's assignment status
	Outcome    string // in words
	AnsweredBy string
	WorkerSID  string // who answered (or is ringing)
	Reason     string
}

type callsData struct {
	Rows []callRow
	Next string
}

// timelineRow is one event of a call.
type timelineRow struct {
	When, Offset, Type, Description, Worker string
}

type callData struct {
	Call        callRow
	Wait        string // until answered or abandoned
	Timeline    []timelineRow
	MoreEvents  bool
	Explanation *routing.Explanation
	ExplainText string
	ExplainErr  string
	Attributes  string
}

// callNames remembers names during one page.
type callNames struct {
	h       *Handler
	r       *http.Request
	ws      string
	workers map[string]string
	queues  map[string]string
	owners  map[string]string
}

func (h *Handler) newCallNames(r *http.Request) *callNames {
	return &callNames{h: h, r: r, ws: adminFrom(r.Context()).Workspace.SID,
		workers: map[string]string{}, queues: map[string]string{}, owners: map[string]string{}}
}

func (n *callNames) worker(sid string) (string, error) {
	if sid == "" {
		return "", nil
	}
	return remember(n.workers, sid, sid+" (deleted)", func() (string, error) {
		w, err := n.h.store.GetWorker(n.r.Context(), n.ws, sid)
		if err != nil {
			return "", fmt.Errorf("read worker %s: %w", sid, err)
		}
		return w.FriendlyName, nil
	})
}

func (n *callNames) queue(sid string) (string, error) {
	if sid == "" {
		return "the queue", nil
	}
	return remember(n.queues, sid, "the queue", func() (string, error) {
		q, err := n.h.store.GetTaskQueue(n.r.Context(), n.ws, sid)
		if err != nil {
			return "", fmt.Errorf("read task queue %s: %w", sid, err)
		}
		return q.FriendlyName, nil
	})
}

// owner is the name of a number's owner ("" for none).
func (n *callNames) owner(e164 string) (string, error) {
	if e164 == "" {
		return "", nil
	}
	return remember(n.owners, e164, "", func() (string, error) {
		w, err := n.h.store.WorkerByPhoneNumber(n.r.Context(), n.ws, e164)
		if err != nil {
			return "", fmt.Errorf("find the owner of %s: %w", e164, err)
		}
		return w.FriendlyName, nil
	})
}

// remember returns the name of key in names, reading it with read the
// first time. A row that is gone is named missing.
func remember(names map[string]string, key, missing string, read func() (string, error)) (string, error) {
	if name, ok := names[key]; ok {
		return name, nil
	}
	name, err := read()
	switch {
	case didrouter.ErrorCode(err) == didrouter.ENOTFOUND:
		name = missing
	case err != nil:
		return "", err
	}
	names[key] = name
	return name, nil
}

// callRow describes task t: who called whom, and what became of it.
func (n *callNames) callRow(t didrouter.Task) (callRow, error) {
	ctx := n.r.Context()
	norm := n.h.eng.Normalizer()
	var attrs map[string]any
	_ = json.Unmarshal([]byte(orEmpty(t.Attributes)), &attrs) // stored attributes are a JSON object
	str := func(k string) string { v, _ := attrs[k].(string); return v }
	c := callRow{SID: t.SID, When: t.DateCreated.UTC().Format(time.RFC3339),
		WhenText: t.DateCreated.In(n.h.admin.loc).Format("Jan 2 15:04:05"), Status: t.AssignmentStatus, Reason: t.Reason}
	c.Outbound = str("direction") == "outbound" || str("type") == "outbound"
	from, to := str("name"), str("phone_number")
	if from == "" {
		from = str("from")
	}
	if c.Outbound {
		from, to = "", str("to")
	}
	c.From, c.To = display(norm, from), display(norm, to)
	if !c.Outbound {
		var err error
		if c.ToOwner, err = n.owner(to); err != nil {
			return c, err
		}
	}
	list, err := n.h.store.ListReservations(ctx, n.ws, didrouter.ReservationFilter{TaskSID: t.SID, Page: didrouter.Page{Size: 100}})
	if err != nil {
		return c, fmt.Errorf("list reservations of %s: %w", t.SID, err)
	}
	var answered, ringing *didrouter.Reservation
	for i, r := range list {
		switch r.Status {
		case didrouter.ReservationAccepted, didrouter.ReservationWrapping, didrouter.ReservationCompleted:
			answered = &list[i]
		case didrouter.ReservationPending:
			ringing = &list[i]
		}
	}
	switch {
	case answered != nil:
		c.WorkerSID = answered.WorkerSID
		if c.AnsweredBy, err = n.worker(answered.WorkerSID); err != nil {
			return c, err
		}
		switch {
		case c.Outbound:
			c.Outcome = "placed by " + c.AnsweredBy
		case didrouter.FirstTarget(t.FilterIndex, t.TargetIndex):
			c.Outcome = "answered by " + c.AnsweredBy + " (the number's owner)"
		default:
			q, err := n.queue(t.TaskQueueSID)
			if err != nil {
				return c, err
			}
			c.Outcome = "answered by " + c.AnsweredBy + " through " + q
		}
		if t.AssignmentStatus == didrouter.TaskAssigned {
			c.Outcome += ", on the call now"
		}
	case ringing != nil:
		c.WorkerSID = ringing.WorkerSID
		name, err := n.worker(ringing.WorkerSID)
		if err != nil {
			return c, err
		}
		c.Outcome = "ringing " + name
	case t.AssignmentStatus == didrouter.TaskCanceled:
		c.Outcome = "abandoned: the caller hung up before anyone answered"
	case t.AssignmentStatus == didrouter.TaskPending:
		c.Outcome = "waiting for an agent"
	case c.Outbound:
		c.Outcome = "placed"
	default:
		c.Outcome = t.AssignmentStatus
	}
	return c, nil
}

// adminCalls lists the recent calls, newest first.
func (h *Handler) adminCalls(w http.ResponseWriter, r *http.Request) {
	ws := adminFrom(r.Context()).Workspace.SID
	f := didrouter.TaskFilter{Newest: true, Page: didrouter.Page{Size: callsPerPage, After: r.URL.Query().Get("after")}}
	list, err := h.store.ListTasks(r.Context(), ws, f)
	if didrouter.ErrorCode(err) == didrouter.EINVALID {
		f.Page.After = "" // a stale cursor: from the top
		list, err = h.store.ListTasks(r.Context(), ws, f)
	}
	if err != nil {
		h.failed(w, r, AdminAssets, "list the calls", err)
		return
	}
	names := h.newCallNames(r)
	d := &callsData{Rows: make([]callRow, 0, len(list))}
	for _, t := range list {
		c, err := names.callRow(t)
		if err != nil {
			h.failed(w, r, AdminAssets, "read the calls", err)
			return
		}
		d.Rows = append(d.Rows, c)
	}
	if len(list) == callsPerPage {
		d.Next = list[len(list)-1].SID
	}
	h.renderAdmin(w, r, http.StatusOK, "admin_calls", "Calls", "calls", view{}, d)
}

// adminCall is one call: its timeline and why it went where it went.
func (h *Handler) adminCall(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ws := adminFrom(ctx).Workspace.SID
	t, err := h.store.GetTask(ctx, ws, chi.URLParam(r, "sid"))
	switch {
	case didrouter.ErrorCode(err) == didrouter.ENOTFOUND:
		h.message(w, r, http.StatusNotFound, AdminAssets, "No such call", "This call does not exist (any more). Go back to the calls' list.")
		return
	case err != nil:
		h.failed(w, r, AdminAssets, "read the call", err)
		return
	}
	names := h.newCallNames(r)
	c, err := names.callRow(t)
	if err != nil {
		h.failed(w, r, AdminAssets, "read the call", err)
		return
	}
	d := &callData{Call: c, Attributes: t.Attributes}
	evs, err := h.store.ListEvents(ctx, ws, didrouter.EventFilter{TaskSID: t.SID, Page: didrouter.Page{Size: timelineEvents}})
	if err != nil {
		h.failed(w, r, AdminAssets, "read the call's events", err)
		return
	}
	d.MoreEvents = len(evs) == timelineEvents
	for _, e := range evs {
		who, err := names.worker(e.WorkerSID)
		if err != nil {
			h.failed(w, r, AdminAssets, "read the call's events", err)
			return
		}
		d.Timeline = append(d.Timeline, timelineRow{When: e.Date.UTC().Format(time.RFC3339),
			Offset: "+" + waitText(stats.Age(t.DateCreated, e.Date)), Type: e.EventType, Description: e.Description, Worker: who})
		if d.Wait == "" && slices.Contains([]string{didrouter.EventReservationAccepted, didrouter.EventTaskCanceled}, e.EventType) && !c.Outbound {
			d.Wait = waitText(stats.Age(t.DateCreated, e.Date))
		}
	}
	if !c.Outbound {
		x, err := h.adminEngine().Explain(ctx, t, c.WorkerSID)
		switch {
		case err == nil:
			d.Explanation, d.ExplainText = x, x.Text()
		case didrouter.ErrorCode(err) != "":
			d.ExplainErr = didrouter.ErrorMessage(err) // a workflow that no longer parses, a deleted one
		default:
			h.failed(w, r, AdminAssets, "explain the call", err)
			return
		}
	}
	h.renderAdmin(w, r, http.StatusOK, "admin_call", "Call "+c.WhenText, "calls", view{}, d)
}
