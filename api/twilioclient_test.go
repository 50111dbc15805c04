package api_test

import (
	"net/http"
	"net/url"
	"os"
	"testing"

	"github.com/twilio/twilio-go/client"
	taskrouter "github.com/twilio/twilio-go/rest/taskrouter/v1"
)

// rewrite sends every request of Twilio's client to the test server.
type rewrite struct {
	target *url.URL
	next   http.RoundTripper
}

func (r rewrite) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host = r.target.Scheme, r.target.Host
	return r.next.RoundTrip(req)
}

// Twilio's own Go client manages workers through the API: the JSON shapes,
// dates, pagination and errors are what it expects.
func TestTwilioGoClient(t *testing.T) {
	if os.Getenv("TWILIO_EDGE") != "" || os.Getenv("TWILIO_REGION") != "" {
		t.Skip("TWILIO_EDGE/TWILIO_REGION would send the client to a regional host name")
	}
	stores(t, func(t *testing.T, st engineStore) {
		s := newServer(t, st)
		target, _ := url.Parse(s.srv.URL)
		c := &client.Client{
			Credentials: client.NewCredentials(apiKey, apiSecret),
			HTTPClient:  &http.Client{Transport: rewrite{target: target, next: http.DefaultTransport}},
		}
		c.SetAccountSid("AC0123")
		tr := taskrouter.NewApiServiceWithClient(c)

		created := map[string]bool{}
		for _, name := range []string{"alice", "bob", "carol", "dave", "erin"} {
			params := (&taskrouter.CreateWorkerParams{}).SetFriendlyName(name).
				SetAttributes(`{"contact_uri":"client:` + name + `"}`).SetActivitySid(s.activity("Available"))
			w, err := tr.CreateWorker(s.ws.SID, params)
			if err != nil {
				t.Fatalf("create %s: %v", name, err)
			}
			if w.Sid == nil || w.DateCreated == nil || w.DateCreated.IsZero() || w.Available == nil || !*w.Available {
				t.Fatalf("created worker decoded badly: %+v", w)
			}
			created[*w.Sid] = true
		}
		// Two per page: the client follows next_page_url by itself.
		list, err := tr.ListWorker(s.ws.SID, (&taskrouter.ListWorkerParams{}).SetPageSize(2))
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		if len(list) != len(created) {
			t.Fatalf("listed %d workers, want %d", len(list), len(created))
		}
		for _, w := range list {
			if !created[*w.Sid] {
				t.Errorf("unexpected worker %s", *w.Sid)
			}
		}
		some := list[0]
		updated, err := tr.UpdateWorker(s.ws.SID, *some.Sid, (&taskrouter.UpdateWorkerParams{}).SetActivitySid(s.activity("Offline")))
		if err != nil {
			t.Fatalf("update: %v", err)
		}
		if *updated.ActivityName != "Offline" || *updated.Available {
			t.Errorf("update: %+v", updated)
		}
		fetched, err := tr.FetchWorker(s.ws.SID, *some.Sid)
		if err != nil || *fetched.ActivityName != "Offline" {
			t.Fatalf("fetch: %v %+v", err, fetched)
		}
		_, err = tr.FetchWorker(s.ws.SID, "WK00000000000000000000000000000000")
		restErr, ok := err.(*client.TwilioRestError)
		if !ok || restErr.Status != http.StatusNotFound || restErr.Code != 20404 {
			t.Fatalf("fetch unknown worker: %T %v", err, err)
		}
		if err := tr.DeleteWorker(s.ws.SID, *some.Sid, nil); err != nil {
			t.Fatalf("delete: %v", err)
		}
		wss, err := tr.ListWorkspace(nil)
		if err != nil || len(wss) != 1 || *wss[0].Sid != s.ws.SID {
			t.Fatalf("workspaces: %v %+v", err, wss)
		}
		acts, err := tr.ListActivity(s.ws.SID, nil)
		if err != nil || len(acts) != 3 {
			t.Fatalf("activities: %v %d", err, len(acts))
		}
		wfs, err := tr.ListWorkflow(s.ws.SID, nil)
		if err != nil || len(wfs) != 1 || *wfs[0].FriendlyName != "Direct Inward Dial" {
			t.Fatalf("workflows: %v %+v", err, wfs)
		}
	})
}
