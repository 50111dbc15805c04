package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/agenttoken"
	"github.com/didrouter/didrouter/api"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/routing"
	"github.com/didrouter/didrouter/store/storetest"
)

const (
	apiKey      = "SKtestkey"
	apiSecret   = "testsecret0123"
	agentSecret = "agent-token-secret-0123456789abcdef"
)

func stores(t *testing.T, fn func(t *testing.T, st didrouter.Store)) {
	storetest.Each(t, fn)
}

type server struct {
	t      *testing.T
	store  didrouter.Store
	ws     didrouter.Workspace
	srv    *httptest.Server
	clock  *didrouter.FakeClock
	signer *agenttoken.Signer // agent tokens (agentSecret, 7-day cap)
}

func newServer(t *testing.T, st didrouter.Store) *server {
	t.Helper()
	return newServerWith(t, st, nil)
}

// newServerWith is newServer with changes to the API's configuration
// (BaseURL is the test server's unless adjust sets another).
func newServerWith(t *testing.T, st didrouter.Store, adjust func(*api.Config)) *server {
	t.Helper()
	clock := didrouter.NewFakeClock(time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC))
	ws, err := engine.Seed(context.Background(), st, clock)
	if err != nil {
		t.Fatal(err)
	}
	norm, err := routing.NewNormalizer("US")
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{Store: st, Clock: clock, Normalizer: norm})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := agenttoken.NewSigner(agentSecret, 0)
	if err != nil {
		t.Fatal(err)
	}
	agents, err := agenttoken.NewAgents(signer, eng, st.(didrouter.WebStore), clock)
	if err != nil {
		t.Fatal(err)
	}
	// The handler is made after the server, whose URL is its base URL.
	var h *api.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	cfg := api.Config{Engine: eng, Store: st, Clock: clock, APIKey: apiKey, APISecret: apiSecret, AccountSID: "AC0123",
		BaseURL: srv.URL, Agents: agents}
	if adjust != nil {
		adjust(&cfg)
	}
	h, err = api.NewHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &server{t: t, store: st, ws: ws, srv: srv, clock: clock, signer: signer}
}

type response struct {
	status int
	body   map[string]any
	raw    string
}

func (s *server) request(method, path string, form url.Values, auth bool) response {
	s.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	u := path
	if !strings.HasPrefix(u, "http") {
		u = s.srv.URL + path
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		s.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if auth {
		req.SetBasicAuth(apiKey, apiSecret)
	}
	return s.do(req)
}

// do sends req and decodes the JSON answer.
func (s *server) do(req *http.Request) response {
	s.t.Helper()
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := response{status: resp.StatusCode, raw: string(raw)}
	if len(raw) > 0 {
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			s.t.Fatalf("%s %s: Content-Type %q", req.Method, req.URL.Path, ct)
		}
		if err := json.Unmarshal(raw, &out.body); err != nil {
			s.t.Fatalf("%s %s: not JSON: %v\n%s", req.Method, req.URL.Path, err, raw)
		}
	}
	return out
}

func (s *server) get(path string) response { return s.request(http.MethodGet, path, nil, true) }

func (s *server) post(path string, form url.Values) response {
	return s.request(http.MethodPost, path, form, true)
}

func (s *server) wsPath(rest string) string { return "/v1/Workspaces/" + s.ws.SID + rest }

func (s *server) activity(name string) string {
	s.t.Helper()
	acts, err := s.store.ListActivities(context.Background(), s.ws.SID)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, a := range acts {
		if a.FriendlyName == name {
			return a.SID
		}
	}
	s.t.Fatalf("no activity %q", name)
	return ""
}

// twilioError checks an error body has Twilio's shape and returns its message.
func twilioError(t *testing.T, r response, status, code int) string {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	if int(r.body["code"].(float64)) != code || int(r.body["status"].(float64)) != status {
		t.Fatalf("error body %s, want code %d status %d", r.raw, code, status)
	}
	if mi, _ := r.body["more_info"].(string); !strings.HasSuffix(mi, "/errors/"+itoa(code)) {
		t.Errorf("more_info %q", mi)
	}
	msg, _ := r.body["message"].(string)
	if msg == "" {
		t.Error("error without a message")
	}
	return msg
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

type engineStore = didrouter.Store
