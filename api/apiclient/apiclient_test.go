package apiclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/didrouter/didrouter/api/apiclient"
)

func TestParseBaseURL(t *testing.T) {
	for raw, want := range map[string]string{
		"http://127.0.0.1:8080/":      "http://127.0.0.1:8080",
		" https://calls.example/dr/ ": "https://calls.example/dr",
		"ftp://x":                     "",
		"http://x/?a=b":               "",
		"/v1":                         "",
	} {
		got, err := apiclient.ParseBaseURL(raw)
		if got != want || (err != nil) != (want == "") {
			t.Errorf("ParseBaseURL(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
}

// Pages follows next_page_url on the base URL it was given, even when the
// server builds its links from another public URL, and sends the
// credentials with every page.
func TestPagesFollowLinksOnTheBaseURL(t *testing.T) {
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if k, s, ok := r.BasicAuth(); !ok || k != "key" || s != "secret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		seen = append(seen, r.URL.RequestURI())
		next := any(nil)
		if r.URL.Query().Get("Page") == "" {
			next = "https://calls.example.test/dr/v1/Workspaces?Page=1"
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"workspaces": []any{map[string]any{"sid": "WS" + r.URL.Query().Get("Page")}},
			"meta":       map[string]any{"next_page_url": next},
		})
	}))
	defer srv.Close()
	c := apiclient.New(srv.Client(), "key", "secret", srv.URL)
	var sids []string
	err := c.Pages(context.Background(), "/v1/Workspaces", "workspaces", func(items []json.RawMessage) (bool, error) {
		for _, it := range items {
			var ws struct{ SID string }
			_ = json.Unmarshal(it, &ws)
			sids = append(sids, ws.SID)
		}
		return true, nil
	})
	if err != nil || strings.Join(sids, ",") != "WS,WS1" || len(seen) != 2 || seen[1] != "/v1/Workspaces?Page=1" {
		t.Fatalf("pages: %v %q, requests %q", err, sids, seen)
	}
	if err := c.JSON(context.Background(), http.MethodGet, "https://elsewhere.example/other", nil, nil); err == nil ||
		!strings.Contains(err.Error(), "outside the targets") {
		t.Errorf("a link outside the API: %v", err)
	}
	bad := apiclient.New(srv.Client(), "key", "wrong", srv.URL)
	err = bad.JSON(context.Background(), http.MethodGet, "/v1/Workspaces", nil, nil)
	var ae *apiclient.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || !strings.Contains(err.Error(), "DIDROUTER_API_SECRET") {
		t.Errorf("wrong secret: %v", err)
	}
}

// A server that links a page to itself ends in an error, not a loop.
func TestPagesBounded(t *testing.T) {
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		_, _ = w.Write([]byte(`{"items":[],"meta":{"next_page_url":"/v1/Items"}}`))
	}))
	defer srv.Close()
	err := apiclient.New(srv.Client(), "k", "s", srv.URL).Pages(context.Background(), "/v1/Items", "items",
		func([]json.RawMessage) (bool, error) { return true, nil })
	if err == nil || n != apiclient.MaxPages {
		t.Errorf("%d requests, %v", n, err)
	}
}

// With several instances, a 5xx or an unreachable one is skipped; a 4xx
// is the answer and is read from the Twilio-shaped body.
func TestFailoverAndErrors(t *testing.T) {
	var hits []string
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits = append(hits, "down")
		http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
	}))
	defer down.Close()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits = append(hits, "up")
		if r.URL.Path == "/v1/Missing" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"code":20404,"message":"Worker WK1 not found","status":404}`))
			return
		}
		if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || r.FormValue("A") != "b" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer up.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()

	c := apiclient.New(nil, "k", "s", gone.URL, down.URL, up.URL)
	var out struct{ OK bool }
	if err := c.JSON(context.Background(), http.MethodPost, "/v1/Things", map[string][]string{"A": {"b"}}, &out); err != nil || !out.OK {
		t.Fatalf("failover: %v %+v", err, out)
	}
	hits = nil
	err := c.JSON(context.Background(), http.MethodGet, "/v1/Missing", nil, nil)
	var ae *apiclient.Error
	if !errors.As(err, &ae) || ae.Status != 404 || ae.Code != 20404 || ae.Message != "Worker WK1 not found" ||
		err.Error() != "the admin API answered 404: Worker WK1 not found" || strings.Join(hits, ",") != "down,up" {
		t.Errorf("404: %v %+v, hits %v", err, ae, hits)
	}
	err = apiclient.New(nil, "k", "s", down.URL).JSON(context.Background(), http.MethodGet, "/v1/X", nil, nil)
	if !errors.As(err, &ae) || ae.Status != 502 || !strings.Contains(err.Error(), "answered 502: <html>bad gateway</html>") {
		t.Errorf("502: %v", err)
	}
	err = apiclient.New(nil, "k", "s", gone.URL).JSON(context.Background(), http.MethodGet, "/v1/X", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "cannot reach didrouter at "+gone.URL) {
		t.Errorf("unreachable: %v", err)
	}
}
