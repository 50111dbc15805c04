package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/didrouter/didrouter/webhooks"
)

// SIGTERM (here: the serve context ending) drains: /readyz fails at once,
// requests keep being answered during the drain delay, a request in flight
// is answered, no new connection is accepted afterwards, and serve returns
// nil in bounded time.
func TestServeDrains(t *testing.T) {
	cfg := testConfig(t)
	cfg.DataPath = filepath.Join(t.TempDir(), "drain.db")
	cfg.DrainDelay = 400 * time.Millisecond
	cfg.Shutdown = 5 * time.Second
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	listening := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, logger, listening) }()
	var addr string
	select {
	case addr = <-listening:
	case err := <-done:
		t.Fatalf("serve stopped at once: %v\n%s", err, logs)
	}
	base := "http://" + addr
	waitReady(t, base)

	// A webhook whose body is still on its way when the signal comes.
	form := url.Values{"CallSid": {"CA000000000000000000000000000d7a1e"}, "From": {"+17375550100"}, "To": {"+15125550101"}}
	body := form.Encode()
	sig := webhooks.Sign(cfg.AuthToken, cfg.PublicURL+webhooks.PathPrefix+"/incoming", form)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST %s/incoming HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\n"+
		"X-Twilio-Signature: %s\r\nContent-Length: %d\r\n\r\n%s", webhooks.PathPrefix, addr, sig, len(body), body[:10])
	time.Sleep(200 * time.Millisecond) // the server has read the head

	signaled := time.Now()
	cancel()
	// During the drain delay: not ready, but still answering.
	time.Sleep(100 * time.Millisecond)
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatalf("/readyz during the drain delay: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "draining") {
		t.Errorf("/readyz while draining: %s %s, want 503 draining", resp.Status, b)
	}

	// The request in flight is answered after the listener closed.
	time.Sleep(cfg.DrainDelay)
	if _, err := io.WriteString(conn, body[10:]); err != nil {
		t.Fatalf("finish the request in flight: %v", err)
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	answer, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the request in flight was not answered: %v\n%s", err, logs)
	}
	twiml, _ := io.ReadAll(answer.Body)
	answer.Body.Close()
	if answer.StatusCode != http.StatusOK || !strings.Contains(string(twiml), "<Response>") {
		t.Fatalf("request in flight: %s %s", answer.Status, twiml)
	}

	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve after the signal: %v\n%s", err, logs)
		}
	case <-time.After(cfg.DrainDelay + cfg.Shutdown + engineStopTimeout + 5*time.Second):
		t.Fatalf("serve did not return after the signal\n%s", logs)
	}
	t.Logf("drained in %s", time.Since(signaled).Round(time.Millisecond))
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("the listener still accepts connections after serve returned")
	}
	if !strings.Contains(logs.String(), "didrouter stopped") {
		t.Errorf("no stop logged:\n%s", logs)
	}
}
