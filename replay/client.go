package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/didrouter/didrouter/webhooks"
)

// Webhook kinds, as reported.
const (
	kindIncoming = "incoming"
	kindRoute    = "route" // the redirect back to /incoming after the greeting, where the call is routed
	kindAnswer   = "answer"
	kindDial     = "dial"
	kindWait     = "wait"
	kindDequeued = "dequeued"
	kindStatus   = "status"
	kindRedirect = "redirect"
	kindChoice   = "choice" // a key pressed at the voicemail and call-back offer
	kindRecord   = "record" // a message recorded: the <Record> action and the recording status callback
)

// maxAnswer bounds a TwiML answer read.
const maxAnswer = 1 << 20

// twilio plays Twilio's HTTP side. It signs each webhook for the public URL
// the server validates against. It sends each webhook to one of the targets
// in turn, as a load balancer that keeps no call sticky would. A delivery
// that fails in transport, times out or is answered 5xx is sent again to
// another target, up to retries times, as Twilio retries or a balancer
// tries its next upstream.
type twilio struct {
	client        *http.Client
	targets       []string // where requests go, no trailing slash
	public        string   // what signatures are computed for, no trailing slash
	token         string
	retries       int     // further attempts after a failed delivery
	duplicateRate float64 // share of webhooks delivered twice
	stats         *stats

	next atomic.Uint64 // round-robin position
}

// answer is one webhook's outcome.
type answer struct {
	verbs      []verb
	sent, done time.Time
}

// errFallback marks TwiML that says the server hit an error (its fallback).
var errFallback = errors.New("server answered its fallback TwiML (it hit an error)")

// errBusy marks TwiML that holds a new caller because the server had no
// room for the call yet.
var errBusy = errors.New("server held the caller: lines busy")

// errLastResort marks the server's apology that hangs the caller up.
var errLastResort = errors.New("server answered its last-resort apology and hung up")

// post sends one signed webhook to publicURL (a URL under the public base)
// and parses the TwiML answer. Every failure is counted under its kind.
// With the duplicate rate, the same webhook is delivered a second time to
// another target once the first is answered (Twilio re-delivers a webhook
// whose answer it did not get in time); the second answer is followed.
// A fallback TwiML that keeps the caller (the server hit an error but holds
// the call) is counted as an error and returned with errFallback, its verbs
// set so that the call can go on.
func (tw *twilio) post(ctx context.Context, kind, publicURL string, form url.Values) (answer, error) {
	a := answer{sent: time.Now()}
	path, err := tw.pathOf(publicURL)
	if err != nil {
		tw.stats.fail(kind, "foreign-url")
		a.done = time.Now()
		return a, err
	}
	body := form.Encode()
	sig := webhooks.Sign(tw.token, publicURL, form)
	deliveries := 1
	if tw.duplicateRate > 0 && rand.Float64() < tw.duplicateRate {
		deliveries = 2
		tw.stats.duplicate(kind)
	}
	var (
		status int
		raw    []byte
	)
	for d := range deliveries {
		status, raw, err = tw.deliver(ctx, kind, path, body, sig)
		if err != nil && d == 0 {
			break // nothing answered: no second delivery
		}
	}
	a.done = time.Now()
	if err != nil {
		return a, fmt.Errorf("%s: %w", kind, err)
	}
	if status < 200 || status > 299 {
		tw.stats.fail(kind, fmt.Sprintf("http-%d", status))
		return a, fmt.Errorf("%s: HTTP %d: %s", kind, status, strings.TrimSpace(string(raw)))
	}
	if a.verbs, err = parseTwiML(raw); err != nil {
		tw.stats.fail(kind, "bad-twiml")
		return a, fmt.Errorf("%s: %w", kind, err)
	}
	switch fallbackKind(a.verbs) {
	case "last-resort":
		tw.stats.fail(kind, "last-resort")
		return a, fmt.Errorf("%s: %w", kind, errLastResort)
	case "fallback":
		tw.stats.fail(kind, "fallback-twiml")
		return a, fmt.Errorf("%s: %w", kind, errFallback)
	case "busy":
		tw.stats.fail(kind, "lines-busy")
		return a, fmt.Errorf("%s: %w", kind, errBusy)
	}
	return a, nil
}

// deliver sends one delivery of a webhook, retrying on other targets; it
// returns the status and body of the answer it settled on, or the error of
// the last attempt when none answered.
func (tw *twilio) deliver(ctx context.Context, kind, path, body, sig string) (int, []byte, error) {
	n := uint64(len(tw.targets))
	first := tw.next.Add(1) - 1
	var lastErr error
	for attempt := 0; attempt <= tw.retries; attempt++ {
		if attempt > 0 && uint64(attempt)%n == 0 {
			// Every target failed once: give them a moment.
			t := time.NewTimer(time.Duration(attempt) * 100 * time.Millisecond)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				tw.stats.fail(kind, "canceled")
				return 0, nil, ctx.Err()
			}
		}
		target := tw.targets[(first+uint64(attempt))%n]
		status, raw, reason, err := tw.send(ctx, kind, target, path, body, sig)
		if reason == "" && status >= 500 {
			err = fmt.Errorf("HTTP %d from %s", status, target)
		}
		switch {
		case reason == "canceled" || reason == "bad-url":
			tw.stats.fail(kind, reason)
			return 0, nil, err
		case reason == "" && status < 500:
			return status, raw, nil
		case attempt < tw.retries:
			why := reason
			if why == "" {
				why = fmt.Sprintf("http-%d", status)
			}
			tw.stats.retry(kind, why)
			lastErr = err
			continue
		case reason == "": // a 5xx with no retry left: judged by the caller
			return status, raw, nil
		default:
			tw.stats.fail(kind, reason)
			lastErr = err
		}
	}
	return 0, nil, lastErr
}

// send is one HTTP attempt. reason is "" when an answer came (whatever its
// status), else why not: transport, timeout or canceled.
func (tw *twilio) send(ctx context.Context, kind, target, path, body, sig string) (status int, raw []byte, reason string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, "bad-url", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", sig)
	req.Header.Set("User-Agent", "TwilioProxy/1.1 (didrouter replay)")
	t0 := time.Now()
	resp, err := tw.client.Do(req)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return 0, nil, "canceled", err
		case isTimeout(err):
			return 0, nil, "timeout", err
		}
		return 0, nil, "transport", err
	}
	raw, err = io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	resp.Body.Close()
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, "canceled", err
		}
		return 0, nil, "transport", fmt.Errorf("read answer: %w", err)
	}
	tw.stats.observe(kind, time.Since(t0))
	tw.stats.answeredBy(target)
	return resp.StatusCode, raw, "", nil
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// pathOf is the part of a URL under the public base (path and query). The
// server's TwiML names its own public URLs; anything else is never
// requested, so replay only ever talks to the targets it was given.
func (tw *twilio) pathOf(publicURL string) (string, error) {
	rest, ok := strings.CutPrefix(publicURL, tw.public)
	if !ok || (rest != "" && rest[0] != '/' && rest[0] != '?') {
		return "", fmt.Errorf("the server's TwiML names %q, outside its public URL %s", publicURL, tw.public)
	}
	return rest, nil
}

// fallbackKind recognizes didrouter's apologies: "fallback" when it hit an
// error but holds the caller, "last-resort" when it hangs the caller up.
func fallbackKind(verbs []verb) string {
	for _, v := range verbs {
		if v.name() == "Say" {
			text := strings.ToLower(v.Text)
			switch {
			case strings.Contains(text, "cannot take your call right now"):
				return "last-resort"
			case strings.Contains(text, "technical problem"):
				return "fallback"
			case strings.Contains(text, "lines are busy"):
				return "busy"
			}
		}
	}
	return ""
}

// isFallback says whether an answer is any of didrouter's apologies.
func isFallback(verbs []verb) bool { return fallbackKind(verbs) != "" }

// newTransport is the shared keep-alive transport: enough idle
// connections that a burst never waits for a new TCP handshake.
func newTransport(maxConns int) *http.Transport {
	return &http.Transport{
		Proxy:               nil, // only ever the targets given
		MaxIdleConns:        maxConns,
		MaxIdleConnsPerHost: maxConns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
}
