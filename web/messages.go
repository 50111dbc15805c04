package web

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter/engine"
)

// The desktop's actions on a message, which is a voicemail or a call-back
// request offered to the agent. Take accepts its reservation, as a call
// back does before dialing. Done accepts it if need be and completes the
// task, so that it leaves the agent's list and frees the agent for calls.
const (
	AgentMessages = "/agent/messages"
)

// MessageEngine is what the message actions need from the engine
// (*engine.Engine); Config.Engine is checked for it when they are used.
type MessageEngine interface {
	AcceptReservation(ctx context.Context, workspaceSID, reservationSID string) (engine.Reservation, error)
	CompleteTask(ctx context.Context, workspaceSID, taskSID, reason string) (engine.Task, error)
}

func (h *Handler) mountMessages(r chi.Router) {
	r.With(h.AgentOnly).Post(AgentMessages+"/{task}/take", h.messageAction(false))
	r.With(h.AgentOnly).Post(AgentMessages+"/{task}/done", h.messageAction(true))
}

// messageAction takes (and with done, completes) one of the agent's
// messages. Only a message whose live reservation is the agent's is theirs
// to act on: another agent's, or a call, is 404.
func (h *Handler) messageAction(done bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, _ := AgentFrom(r.Context())
		ctx := r.Context()
		me, ok := h.eng.(MessageEngine)
		if !ok {
			http.Error(w, "Messages cannot be handled on this server.", http.StatusServiceUnavailable)
			return
		}
		sid := chi.URLParam(r, "task")
		notFound := func() { http.Error(w, "No such message of yours.", http.StatusNotFound) }
		if !engine.IsSID(sid, engine.PrefixTask) {
			notFound()
			return
		}
		ws := a.Worker.WorkspaceSID
		t, err := h.store.GetTask(ctx, ws, sid)
		if engine.ErrorCode(err) == engine.ENOTFOUND {
			notFound()
			return
		}
		if err != nil {
			h.logError(r, "read a message", err)
			http.Error(w, "didrouter cannot read the message right now; try again in a moment", http.StatusInternalServerError)
			return
		}
		if !isMessage(t) {
			notFound()
			return
		}
		rs, err := h.store.ListReservations(ctx, ws, engine.ReservationFilter{Page: engine.Page{Size: 100}, TaskSID: sid, WorkerSID: a.Worker.SID})
		if err != nil {
			h.logError(r, "read a message's reservations", err)
			http.Error(w, "didrouter cannot read the message right now; try again in a moment", http.StatusInternalServerError)
			return
		}
		var live *engine.Reservation
		for i := range rs {
			switch rs[i].Status {
			case engine.ReservationPending, engine.ReservationAccepted, engine.ReservationWrapping:
				live = &rs[i]
			}
		}
		if live == nil {
			notFound()
			return
		}
		if live.Status == engine.ReservationPending {
			if _, err := me.AcceptReservation(ctx, ws, live.SID); err != nil && engine.ErrorCode(err) != engine.EUNAVAILABLE {
				h.answerEngineError(w, r, "take a message", err)
				return
			}
		}
		if done {
			if _, err := me.CompleteTask(ctx, ws, sid, "handled by the agent"); err != nil {
				h.answerEngineError(w, r, "complete a message", err)
				return
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// isMessage reports whether t is a voicemail or a call-back request.
func isMessage(t engine.Task) bool {
	k := engine.TaskType(t)
	return k == engine.TaskTypeVoicemail || k == engine.TaskTypeCallback
}

// answerEngineError answers an engine refusal with its message, anything
// else as a failure (logged, no details).
func (h *Handler) answerEngineError(w http.ResponseWriter, r *http.Request, what string, err error) {
	switch engine.ErrorCode(err) {
	case engine.EINVALID, engine.ENOTFOUND, engine.ECONFLICT, engine.EUNAVAILABLE:
		http.Error(w, engine.ErrorMessage(err), http.StatusConflict)
	default:
		h.logError(r, what, err)
		http.Error(w, "didrouter could not do that right now; try again in a moment", http.StatusInternalServerError)
	}
}
