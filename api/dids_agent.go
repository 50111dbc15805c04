package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter/engine"
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
//   - an agent token (Authorization: Bearer …, see AgentToken) issued for
//     one identity, for the agent's browser, which must never hold the
//     admin credentials. It answers for that identity only.
//
// It is served with CORS headers (any origin, no cookies) so that a
// softphone page on another origin can call it with a bearer token.
const AgentNumberPath = "/agent/number"

// agentTokenPrefix marks (and versions) agent tokens.
const agentTokenPrefix = "dra1"

// AgentToken returns a token that lets its bearer read the number of the
// agent whose softphone identity is identity (contact_uri client:<identity>)
// until expires. It is signed with the admin API secret:
//
//	dra1.<base64url(identity)>.<expiry, Unix seconds>.<base64url(HMAC-SHA256(key, msg))>
//	key = SHA-256(API secret), msg = "dra1\n" + identity + "\n" + expiry
//
// so any token server holding DIDROUTER_API_SECRET can mint one (and
// `didrouter dids token` does). base64url is without padding.
func AgentToken(apiSecret, identity string, expires time.Time) string {
	key := sha256.Sum256([]byte(apiSecret))
	return agentToken(key[:], identity, expires.Unix())
}

func agentToken(key []byte, identity string, expiry int64) string {
	exp := strconv.FormatInt(expiry, 10)
	return agentTokenPrefix + "." + base64.RawURLEncoding.EncodeToString([]byte(identity)) + "." + exp + "." +
		base64.RawURLEncoding.EncodeToString(agentMAC(key, identity, exp))
}

func agentMAC(key []byte, identity, exp string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(agentTokenPrefix + "\n" + identity + "\n" + exp))
	return m.Sum(nil)
}

// agentIdentity checks a bearer token and returns its identity; ok is false
// for a malformed, forged or expired token.
func (h *Handler) agentIdentity(token string) (identity string, ok bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 4 || parts[0] != agentTokenPrefix {
		return "", false
	}
	id, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || len(id) == 0 {
		return "", false
	}
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return "", false
	}
	mac, err := base64.RawURLEncoding.DecodeString(parts[3])
	if err != nil || !hmac.Equal(mac, agentMAC(h.auth.secret[:], string(id), parts[2])) {
		return "", false
	}
	if !h.clock.Now().Before(time.Unix(exp, 0)) {
		return "", false
	}
	return string(id), true
}

// contactFinder finds a worker by contact_uri (*engine.Engine).
type contactFinder interface {
	WorkerByContactURI(ctx context.Context, workspaceSID, uri string) (engine.Worker, error)
}

func (h *Handler) agentRoutes(r chi.Router) {
	r.With(h.recoverer, h.cors).Get(AgentNumberPath, h.agentNumber)
	r.With(h.cors).Options(AgentNumberPath, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
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

func (h *Handler) agentNumber(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	identity := strings.TrimSpace(q.Get("identity"))
	if key, secret, basic := r.BasicAuth(); basic {
		if !h.auth.match(key, secret) {
			h.unauthorized(w)
			return
		}
	} else {
		bearer, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		tokenID, ok := h.agentIdentity(strings.TrimSpace(bearer))
		if !found || !ok {
			h.unauthorized(w)
			return
		}
		if identity != "" && identity != tokenID {
			writeTwilioError(w, http.StatusForbidden, 20403, "the token is for another identity")
			return
		}
		identity = tokenID
	}
	identity = strings.TrimPrefix(identity, "client:")
	if identity == "" {
		h.writeError(w, r, engine.Errorf(engine.EINVALID, "identity is required (the softphone's client identity, e.g. alice)"))
		return
	}
	finder, ok := h.eng.(contactFinder)
	if !ok {
		h.writeError(w, r, engine.Errorf(engine.EINVALID, "agent lookup is not supported by this engine"))
		return
	}
	var spaces []string
	if ws := q.Get("workspace"); ws != "" {
		spaces = []string{ws}
	} else {
		all, err := h.store.ListWorkspaces(r.Context())
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		for _, ws := range all {
			spaces = append(spaces, ws.SID)
		}
	}
	var found []engine.Worker
	for _, ws := range spaces {
		wk, err := finder.WorkerByContactURI(r.Context(), ws, "client:"+identity)
		switch engine.ErrorCode(err) {
		case "":
			found = append(found, wk)
		case engine.ENOTFOUND:
		default:
			h.writeError(w, r, err)
			return
		}
	}
	switch len(found) {
	case 0:
		h.writeError(w, r, engine.Errorf(engine.ENOTFOUND, "no worker has contact_uri client:%s", identity))
		return
	case 1:
	default:
		h.writeError(w, r, engine.Errorf(engine.ECONFLICT, "client:%s is a worker in %d workspaces: name one with ?workspace=", identity, len(found)))
		return
	}
	wk := found[0]
	writeJSON(w, http.StatusOK, agentNumberJSON{
		WorkerSID: wk.SID, FriendlyName: wk.FriendlyName, Identity: identity, WorkspaceSID: wk.WorkspaceSID,
		PhoneNumber: nullable(wk.PhoneNumber), Display: h.numberDisplay(wk.PhoneNumber),
	})
}

func (h *Handler) unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="didrouter", Bearer`)
	writeTwilioError(w, http.StatusUnauthorized, 20003, "Authentication Error - admin credentials or an agent token are required")
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
