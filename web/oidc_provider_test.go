package web_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/didrouter/didrouter"
)

// testOP is a small OpenID provider for the tests, built on go-jose: the
// discovery document, the keys, an authorization endpoint that signs in
// whoever the test says (no form), and a token endpoint that checks the
// client, the redirect URI and the PKCE verifier before it signs an ID
// token with the nonce it was given.
type testOP struct {
	t        *testing.T
	srv      *httptest.Server
	key      *rsa.PrivateKey
	clock    *didrouter.FakeClock
	clientID string
	secret   string

	mu       sync.Mutex
	claims   map[string]any // who signs in next
	mode     string         // "" | "tamper" | "expired" | "nonce": how the next ID token is spoiled
	grants   map[string]grant
	tokens   int // ID tokens issued
	lastAuth url.Values
}

type grant struct {
	nonce, challenge, redirect string
	claims                     map[string]any
}

const (
	opClientID = "didrouter-test"
	opSecret   = "op-client-secret-0123456789"
)

func newTestOP(t *testing.T, clock *didrouter.FakeClock) *testOP {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	op := &testOP{t: t, key: key, clock: clock, clientID: opClientID, secret: opSecret, grants: map[string]grant{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", op.discovery)
	mux.HandleFunc("GET /keys", op.keys)
	mux.HandleFunc("GET /authorize", op.authorize)
	mux.HandleFunc("POST /token", op.token)
	op.srv = httptest.NewServer(mux)
	t.Cleanup(op.srv.Close)
	return op
}

func (op *testOP) issuer() string { return op.srv.URL }

// signInAs sets the claims of the next sign-in.
func (op *testOP) signInAs(claims map[string]any, mode string) {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.claims, op.mode = maps.Clone(claims), mode
}

func (op *testOP) discovery(w http.ResponseWriter, _ *http.Request) {
	writeOPJSON(w, http.StatusOK, map[string]any{
		"issuer": op.issuer(), "authorization_endpoint": op.issuer() + "/authorize", "token_endpoint": op.issuer() + "/token",
		"jwks_uri": op.issuer() + "/keys", "response_types_supported": []string{"code"},
		"subject_types_supported": []string{"public"}, "id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported": []string{"S256"},
	})
}

func (op *testOP) keys(w http.ResponseWriter, _ *http.Request) {
	writeOPJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &op.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
}

func (op *testOP) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	op.mu.Lock()
	defer op.mu.Unlock()
	op.lastAuth = q
	switch {
	case q.Get("client_id") != op.clientID, q.Get("response_type") != "code",
		!slices.Contains(strings.Fields(q.Get("scope")), "openid"),
		q.Get("code_challenge_method") != "S256", q.Get("code_challenge") == "",
		q.Get("nonce") == "", q.Get("state") == "", q.Get("redirect_uri") == "":
		http.Error(w, "bad authorization request: "+r.URL.RawQuery, http.StatusBadRequest)
		return
	}
	code := rand.Text()
	op.grants[code] = grant{nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri"), claims: maps.Clone(op.claims)}
	back, _ := url.Parse(q.Get("redirect_uri"))
	v := back.Query()
	v.Set("code", code)
	v.Set("state", q.Get("state"))
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (op *testOP) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeOPJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
	}
	if id != op.clientID || secret != op.secret {
		writeOPJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	op.mu.Lock()
	defer op.mu.Unlock()
	g, ok := op.grants[r.PostFormValue("code")]
	delete(op.grants, r.PostFormValue("code")) // a code works once
	sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
	switch {
	case !ok, r.PostFormValue("grant_type") != "authorization_code", r.PostFormValue("redirect_uri") != g.redirect:
		writeOPJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
		return
	case base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
		writeOPJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "PKCE verifier does not match"})
		return
	}
	now := op.clock.Now()
	claims := map[string]any{"iss": op.issuer(), "aud": op.clientID, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "nonce": g.nonce}
	for k, v := range g.claims {
		claims[k] = v
	}
	switch op.mode {
	case "expired":
		claims["iat"], claims["exp"] = now.Add(-time.Hour).Unix(), now.Add(-time.Minute).Unix()
	case "nonce":
		claims["nonce"] = "not-the-nonce"
	}
	raw := op.sign(claims)
	if op.mode == "tamper" {
		// The payload changed after signing (another phone number).
		parts := strings.Split(raw, ".")
		claims["phone_number"] = "+15125559999"
		payload, _ := json.Marshal(claims)
		parts[1] = base64.RawURLEncoding.EncodeToString(payload)
		raw = strings.Join(parts, ".")
	}
	op.tokens++
	writeOPJSON(w, http.StatusOK, map[string]any{"access_token": "at-" + r.PostFormValue("code"), "token_type": "Bearer",
		"expires_in": 300, "id_token": raw})
}

func (op *testOP) sign(claims map[string]any) string {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: op.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		op.t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		op.t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		op.t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		op.t.Fatal(err)
	}
	return s
}

func writeOPJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
