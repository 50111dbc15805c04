package web

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter"
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
	AcceptReservation(ctx context.Context, workspaceSID, reservationSID string) (didrouter.Reservation, error)
	CompleteTask(ctx context.Context, workspaceSID, taskSID, reason string) (didrouter.Task, error)
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
		if !didrouter.IsSID(sid, didrouter.PrefixTask) {
			notFound()
			return
		}
		ws := a.Worker.WorkspaceSID
		t, err := h.store.GetTask(ctx, ws, sid)
		if didrouter.ErrorCode(err) == didrouter.ENOTFOUND {
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
		rs, err := h.store.ListReservations(ctx, ws, didrouter.ReservationFilter{Page: didrouter.Page{Size: 100}, TaskSID: sid, WorkerSID: a.Worker.SID})
		if err != nil {
			h.logError(r, "read a message's reservations", err)
			http.Error(w, "didrouter cannot read the message right now; try again in a moment", http.StatusInternalServerError)
			return
		}
		var live *didrouter.Reservation
		for i := range rs {
			switch rs[i].Status {
			case didrouter.ReservationPending, didrouter.ReservationAccepted, didrouter.ReservationWrapping:
				live = &rs[i]
			}
		}
		if live == nil {
			notFound()
			return
		}
		if live.Status == didrouter.ReservationPending {
			if _, err := me.AcceptReservation(ctx, ws, live.SID); err != nil && didrouter.ErrorCode(err) != didrouter.EUNAVAILABLE {
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
func isMessage(t didrouter.Task) bool {
	k := didrouter.TaskType(t)
	return k == didrouter.TaskTypeVoicemail || k == didrouter.TaskTypeCallback
}

// answerEngineError answers an engine refusal with its message, anything
// else as a failure (logged, no details).
func (h *Handler) answerEngineError(w http.ResponseWriter, r *http.Request, what string, err error) {
	switch didrouter.ErrorCode(err) {
	case didrouter.EINVALID, didrouter.ENOTFOUND, didrouter.ECONFLICT, didrouter.EUNAVAILABLE:
		http.Error(w, didrouter.ErrorMessage(err), http.StatusConflict)
	default:
		h.logError(r, what, err)
		http.Error(w, "didrouter could not do that right now; try again in a moment", http.StatusInternalServerError)
	}
}
