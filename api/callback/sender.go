// Package callback sends the HTTP callbacks didrouter makes on TaskRouter's
// behalf, the assignment callbacks and the workspace event callbacks. Each
// is a form POST signed by a Signer, to a URL a Policy allows. The URL is
// read again before every try, and a bounded number of tries are made when
// the receiver may recover. Redirects are never followed.
package callback

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/didrouter/didrouter"
)

// Defaults of a Sender.
const (
	DefaultAttempts   = 2
	DefaultRetryDelay = time.Second
	// maxBody bounds how much of an answer is read.
	maxBody = 64 << 10
)

// ErrFinal marks a failure that trying the same URL again will not change
// (a 4xx or 3xx answer, an unusable or refused URL, an answer the caller
// cannot read).
var ErrFinal = errors.New("final answer")

// ErrNotWanted marks a callback whose URL was cleared, or that its
// receiver no longer wants, after it was queued: it is not sent.
var ErrNotWanted = errors.New("the callback URL was cleared or no longer takes this callback")

// Target says where a callback goes now. It is asked before every try, so
// that a callback queued before its URL was cleared or changed follows
// the change; "" means it is no longer wanted.
type Target func(ctx context.Context) (string, error)

// To is the Target of a URL that does not change.
func To(u string) Target { return func(context.Context) (string, error) { return u, nil } }

// Settings are what the assignment and the event dispatcher share: how
// they send, sign and retry. Client is required; its Timeout bounds each
// request (NewClient makes the one to use).
type Settings struct {
	Client *http.Client
	Clock  didrouter.Clock // paces retries and dates signatures; nil = the system clock
	Logger *slog.Logger

	AccountSID string // the AccountSid parameter
	// Signer signs each request (KeySigner, or TwilioSigner for receivers
	// that validate Twilio's signature); nil = unsigned.
	Signer Signer
	// Policy refuses URLs at send time (didrouter itself, hosts off the
	// allow-list), as the API does when they are set; nil = any http(s) URL.
	Policy *Policy

	Attempts   int           // tries per URL on a network error or a 5xx/429 answer; 0 = 2
	RetryDelay time.Duration // pause between tries; 0 = 1 s
}

// Sender is the Sender these settings describe.
func (s Settings) Sender(userAgent string) Sender {
	return Sender{Client: s.Client, Clock: s.Clock, Signer: s.Signer, Policy: s.Policy,
		UserAgent: userAgent, Attempts: s.Attempts, RetryDelay: s.RetryDelay}
}

// Sender posts form-encoded callbacks. Client is required; its Timeout
// bounds each request (NewClient makes the one to use).
type Sender struct {
	Client *http.Client
	Clock  didrouter.Clock // paces retries and dates signatures; nil = the system clock
	// Signer signs each request; nil = unsigned.
	Signer Signer
	// Policy is checked before every try; nil = any absolute http(s) URL.
	Policy     *Policy
	UserAgent  string
	Attempts   int           // tries per URL on a network error or a 5xx/429 answer; 0 = 2
	RetryDelay time.Duration // pause between tries; 0 = 1 s
}

// Post sends params to the URL target names, retrying network errors and
// 5xx/429 answers, and returns the body of the 2xx answer (at most 64 KiB)
// and the URL last tried. A non-retryable failure wraps ErrFinal, and
// ErrRefused or ErrNotWanted when that is why nothing was sent.
func (s Sender) Post(ctx context.Context, target Target, params url.Values) ([]byte, string, error) {
	attempts, delay, clock := s.Attempts, s.RetryDelay, s.Clock
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	if delay <= 0 {
		delay = DefaultRetryDelay
	}
	if clock == nil {
		clock = didrouter.SystemClock{}
	}
	var (
		u   string
		err error
	)
	for attempt := range attempts {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, u, ctx.Err()
			case <-clock.After(delay):
			}
		}
		if u, err = target(ctx); err != nil {
			return nil, u, fmt.Errorf("%w: read the callback URL: %w", ErrFinal, err)
		}
		if u == "" {
			return nil, u, fmt.Errorf("%w: %w", ErrFinal, ErrNotWanted)
		}
		if err = s.Policy.Check(u); err != nil {
			return nil, u, fmt.Errorf("%w: %w", ErrFinal, err)
		}
		var body []byte
		body, err = s.postOnce(ctx, u, params, clock.Now())
		if err == nil {
			return body, u, nil
		}
		if errors.Is(err, ErrFinal) || ctx.Err() != nil {
			break
		}
	}
	return nil, u, err
}

func (s Sender) postOnce(ctx context.Context, u string, params url.Values, now time.Time) ([]byte, error) {
	body := params.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: the URL cannot be requested", ErrFinal)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if s.UserAgent != "" {
		req.Header.Set("User-Agent", s.UserAgent)
	}
	if s.Signer != nil {
		s.Signer.SignRequest(req.Header, u, params, []byte(body), now)
	}
	// Whatever client the caller gave, a redirect is the answer, not a
	// second POST of the body and its signature elsewhere.
	client := *s.Client
	client.CheckRedirect = refuseRedirect
	resp, err := client.Do(req)
	if err != nil {
		// The error names the URL: keep its secrets out of the logs.
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = Redact(u)
		}
		if errors.Is(err, ErrRefused) {
			return nil, fmt.Errorf("%w: %w", ErrFinal, err)
		}
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("read the answer: %w", err)
	}
	switch {
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return nil, fmt.Errorf("answered %s", resp.Status)
	case resp.StatusCode >= 300 && resp.StatusCode <= 399:
		return nil, fmt.Errorf("%w: answered %s (Location %q): callbacks do not follow redirects, configure the final URL",
			ErrFinal, resp.Status, Redact(resp.Header.Get("Location")))
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return nil, fmt.Errorf("%w: answered %s", ErrFinal, resp.Status)
	}
	return raw, nil
}
