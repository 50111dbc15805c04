package api_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/api"
)

// forgeAgentToken signs a token exactly as docs/agents.md tells a token
// server to, without the signer's checks (so a test can mint what the
// signer refuses to).
func forgeAgentToken(secret, identity string, issued, expires time.Time) string {
	b64 := base64.RawURLEncoding.EncodeToString
	iat, exp := strconv.FormatInt(issued.Unix(), 10), strconv.FormatInt(expires.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("dra2\n" + identity + "\n" + iat + "\n" + exp))
	return "dra2." + b64([]byte(identity)) + "." + iat + "." + exp + "." + b64(m.Sum(nil))
}

// oldAgentToken is a token of the first format, signed with a key derived
// from the admin API secret (refused now).
func oldAgentToken(apiSecret, identity string, expires time.Time) string {
	b64 := base64.RawURLEncoding.EncodeToString
	key := sha256.Sum256([]byte(apiSecret))
	exp := strconv.FormatInt(expires.Unix(), 10)
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte("dra1\n" + identity + "\n" + exp))
	return "dra1." + b64([]byte(identity)) + "." + exp + "." + b64(m.Sum(nil))
}

func (s *server) agentNumber(tok string) (int, string) {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.srv.URL+api.AgentNumberPath, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The documented token format is the one the server accepts.
func TestAgentTokenFormatAsDocumented(t *testing.T) {
	stores(t, func(t *testing.T, st engineStore) {
		s := newServer(t, st)
		s.createWorker("alice", `{"phone_number":"(512) 764-0580","contact_uri":"client:alice"}`)
		now := s.clock.Now()
		if status, body := s.agentNumber(forgeAgentToken(agentSecret, "alice", now, now.Add(time.Hour))); status != 200 {
			t.Fatalf("a token made as documented: %d %s", status, body)
		}
		// The admin secret does not sign agent tokens any more.
		if status, _ := s.agentNumber(forgeAgentToken(apiSecret, "alice", now, now.Add(time.Hour))); status != 401 {
			t.Errorf("a token signed with the admin secret: %d, want 401", status)
		}
	})
}

// Revoking an agent's tokens refuses every token issued until then, for
// that agent only, and a token minted afterwards works.
func TestRevokeAgentTokens(t *testing.T) {
	stores(t, func(t *testing.T, st engineStore) {
		s := newServer(t, st)
		alice := s.createWorker("alice", `{"contact_uri":"client:alice"}`)
		s.createWorker("bob", `{"contact_uri":"client:bob"}`)
		now := s.clock.Now()
		aliceTok := forgeAgentToken(agentSecret, "alice", now, now.Add(time.Hour))
		bobTok := forgeAgentToken(agentSecret, "bob", now, now.Add(time.Hour))
		// An agent desktop session of alice's, to see it end.
		web := st.(didrouter.WebStore)
		if err := web.InsertWebSession(context.Background(), didrouter.WebSession{ID: "sess", Kind: didrouter.WebSessionAgent,
			WorkspaceSID: s.ws.SID, WorkerSID: alice, CSRF: "c", Created: now, Expires: now.Add(time.Hour), LastSeen: now}); err != nil {
			t.Fatal(err)
		}
		s.clock.Advance(10 * time.Second)
		if r := s.post(s.wsPath("/Workers/"+alice+"/RevokeAgentTokens"), nil); r.status != 200 ||
			r.body["sessions_ended"] != 1.0 || r.body["worker_sid"] != alice || r.body["tokens_valid_after"] != "2025-03-03T09:00:11Z" {
			t.Fatalf("revoke: %d %s", r.status, r.raw)
		}
		if status, body := s.agentNumber(aliceTok); status != 401 || !strings.Contains(body, "revoked") {
			t.Errorf("alice's token after revocation: %d %s", status, body)
		}
		if status, _ := s.agentNumber(bobTok); status != 200 {
			t.Errorf("bob's token after alice's revocation: %d", status)
		}
		if _, err := web.GetWebSession(context.Background(), "sess"); didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
			t.Errorf("alice's session after revocation: %v", err)
		}
		// A token minted in the second of the revocation is refused too;
		// one from the next second on works.
		at := s.clock.Now()
		if status, _ := s.agentNumber(forgeAgentToken(agentSecret, "alice", at, at.Add(time.Hour))); status != 401 {
			t.Errorf("a token of the revocation's second: %d, want 401", status)
		}
		s.clock.Advance(time.Second)
		at = s.clock.Now()
		if status, body := s.agentNumber(forgeAgentToken(agentSecret, "alice", at, at.Add(time.Hour))); status != 200 {
			t.Errorf("a token minted after the revocation: %d %s", status, body)
		}
		// Unknown worker; no credentials.
		if r := s.post(s.wsPath("/Workers/WKmissing/RevokeAgentTokens"), nil); r.status != 404 {
			t.Errorf("revoking a missing worker: %d", r.status)
		}
		if r := s.request(http.MethodPost, s.wsPath("/Workers/"+alice+"/RevokeAgentTokens"), nil, false); r.status != 401 {
			t.Errorf("revoking without credentials: %d", r.status)
		}
	})
}

// A token minted before its worker existed belonged to someone else who
// had that identity.
func TestAgentTokenOlderThanItsWorker(t *testing.T) {
	stores(t, func(t *testing.T, st engineStore) {
		s := newServer(t, st)
		now := s.clock.Now()
		tok := forgeAgentToken(agentSecret, "alice", now, now.Add(time.Hour))
		s.clock.Advance(2 * time.Second)
		s.createWorker("alice", `{"contact_uri":"client:alice"}`)
		if status, _ := s.agentNumber(tok); status != 401 {
			t.Errorf("a token older than its worker: %d, want 401", status)
		}
	})
}
