package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/agenttoken"
	"github.com/didrouter/didrouter/api"
	"github.com/didrouter/didrouter/engine"
)

// maxForm bounds a page's form body.
const maxForm = 64 << 10

// Agent is the signed-in agent of a request (AgentOnly).
type Agent struct {
	Session didrouter.WebSession
	Worker  didrouter.Worker
}

type agentKey struct{}

// AgentFrom returns the agent AgentOnly put in ctx.
func AgentFrom(ctx context.Context) (Agent, bool) {
	a, ok := ctx.Value(agentKey{}).(Agent)
	return a, ok
}

// agentSession finds the request's agent session and its worker. ok is
// false when there is none or it expired or was revoked. It is also false
// when its worker is gone, and the stored session is then deleted too.
func (h *Handler) agentSession(r *http.Request) (Agent, bool, error) {
	sess, ok, err := h.sessions.find(r, didrouter.WebSessionAgent)
	if err != nil || !ok {
		return Agent{}, false, err
	}
	ctx := r.Context()
	w, err := h.store.GetWorker(ctx, sess.WorkspaceSID, sess.WorkerSID)
	if didrouter.ErrorCode(err) == didrouter.ENOTFOUND {
		_ = h.web.DeleteWebSession(ctx, sess.ID) // the worker was deleted: so is its sign-in
		return Agent{}, false, nil
	}
	if err != nil {
		return Agent{}, false, fmt.Errorf("read worker %s: %w", sess.WorkerSID, err)
	}
	if err := agenttoken.Current(ctx, h.web, sess.WorkspaceSID, sess.WorkerSID, sess.Created); err != nil {
		if errors.Is(err, agenttoken.ErrRevoked) {
			_ = h.web.DeleteWebSession(ctx, sess.ID)
			return Agent{}, false, nil
		}
		return Agent{}, false, err
	}
	return Agent{Session: sess, Worker: w}, true, nil
}

// AgentOnly lets through only requests of a signed-in agent, whose Agent
// it puts in the context (AgentFrom); a state-changing request must also
// come from the pages' own origin and carry the session's CSRF token. Every
// handler behind it reads and changes that agent's worker only. The
// browser phone's endpoints mount behind it too.
func (h *Handler) AgentOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok, err := h.agentSession(r)
		switch {
		case err != nil:
			h.logError(r, "read agent session", err)
			http.Error(w, "didrouter cannot read your session right now; try again in a moment", http.StatusInternalServerError)
			return
		case !ok:
			http.Error(w, "You are not signed in: open your sign-in link again.", http.StatusUnauthorized)
			return
		}
		if !safeMethod(r.Method) {
			if !parseForm(w, r) {
				return
			}
			if err := h.origins.Check(r); err != nil {
				http.Error(w, "This request came from another site and was refused.", http.StatusForbidden)
				return
			}
			if !csrfOK(r, a.Session) {
				http.Error(w, "This form is out of date (its security token does not match): reload the page and try again.", http.StatusForbidden)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), agentKey{}, a)))
	})
}

// parseForm reads a bounded form body; false when it answered a bad one.
func parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "The form is too large.", http.StatusRequestEntityTooLarge)
		} else {
			http.Error(w, "The form could not be read.", http.StatusBadRequest)
		}
		return false
	}
	// The API's rule: text a store cannot hold is refused on both alike.
	if err := api.CheckRequestText(r); err != nil {
		http.Error(w, "The form could not be read: "+err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// agentPage is the desktop, or without a session a page that says how to
// sign in (and shows no agent data).
func (h *Handler) agentPage(w http.ResponseWriter, r *http.Request) {
	a, ok, err := h.agentSession(r)
	if err != nil {
		h.failed(w, r, AgentAssets, "read your session", err)
		return
	}
	if !ok {
		h.render(w, r, http.StatusOK, "agent_welcome", view{Title: "Sign in", Assets: AgentAssets})
		return
	}
	st, err := h.newStateReader().read(r.Context(), a.Worker)
	if err != nil {
		h.failed(w, r, AgentAssets, "read your calls", err)
		return
	}
	v := view{Title: a.Worker.FriendlyName, Assets: AgentAssets,
		CSRF: a.Session.CSRF, SignOut: AgentSignOut, Agent: &st, Scripts: h.phone}
	switch missing := h.phoneMissing(); {
	case len(h.phone) == 0:
		v.PhoneOff = "The browser phone is not part of this build of didrouter."
	case len(missing) > 0:
		v.Scripts, v.PhoneOff = nil, phoneNotSetUp(missing)
	}
	h.render(w, r, http.StatusOK, "agent", v)
}

// setPresence sets the signed-in agent's activity, through the engine and
// with the API's rules (moving to an unavailable activity gives up a call
// that is ringing). The worker is the session's: the form names only the
// activity. A script asking for JSON gets the new state; a plain form post
// is sent back to the desktop.
func (h *Handler) setPresence(w http.ResponseWriter, r *http.Request) {
	a, _ := AgentFrom(r.Context())
	activity := strings.TrimSpace(r.PostFormValue("activity"))
	wantsJSON := strings.Contains(r.Header.Get("Accept"), "application/json")
	if !didrouter.IsSID(activity, didrouter.PrefixActivity) {
		http.Error(w, "Choose one of the status buttons.", http.StatusBadRequest)
		return
	}
	wk, err := h.eng.UpdateWorker(r.Context(), a.Worker.WorkspaceSID, a.Worker.SID, engine.WorkerUpdate{ActivitySID: &activity})
	switch didrouter.ErrorCode(err) {
	case "":
	case didrouter.EINVALID, didrouter.ENOTFOUND, didrouter.ECONFLICT:
		http.Error(w, didrouter.ErrorMessage(err), http.StatusBadRequest)
		return
	default:
		// The activity may be set although serving waiting calls after it
		// failed: the engine reports both; the page re-reads the worker.
		if wk.SID == "" {
			h.logError(r, "set presence", err)
			http.Error(w, "didrouter could not change your status right now; try again in a moment", http.StatusInternalServerError)
			return
		}
		h.logError(r, "set presence (after the change)", err)
	}
	if !wantsJSON {
		http.Redirect(w, r, AgentPath, http.StatusSeeOther)
		return
	}
	st, err := h.newStateReader().read(r.Context(), wk)
	if err != nil {
		h.logError(r, "read state after a presence change", err)
		http.Error(w, "your status changed, but didrouter could not read it back; reload the page", http.StatusInternalServerError)
		return
	}
	writeJSON(w, st)
}
