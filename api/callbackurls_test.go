package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/api"
	"github.com/didrouter/didrouter/api/callback"
	"github.com/didrouter/didrouter/engine"
)

// newPolicyServer is newServer with a callback policy: didrouter's public
// URL is https://calls.example.com and only *.example.com may get
// callbacks.
func newPolicyServer(t *testing.T, st didrouter.Store) *server {
	t.Helper()
	clock := didrouter.NewFakeClock(time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC))
	ws, err := engine.Seed(context.Background(), st, clock)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{Store: st, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	policy, err := callback.NewPolicy(callback.PolicyConfig{PublicURL: "https://calls.example.com", ListenAddr: "127.0.0.1:8080",
		Hosts: []string{"*.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := api.NewHandler(api.Config{Engine: eng, Store: st, Clock: clock, APIKey: apiKey, APISecret: apiSecret, Callbacks: policy})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &server{t: t, store: st, ws: ws, srv: srv}
}

// Callback URLs are refused with a 400 naming the parameter when they point
// at didrouter itself or off the allow-list, on create and update alike.
func TestCallbackURLPolicy(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := newPolicyServer(t, st)
		wf := s.post(s.wsPath("/Workflows"), url.Values{"FriendlyName": {"cb"}, "Configuration": {s.queueConfig()}})
		if wf.status != http.StatusCreated {
			t.Fatalf("create workflow: %d %s", wf.status, wf.raw)
		}
		wfPath := s.wsPath("/Workflows/" + wf.body["sid"].(string))
		for _, c := range []struct{ url, says string }{
			{"https://calls.example.com/webhooks/voice/incoming?greeted=1&CallSid=CAforged", "didrouter itself"},
			{"http://localhost:8080/webhooks/voice/incoming", "didrouter itself"},
			{"https://hooks.elsewhere.net/events", "DIDROUTER_CALLBACK_HOSTS"},
			{"ftp://hooks.example.com/events", "absolute http or https"},
		} {
			for _, p := range []struct{ path, param string }{
				{s.wsPath(""), "EventCallbackUrl"},
				{s.wsPath("/Workflows"), "AssignmentCallbackUrl"},
				{wfPath, "AssignmentCallbackUrl"},
				{wfPath, "FallbackAssignmentCallbackUrl"},
			} {
				form := url.Values{p.param: {c.url}}
				if strings.HasSuffix(p.path, "/Workflows") {
					form.Set("FriendlyName", "another")
					form.Set("Configuration", s.queueConfig())
				}
				msg := twilioError(t, s.post(p.path, form), http.StatusBadRequest, 20001)
				if !strings.HasPrefix(msg, p.param+" ") || !strings.Contains(msg, c.says) {
					t.Errorf("POST %s %s=%s: %q, want it to name %s and say %q", p.path, p.param, c.url, msg, p.param, c.says)
				}
			}
		}
		ws, _ := st.GetWorkspace(context.Background(), s.ws.SID)
		if ws.EventCallbackURL != "" {
			t.Errorf("a refused URL was stored: %q", ws.EventCallbackURL)
		}
		if r := s.post(s.wsPath(""), url.Values{"EventCallbackUrl": {"https://hooks.example.com/events"}}); r.status != http.StatusOK {
			t.Errorf("an allowed URL: %d %s", r.status, r.raw)
		}
	})
}

// A callback URL's password is never given back: answers show it as
// "redacted"; sending that URL back keeps the stored password; the marker
// on another host (or with nothing stored) is refused, so the password
// cannot be carried elsewhere; a new password replaces the old.
func TestCallbackPasswordsAreHidden(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		ctx := context.Background()
		s := newPolicyServer(t, st)
		const secret = "https://bob:hunter2@hooks.example.com/events?team=blue"
		const shown = "https://bob:redacted@hooks.example.com/events?team=blue"

		r := s.post(s.wsPath(""), url.Values{"EventCallbackUrl": {secret}})
		if r.status != http.StatusOK || r.body["event_callback_url"] != shown || strings.Contains(r.raw, "hunter2") {
			t.Fatalf("update workspace: %d %s", r.status, r.raw)
		}
		for _, path := range []string{s.wsPath(""), "/v1/Workspaces"} {
			if g := s.get(path); strings.Contains(g.raw, "hunter2") || !strings.Contains(g.raw, "bob:redacted@") {
				t.Errorf("GET %s shows %s", path, g.raw)
			}
		}
		stored := func() string {
			ws, err := st.GetWorkspace(ctx, s.ws.SID)
			if err != nil {
				t.Fatal(err)
			}
			return ws.EventCallbackURL
		}
		if r := s.post(s.wsPath(""), url.Values{"EventCallbackUrl": {shown}, "FriendlyName": {"renamed"}}); r.status != http.StatusOK || stored() != secret {
			t.Errorf("sent back as shown: %d %s, stored %q", r.status, r.raw, stored())
		}
		msg := twilioError(t, s.post(s.wsPath(""), url.Values{"EventCallbackUrl": {"https://bob:redacted@evil.example.com/events?team=blue"}}),
			http.StatusBadRequest, 20001)
		if !strings.HasPrefix(msg, "EventCallbackUrl ") || stored() != secret {
			t.Errorf("the marker on another host: %q, stored %q", msg, stored())
		}
		if r := s.post(s.wsPath(""), url.Values{"EventCallbackUrl": {"https://bob:swordfish@hooks.example.com/events"}}); r.status != http.StatusOK ||
			stored() != "https://bob:swordfish@hooks.example.com/events" {
			t.Errorf("a new password: %d, stored %q", r.status, stored())
		}

		// Workflows, both URLs.
		twilioError(t, s.post(s.wsPath("/Workflows"), url.Values{"FriendlyName": {"marker"}, "Configuration": {s.queueConfig()},
			"AssignmentCallbackUrl": {shown}}), http.StatusBadRequest, 20001)
		c := s.post(s.wsPath("/Workflows"), url.Values{"FriendlyName": {"cb"}, "Configuration": {s.queueConfig()},
			"AssignmentCallbackUrl": {secret}, "FallbackAssignmentCallbackUrl": {"https://al:pw2@backup.example.com/a"}})
		if c.status != http.StatusCreated || strings.Contains(c.raw, "hunter2") || strings.Contains(c.raw, "pw2") ||
			c.body["assignment_callback_url"] != shown || c.body["fallback_assignment_callback_url"] != "https://al:redacted@backup.example.com/a" {
			t.Fatalf("create workflow: %d %s", c.status, c.raw)
		}
		sid := c.body["sid"].(string)
		wfPath := s.wsPath("/Workflows/" + sid)
		for _, path := range []string{wfPath, s.wsPath("/Workflows")} {
			if g := s.get(path); strings.Contains(g.raw, "hunter2") || strings.Contains(g.raw, "pw2") {
				t.Errorf("GET %s shows a password: %s", path, g.raw)
			}
		}
		storedWF := func() didrouter.Workflow {
			wf, err := st.GetWorkflow(ctx, s.ws.SID, sid)
			if err != nil {
				t.Fatal(err)
			}
			return wf
		}
		u := s.post(wfPath, url.Values{"AssignmentCallbackUrl": {shown}, "FallbackAssignmentCallbackUrl": {"https://al:redacted@backup.example.com/a"},
			"TaskReservationTimeout": {"30"}})
		if wf := storedWF(); u.status != http.StatusOK || wf.AssignmentCallbackURL != secret ||
			wf.FallbackAssignmentCallbackURL != "https://al:pw2@backup.example.com/a" || wf.TaskReservationTimeout != 30 {
			t.Errorf("sent back as shown: %d %s, stored %+v", u.status, u.raw, wf)
		}
		twilioError(t, s.post(wfPath, url.Values{"FallbackAssignmentCallbackUrl": {"https://al:redacted@evil.example.com/a"}}), http.StatusBadRequest, 20001)
		if wf := storedWF(); wf.FallbackAssignmentCallbackURL != "https://al:pw2@backup.example.com/a" {
			t.Errorf("the marker on another host changed the stored URL: %q", wf.FallbackAssignmentCallbackURL)
		}
	})
}

// queueConfig is a workflow configuration into the seeded Everyone queue.
func (s *server) queueConfig() string {
	s.t.Helper()
	qs, err := s.store.ListTaskQueues(context.Background(), s.ws.SID)
	if err != nil || len(qs) == 0 {
		s.t.Fatalf("queues: %v %d", err, len(qs))
	}
	return `{"task_routing":{"default_filter":{"queue":"` + qs[0].SID + `"}}}`
}
