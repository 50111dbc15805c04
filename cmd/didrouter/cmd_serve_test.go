package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/didrouter/didrouter/store/storetest"
	"github.com/didrouter/didrouter/webhooks"
)

// syncBuffer is a log sink the server goroutine and the test share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runServer starts serve on a free port and returns its base URL; the
// server stops (and its error is checked) when the test ends.
func runServer(t *testing.T, cfg config) (string, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, logger, listening) }()
	var addr string
	select {
	case addr = <-listening:
	case err := <-done:
		t.Fatalf("serve stopped at once: %v\n%s", err, logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not start\n%s", logs)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v\n%s", err, logs)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("serve did not stop\n%s", logs)
		}
	})
	return "http://" + addr, logs
}

func waitReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never answered 200 (last: %v)", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testAPISecret is an admin secret serve accepts (see weakSecret).
const testAPISecret = "testsecret0123456789"

func testConfig(t *testing.T) config {
	c, err := parseConfig("serve", []string{"-addr", "127.0.0.1:0"}, envOf(map[string]string{
		"TWILIO_AUTH_TOKEN":    "tok",
		"DIDROUTER_PUBLIC_URL": "https://calls.example.test",
		"DIDROUTER_API_KEY":    "key",
		"DIDROUTER_API_SECRET": testAPISecret,
		"DIDROUTER_DATA":       filepath.Join(t.TempDir(), "didrouter.db"),
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The whole server on SQLite: health, readiness, a signed webhook (signed
// for the public URL, not the address it listens on), the admin API.
func TestServeSQLite(t *testing.T) {
	cfg := testConfig(t)
	base, logs := runServer(t, cfg)
	checkServer(t, base, cfg)
	if !strings.Contains(logs.String(), `"msg":"call decision"`) {
		t.Errorf("no call decision logged:\n%s", logs)
	}
}

func TestServePostgres(t *testing.T) {
	cfg := testConfig(t)
	cfg.DatabaseURL = storetest.PostgresURL(t)
	base, _ := runServer(t, cfg)
	checkServer(t, base, cfg)
}

func checkServer(t *testing.T, base string, cfg config) {
	t.Helper()
	resp, err := http.Get(base + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %v %v", err, resp)
	}
	resp.Body.Close()
	waitReady(t, base)

	form := url.Values{"CallSid": {"CA00000000000000000000000000000001"}, "From": {"+17375550100"}, "To": {"+15125550101"}}
	route := "/incoming"
	post := func(sig string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, base+webhooks.PathPrefix+route, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	// Signed for the URL Twilio calls (the public URL), not the listener.
	resp = post(webhooks.Sign(cfg.AuthToken, base+webhooks.PathPrefix+"/incoming", form))
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("signature for the listen address: %s, want 403", resp.Status)
	}
	resp = post(webhooks.Sign(cfg.AuthToken, cfg.PublicURL+webhooks.PathPrefix+"/incoming", form))
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	greeted := cfg.PublicURL + webhooks.PathPrefix + "/incoming?greeted=1"
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "<Say>") || !strings.Contains(string(body), greeted) {
		t.Fatalf("incoming: %s %s, want the greeting and a redirect to %s", resp.Status, body, greeted)
	}
	// Twilio follows the redirect: the call is routed (nobody is there:
	// voicemail, DIDROUTER_VOICEMAIL_AFTER's default).
	route = "/incoming?greeted=1"
	resp = post(webhooks.Sign(cfg.AuthToken, greeted, form))
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "<Record") {
		t.Fatalf("incoming, greeted: %s %s", resp.Status, body)
	}

	req, _ := http.NewRequest(http.MethodGet, base+"/v1/Workspaces", nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("API without credentials: %s", resp.Status)
	}
	req.SetBasicAuth(cfg.APIKey, cfg.APISecret)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Flex Task Assignment") {
		t.Errorf("API: %s %s", resp.Status, body)
	}
}

// An in-flight request finishes during shutdown: serve stops accepting
// but does not cut it off.
func TestServeGracefulShutdown(t *testing.T) {
	cfg := testConfig(t)
	logger := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, logger, listening) }()
	base := "http://" + <-listening
	waitReady(t, base)

	// A slow client: the request's body arrives after shutdown began.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, base+webhooks.PathPrefix+"/status", pr)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	form := url.Values{"CallSid": {"CA00000000000000000000000000000009"}, "CallStatus": {"completed"}}
	req.Header.Set("X-Twilio-Signature", webhooks.Sign(cfg.AuthToken, cfg.PublicURL+webhooks.PathPrefix+"/status", form))
	got := make(chan int, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			got <- -1
			return
		}
		resp.Body.Close()
		got <- resp.StatusCode
	}()
	time.Sleep(100 * time.Millisecond) // the request is in flight
	cancel()
	time.Sleep(100 * time.Millisecond) // shutdown has begun
	_, _ = pw.Write([]byte(form.Encode()))
	pw.Close()
	if status := <-got; status != http.StatusNoContent {
		t.Errorf("in-flight request got %d, want 204", status)
	}
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("server still accepts connections after shutdown")
	}
}

func TestRunMigrate(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	t.Setenv("DIDROUTER_DATA", filepath.Join(t.TempDir(), "m.db"))
	var out, errs bytes.Buffer
	if code := runMigrate(context.Background(), nil, nil, &out, &errs); code != 0 {
		t.Fatalf("migrate exit %d: %s", code, errs.String())
	}
	if !strings.Contains(out.String(), "up to date") {
		t.Errorf("output %q", out.String())
	}
	t.Setenv("DATABASE_URL", "mysql://nope")
	if code := runMigrate(context.Background(), nil, nil, &out, &errs); code != 2 || !strings.Contains(errs.String(), "DATABASE_URL") {
		t.Errorf("bad DATABASE_URL: exit %d, %s", code, errs.String())
	}
}
