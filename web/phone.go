package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/didrouter/didrouter/logsafe"
)

// AgentPhoneToken is where the browser phone gets its Voice access token
// (POST with the session's CSRF token, so no other site can make a page
// fetch one).
const AgentPhoneToken = "/agent/phone/token"

// Voice mints the browser phone's access tokens (*voicetoken.Minter).
type Voice interface {
	// Missing names the settings still to set; empty when Mint works.
	Missing() []string
	// Mint returns a token for a client identity and when it expires.
	Mint(identity string) (token string, expires time.Time, err error)
}

// PhoneCSP is what the Content-Security-Policy must allow for Twilio's
// Voice SDK. The SDK opens signalling and insights connections, over wss
// and https to one twilio.com host per edge, and loads its ringtones from
// sdk.twilio.com. Audio itself flows over WebRTC, which the policy does not
// govern.
func PhoneCSP() map[string][]string {
	return map[string][]string{
		"connect-src": {"wss://*.twilio.com", "https://*.twilio.com"},
		"media-src":   {"https://sdk.twilio.com"},
	}
}

// phoneToken is the signed-in agent's token, for their own client identity
// (their worker's contact_uri client:NAME) only.
//
//	200 {"token","identity","expires"}
//	503 {"error","missing"}: the server has no phone set up
//	409 {"error"}: the agent's contact is not a browser phone
func (h *Handler) phoneToken(w http.ResponseWriter, r *http.Request) {
	a, _ := AgentFrom(r.Context())
	if missing := h.phoneMissing(); len(missing) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		writeJSON(w, map[string]any{"error": phoneNotSetUp(missing), "missing": missing})
		return
	}
	identity, err := clientIdentity(a.Worker.Attributes)
	if err != nil {
		w.WriteHeader(http.StatusConflict)
		writeJSON(w, map[string]string{"error": err.Error()})
		return
	}
	tok, expires, err := h.voice.Mint(identity)
	if err != nil {
		// The identity passed clientIdentity; the minter refusing it is
		// still the agent's contact at fault, not the server.
		h.log.WarnContext(r.Context(), "voice token refused", "worker_sid", a.Worker.SID, "err", err)
		w.WriteHeader(http.StatusConflict)
		writeJSON(w, map[string]string{"error": "Your phone address cannot be used by the browser phone. Ask your administrator to check your contact_uri."})
		return
	}
	writeJSON(w, map[string]string{"token": tok, "identity": identity, "expires": expires.UTC().Format(time.RFC3339)})
}

// phoneMissing names the settings the phone lacks ("" = the minter is not
// wired at all, which only a test or an embedding does).
func (h *Handler) phoneMissing() []string {
	if h.voice == nil {
		return []string{"TWILIO_API_KEY", "TWILIO_API_SECRET", "DIDROUTER_TWIML_APP_SID"}
	}
	return h.voice.Missing()
}

// phoneNotSetUp is the sentence the phone panel shows without a phone.
func phoneNotSetUp(missing []string) string {
	return "The browser phone is not set up on this server: your administrator needs to set " +
		strings.Join(missing, ", ") + ". Everything else on this page works."
}

// errNotBrowserPhone explains a worker the browser phone cannot ring.
var errNotBrowserPhone = errors.New("not a browser phone")

// clientIdentity reads the client identity out of a worker's attributes:
// contact_uri "client:alice" is identity "alice", the one Twilio rings.
// Any other contact (a phone number, SIP, none) is rung elsewhere, so the
// browser must not register for it.
func clientIdentity(attributes string) (string, error) {
	var attrs struct {
		ContactURI any `json:"contact_uri"`
	}
	_ = json.Unmarshal([]byte(attributes), &attrs) // stored attributes are a JSON object
	uri, _ := attrs.ContactURI.(string)
	uri = strings.TrimSpace(uri)
	if uri == "" {
		return "", fmt.Errorf("%w: you have no phone address (contact_uri). Ask your administrator to set it to client: and your user name, for example client:alice", errNotBrowserPhone)
	}
	if len(uri) < len("client:") || !strings.EqualFold(uri[:len("client:")], "client:") {
		return "", fmt.Errorf("%w: your calls ring another phone (contact_uri %s). To use this browser as your phone, ask your administrator to set it to client: and your user name", errNotBrowserPhone, logsafe.Clip(uri))
	}
	id := strings.TrimSpace(uri[len("client:"):])
	if id == "" || strings.IndexFunc(id, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || r == unicode.ReplacementChar || r == '<' || r == '>' || r == '&'
	}) >= 0 {
		return "", fmt.Errorf("%w: your phone address %q is not a valid client identity. Ask your administrator to fix your contact_uri", errNotBrowserPhone, logsafe.Clip(uri))
	}
	return id, nil
}
