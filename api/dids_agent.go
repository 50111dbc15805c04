package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/agenttoken"
)

// AgentNumberPath answers an agent's own number, for their softphone to show
// ("call me back at (512) 764-0580"):
//
//	GET /agent/number?identity=alice[&workspace=WS…]
//	→ {"worker_sid","friendly_name","identity","workspace_sid","phone_number","display"}
//
// Two credentials are accepted:
//   - the admin API's Basic credentials, for any identity (a back end, or
//     the server that issues the softphones' Twilio access tokens);
//   - an agent token (Authorization: Bearer dra2.…, package agenttoken)
//     issued for one identity, for the agent's browser, which must never
//     hold the admin credentials. It answers for that identity only, and
//     only while the token is within its lifetime and not revoked.
//
// It is served with CORS headers (any origin, no cookies) so that a
// softphone page on another origin can call it with a bearer token.
const AgentNumberPath = "/agent/number"

// identityFinder finds the worker of a softphone identity (*engine.Engine).
type identityFinder interface {
	WorkerByIdentity(ctx context.Context, identity, workspaceSID string) (didrouter.Worker, error)
}

func (h *Handler) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Allow-Methods", "GET, OPTIONS")
		w.Header().Set("Access-Control-Allow-Headers", "Authorization")
		w.Header().Set("Access-Control-Max-Age", "600")
		next.ServeHTTP(w, r)
	})
}

type agentNumberJSON struct {
	WorkerSID    string  `json:"worker_sid"`
	FriendlyName string  `json:"friendly_name"`
	Identity     string  `json:"identity"`
	WorkspaceSID string  `json:"workspace_sid"`
	PhoneNumber  *string `json:"phone_number"` // E.164; null without a DID
	Display      *string `json:"display"`      // as people write it; null without a DID
}

func (h *Handler) agentNumber(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	identity := strings.TrimPrefix(strings.TrimSpace(q.Get("identity")), "client:")
	var wk didrouter.Worker
	if key, secret, basic := r.BasicAuth(); basic {
		if !h.auth.match(key, secret) {
			return unauthorized("")
		}
		finder, ok := h.eng.(identityFinder)
		if !ok {
			return didrouter.Errorf(didrouter.EINVALID, "agent lookup is not supported by this engine")
		}
		var err error
		if wk, err = finder.WorkerByIdentity(r.Context(), identity, q.Get("workspace")); err != nil {
			return err
		}
	} else {
		bearer, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !found {
			return unauthorized("")
		}
		if h.agents == nil {
			return unauthorized(agenttoken.ErrOff.Error())
		}
		var (
			claims agenttoken.Claims
			err    error
		)
		wk, claims, err = h.agents.Token(r.Context(), strings.TrimSpace(bearer), q.Get("workspace"))
		switch {
		case agenttoken.Refused(err):
			return unauthorized("the agent token is refused: " + err.Error())
		case err != nil:
			return err
		case identity != "" && identity != claims.Identity:
			return &statusError{status: http.StatusForbidden, code: 20403, msg: "the token is for another identity"}
		}
		identity = claims.Identity
	}
	writeJSON(w, http.StatusOK, agentNumberJSON{
		WorkerSID: wk.SID, FriendlyName: wk.FriendlyName, Identity: identity, WorkspaceSID: wk.WorkspaceSID,
		PhoneNumber: nullable(wk.PhoneNumber), Display: h.numberDisplay(wk.PhoneNumber),
	})
	return nil
}

// revokeAgentTokens refuses from now on every agent token and sign-in link
// of the worker issued until now, and ends the worker's agent desktop
// sessions:
//
//	POST /v1/Workspaces/{WS}/Workers/{WK}/RevokeAgentTokens
//	→ {"worker_sid","workspace_sid","tokens_valid_after","sessions_ended"}
func (h *Handler) revokeAgentTokens(w http.ResponseWriter, r *http.Request) error {
	if h.agents == nil {
		return didrouter.Errorf(didrouter.EINVALID, "agent token revocation needs a store that keeps web sessions")
	}
	ws, sid := pathSID(r)
	wk, err := h.store.GetWorker(r.Context(), ws, sid)
	if err != nil {
		return err
	}
	after, ended, err := h.agents.Revoke(r.Context(), ws, wk.SID)
	if err != nil {
		return err
	}
	h.log.InfoContext(r.Context(), "agent tokens revoked", "worker", wk.SID, "sessions_ended", ended)
	writeJSON(w, http.StatusOK, map[string]any{
		"worker_sid": wk.SID, "workspace_sid": ws, "tokens_valid_after": isoTime(after), "sessions_ended": ended,
	})
	return nil
}

// numberDisplay is a DID as people write it (national format at home,
// international otherwise); nil without a DID.
func (h *Handler) numberDisplay(e164 string) *string {
	if e164 == "" {
		return nil
	}
	s := h.normalizer().Display(e164)
	return &s
}
