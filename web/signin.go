package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/agenttoken"
)

// agentSignInPage shows who a sign-in link is for, with a button that
// POSTs it: link previews and mail scanners that GET the link do not use it
// up or start a session.
func (h *Handler) agentSignInPage(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("t")
	if tok == "" {
		http.Redirect(w, r, AgentPath, http.StatusSeeOther)
		return
	}
	if h.agents == nil || !h.agents.On() {
		h.linksOff(w, r)
		return
	}
	wk, _, err := h.agents.Link(r.Context(), tok)
	if err != nil {
		h.badLink(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "agent_signin", view{Title: "Sign in", Assets: AgentAssets, Link: tok, Name: wk.FriendlyName})
}

// agentSignIn uses a sign-in link (once) and starts the agent's session.
func (h *Handler) agentSignIn(w http.ResponseWriter, r *http.Request) {
	if !h.signInAllowed(w, r, AgentAssets) {
		return
	}
	if h.agents == nil || !h.agents.On() {
		h.linksOff(w, r)
		return
	}
	wk, claims, err := h.agents.Link(r.Context(), r.PostFormValue("t"))
	if err != nil {
		h.badLink(w, r, err)
		return
	}
	first, err := h.web.UseSignInLink(r.Context(), claims.ID, claims.Expires)
	if err != nil {
		h.failed(w, r, AgentAssets, "sign you in", err)
		return
	}
	if !first {
		h.message(w, r, http.StatusForbidden, AgentAssets, "This sign-in link was used already",
			"Each sign-in link works once. Ask your administrator for a new one.")
		return
	}
	if !h.startSession(w, r, didrouter.WebSessionAgent, wk.WorkspaceSID, wk.SID) {
		return
	}
	h.log.InfoContext(r.Context(), "agent signed in", "worker", wk.SID, "identity", claims.Identity, "client", clientIP(r))
	http.Redirect(w, r, AgentPath, http.StatusSeeOther)
}

func (h *Handler) linksOff(w http.ResponseWriter, r *http.Request) {
	h.message(w, r, http.StatusServiceUnavailable, AgentAssets, "Sign-in links are off",
		"This server does not accept sign-in links: its administrator has not set DIDROUTER_AGENT_TOKEN_SECRET.")
}

// badLink says what is wrong with a link, for the person holding it.
func (h *Handler) badLink(w http.ResponseWriter, r *http.Request, err error) {
	heading, msg, status := "This sign-in link does not work", "Ask your administrator for a new one.", http.StatusForbidden
	switch {
	case errors.Is(err, agenttoken.ErrExpired):
		heading = "This sign-in link has expired"
	case errors.Is(err, agenttoken.ErrRevoked):
		heading = "This sign-in link was revoked"
	case didrouter.ErrorCode(err) == didrouter.ENOTFOUND:
		heading, msg = "No agent uses this sign-in link", "Its identity is not linked to an agent (contact_uri client:…). "+msg
	case didrouter.ErrorCode(err) == didrouter.ECONFLICT:
		heading, msg = "This sign-in link matches more than one agent", didrouter.ErrorMessage(err)
	case !agenttoken.Refused(err):
		h.failed(w, r, AgentAssets, "check the sign-in link", err)
		return
	}
	h.render(w, r, status, "message", view{Title: heading, Assets: AgentAssets, Heading: heading, Message: msg})
}

// signInAllowed applies what every sign-in form needs. The body is bounded,
// the request must come from the pages' own origin so another site cannot
// sign a browser in, and the rate limit applies.
// It answers the request itself when it refuses.
func (h *Handler) signInAllowed(w http.ResponseWriter, r *http.Request, assetsPrefix string) bool {
	if !parseForm(w, r) {
		return false
	}
	if err := h.origins.Check(r); err != nil {
		h.message(w, r, http.StatusForbidden, assetsPrefix, "Refused", "This sign-in came from another site and was refused.")
		return false
	}
	if !h.limiter.allow(r) {
		w.Header().Set("Retry-After", "60")
		h.log.WarnContext(r.Context(), "sign-in rate limited", "client", clientIP(r), "path", r.URL.Path)
		h.message(w, r, http.StatusTooManyRequests, assetsPrefix, "Too many sign-in attempts",
			"Wait a minute, then try again.")
		return false
	}
	return true
}

// adminSignInPage is the admin console's sign-in form.
func (h *Handler) adminSignInPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "admin_signin", view{Title: "Admin sign-in", Assets: AdminAssets, Console: h.adminCheck != nil})
}

// adminSignIn checks the admin API's key and secret (in constant time: the
// API's own check) and starts an admin session. A wrong pair gets the form
// again with a message, and nothing else.
func (h *Handler) adminSignIn(w http.ResponseWriter, r *http.Request) {
	if !h.signInAllowed(w, r, AdminAssets) {
		return
	}
	if h.adminCheck == nil {
		h.render(w, r, http.StatusServiceUnavailable, "admin_signin", view{Title: "Admin sign-in", Assets: AdminAssets})
		return
	}
	key := strings.TrimSpace(r.PostFormValue("key"))
	if !h.adminCheck(key, r.PostFormValue("secret")) {
		h.log.WarnContext(r.Context(), "admin sign-in refused", "reason", "wrong key or secret", "client", clientIP(r))
		shown := key
		if len(shown) > 100 {
			shown = ""
		}
		h.render(w, r, http.StatusUnauthorized, "admin_signin", view{Title: "Admin sign-in", Assets: AdminAssets, Console: true,
			Key: shown, Error: "The key or the secret is wrong."})
		return
	}
	if !h.startSession(w, r, didrouter.WebSessionAdmin, "", "") {
		return
	}
	h.log.InfoContext(r.Context(), "admin signed in", "client", clientIP(r))
	http.Redirect(w, r, AdminPath, http.StatusSeeOther)
}

// signOut ends the session of kind (a POST with the session's CSRF token).
func (h *Handler) signOut(kind string) http.HandlerFunc {
	home, assetsPrefix := AgentPath, AgentAssets
	if kind == didrouter.WebSessionAdmin {
		home, assetsPrefix = AdminSignInPath, AdminAssets
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if !parseForm(w, r) {
			return
		}
		sess, ok, err := h.sessions.find(r, kind)
		if err != nil {
			h.failed(w, r, assetsPrefix, "sign you out", err)
			return
		}
		if !ok {
			h.sessions.clear(w, kind)
			http.Redirect(w, r, home, http.StatusSeeOther)
			return
		}
		if err := h.origins.Check(r); err != nil || !csrfOK(r, sess) {
			h.message(w, r, http.StatusForbidden, assetsPrefix, "Refused",
				"This sign-out did not come from your page (its security token does not match): reload the page and try again.")
			return
		}
		if err := h.sessions.end(r.Context(), w, sess); err != nil {
			h.failed(w, r, assetsPrefix, "sign you out", err)
			return
		}
		http.Redirect(w, r, home, http.StatusSeeOther)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "Internal server error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// startSession signs the browser in with a new session of kind. A browser
// signed in as someone else is signed out of that session first, so one
// browser never holds two people's sessions. It answers the failure page
// itself and then reports false.
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, kind, workspaceSID, workerSID string) bool {
	if old, ok, err := h.sessions.find(r, kind); err == nil && ok {
		_ = h.web.DeleteWebSession(r.Context(), old.ID)
	}
	if _, err := h.sessions.start(r.Context(), w, kind, workspaceSID, workerSID); err != nil {
		assets := AgentAssets
		if kind == didrouter.WebSessionAdmin {
			assets = AdminAssets
		}
		h.failed(w, r, assets, "sign you in", err)
		return false
	}
	return true
}
