package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/didrouter/didrouter/webhooks"
)

// Webhook kinds, as reported.
const (
	kindIncoming = "incoming"
	kindAnswer   = "answer"
	kindDial     = "dial"
	kindWait     = "wait"
	kindDequeued = "dequeued"
	kindStatus   = "status"
	kindRedirect = "redirect"
)

// maxAnswer bounds a TwiML answer read.
const maxAnswer = 1 << 20

// twilio plays Twilio's HTTP side: it signs each webhook for the public URL
// the server validates against and sends it to the target.
type twilio struct {
	client *http.Client
	target string // where requests go, no trailing slash
	public string // what signatures are computed for, no trailing slash
	token  string
	stats  *stats
}

// answer is one webhook's outcome.
type answer struct {
	verbs      []verb
	sent, done time.Time
}

// errFallback marks TwiML that says the server hit an error (its fallback).
var errFallback = errors.New("server answered its fallback TwiML (it hit an error)")

// post sends one signed webhook to publicURL (a URL under the public base)
// and parses the TwiML answer. Every failure is counted under its kind.
func (tw *twilio) post(ctx context.Context, kind, publicURL string, form url.Values) (answer, error) {
	a := answer{sent: time.Now()}
	target, err := tw.targetOf(publicURL)
	if err != nil {
		tw.stats.fail(kind, "foreign-url")
		a.done = time.Now()
		return a, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		tw.stats.fail(kind, "bad-url")
		a.done = time.Now()
		return a, fmt.Errorf("%s: %w", kind, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", webhooks.Sign(tw.token, publicURL, form))
	req.Header.Set("User-Agent", "TwilioProxy/1.1 (didrouter replay)")
	resp, err := tw.client.Do(req)
	if err != nil {
		a.done = time.Now()
		if ctx.Err() != nil {
			tw.stats.fail(kind, "canceled")
		} else {
			tw.stats.fail(kind, "transport")
		}
		return a, fmt.Errorf("%s: %w", kind, err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	resp.Body.Close()
	a.done = time.Now()
	tw.stats.observe(kind, a.done.Sub(a.sent))
	if err != nil {
		tw.stats.fail(kind, "transport")
		return a, fmt.Errorf("%s: read answer: %w", kind, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		tw.stats.fail(kind, fmt.Sprintf("http-%d", resp.StatusCode))
		return a, fmt.Errorf("%s: %s: %s", kind, resp.Status, strings.TrimSpace(string(body)))
	}
	if a.verbs, err = parseTwiML(body); err != nil {
		tw.stats.fail(kind, "bad-twiml")
		return a, fmt.Errorf("%s: %w", kind, err)
	}
	if isFallback(a.verbs) {
		tw.stats.fail(kind, "fallback-twiml")
		return a, fmt.Errorf("%s: %w", kind, errFallback)
	}
	return a, nil
}

// targetOf maps a URL under the public base onto the target. The server's
// TwiML names its own public URLs; anything else is never requested, so
// replay only ever talks to the target it was given.
func (tw *twilio) targetOf(publicURL string) (string, error) {
	rest, ok := strings.CutPrefix(publicURL, tw.public)
	if !ok || (rest != "" && rest[0] != '/' && rest[0] != '?') {
		return "", fmt.Errorf("the server's TwiML names %q, outside its public URL %s", publicURL, tw.public)
	}
	return tw.target + rest, nil
}

// isFallback recognizes didrouter's apologies: its fallback TwiML when a
// webhook failed inside the server.
func isFallback(verbs []verb) bool {
	for _, v := range verbs {
		if v.name() == "Say" {
			text := strings.ToLower(v.Text)
			if strings.Contains(text, "technical problem") || strings.Contains(text, "cannot take your call right now") {
				return true
			}
		}
	}
	return false
}

// newTransport is the shared keep-alive transport: enough idle
// connections that a burst never waits for a new TCP handshake.
func newTransport(maxConns int) *http.Transport {
	return &http.Transport{
		Proxy:               nil, // only ever the target given
		MaxIdleConns:        maxConns,
		MaxIdleConnsPerHost: maxConns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
}
