package api_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/api"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/store/storetest"
)

// send makes a request with extra headers (and Host, if given).
func (s *server) send(method, path string, form url.Values, header map[string]string) response {
	s.t.Helper()
	body := strings.NewReader("")
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, s.srv.URL+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.SetBasicAuth(apiKey, apiSecret)
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	return s.do(req)
}

// A web page on another site can make a browser POST a form to the API
// with the Basic credentials it remembers (issue 16, finding 10): a
// state-changing request whose Origin is neither the server's own (its
// public URL) nor configured is refused; requests without Origin (curl,
// Twilio's libraries) and reads pass.
func TestCrossOriginWritesRefused(t *testing.T) {
	stores(t, func(t *testing.T, st engineStore) {
		s := newServerWith(t, st, func(c *api.Config) { c.AllowedOrigins = []string{"https://admin.example.com"} })
		create := func(name, origin string) response {
			h := map[string]string{}
			if origin != "" {
				h["Origin"] = origin
			}
			return s.send(http.MethodPost, s.wsPath("/Workers"), url.Values{"FriendlyName": {name}}, h)
		}
		for _, origin := range []string{"https://evil.example", "null", "http://127.0.0.1:1", "https://admin.example.com.evil.example",
			"http://admin.example.com", "not an origin"} {
			r := create("mallory", origin)
			msg := twilioError(t, r, http.StatusForbidden, 20403)
			if !strings.Contains(msg, "cross-origin") || !strings.Contains(msg, "DIDROUTER_ALLOWED_ORIGINS") {
				t.Errorf("Origin %s: message %q", origin, msg)
			}
		}
		workers, err := st.ListWorkers(context.Background(), s.ws.SID, didrouter.WorkerFilter{Page: didrouter.Page{Size: 10}})
		if err != nil || len(workers) != 0 {
			t.Fatalf("refused requests created %d workers (%v)", len(workers), err)
		}
		for i, origin := range []string{"", s.srv.URL, strings.ToUpper(s.srv.URL), "https://admin.example.com", "HTTPS://Admin.Example.com:443"} {
			if r := create("w"+itoa(i), origin); r.status != http.StatusCreated {
				t.Errorf("Origin %q: %d %s", origin, r.status, r.raw)
			}
		}
		sid := str(create("target", "").body, "sid")
		evil := map[string]string{"Origin": "https://evil.example"}
		twilioError(t, s.send(http.MethodDelete, s.wsPath("/Workers/"+sid), nil, evil), http.StatusForbidden, 20403)
		twilioError(t, s.send(http.MethodPost, s.wsPath(""), url.Values{"FriendlyName": {"pwned"}}, evil), http.StatusForbidden, 20403)
		if r := s.send(http.MethodGet, s.wsPath("/Workers/"+sid), nil, evil); r.status != http.StatusOK {
			t.Errorf("a read with a foreign Origin: %d %s", r.status, r.raw)
		}
		if r := s.send(http.MethodDelete, s.wsPath("/Workers/"+sid), nil, nil); r.status != http.StatusNoContent {
			t.Errorf("delete without Origin: %d %s", r.status, r.raw)
		}
	})
}

// Configured origins are scheme://host[:port]; anything else is refused
// when the handler is made, and each origin is compared in canonical form.
func TestAllowedOriginsChecked(t *testing.T) {
	st := storetest.SQLite(t)
	eng, err := engine.New(engine.Config{Store: st, Clock: didrouter.SystemClock{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []string{"null", "https://x.example/path", "ftp://x.example", "https://u:p@x.example", "*", "https://:443", "https://x.example?q"} {
		if _, err := api.ParseOrigin(o); err == nil {
			t.Errorf("ParseOrigin(%q) accepted it", o)
		}
		if _, err := api.NewHandler(api.Config{Engine: eng, Store: st, APIKey: "k", APISecret: "s", AllowedOrigins: []string{o}}); err == nil {
			t.Errorf("AllowedOrigins %q accepted", o)
		}
	}
	for in, want := range map[string]string{
		"https://Admin.Example.com:443/": "https://admin.example.com",
		"http://x.example:80":            "http://x.example",
		"http://x.example:8080":          "http://x.example:8080",
		"https://[::1]:8443":             "https://[::1]:8443",
	} {
		if got, err := api.ParseOrigin(in); err != nil || got != want {
			t.Errorf("ParseOrigin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := api.NewHandler(api.Config{Engine: eng, Store: st, APIKey: "k", APISecret: "s", AllowedOrigins: []string{"https://admin.example.com"}}); err != nil {
		t.Errorf("a good origin: %v", err)
	}
}

// The url fields and page links are built from the configured base URL,
// never from the Host and X-Forwarded-Proto headers a client sends (issue
// 16, finding 12).
func TestURLsIgnoreForgedHost(t *testing.T) {
	stores(t, func(t *testing.T, st engineStore) {
		const base = "https://calls.example.com/didrouter"
		for _, tc := range []struct{ base, want string }{{base, base}, {"", api.DefaultBaseURL}} {
			s := newServerWith(t, st, func(c *api.Config) { c.BaseURL = tc.base })
			s.createWorker("alice", `{}`)
			s.createWorker("bob", `{}`)
			forged := map[string]string{"Host": "evil.example", "X-Forwarded-Proto": "http", "X-Forwarded-Host": "evil.example"}
			r := s.send(http.MethodGet, s.wsPath("/Workers?PageSize=1"), nil, forged)
			if r.status != http.StatusOK {
				t.Fatalf("list: %d %s", r.status, r.raw)
			}
			if strings.Contains(r.raw, "evil.example") {
				t.Errorf("base %q: the answer follows the forged Host: %s", tc.base, r.raw)
			}
			meta := r.body["meta"].(map[string]any)
			for _, k := range []string{"url", "first_page_url", "next_page_url"} {
				if u := str(meta, k); !strings.HasPrefix(u, tc.want+"/v1/Workspaces/"+s.ws.SID+"/Workers?") {
					t.Errorf("base %q: meta %s %q", tc.base, k, u)
				}
			}
			w := r.body["workers"].([]any)[0].(map[string]any)
			if u := str(w, "url"); !strings.HasPrefix(u, tc.want+"/v1/Workspaces/"+s.ws.SID+"/Workers/WK") {
				t.Errorf("base %q: worker url %q", tc.base, u)
			}
			r = s.send(http.MethodGet, s.wsPath(""), nil, forged)
			if u := str(r.body, "url"); u != tc.want+"/v1/Workspaces/"+s.ws.SID {
				t.Errorf("base %q: workspace url %q", tc.base, u)
			}
		}
	})
}
