// Package callback sends the HTTP callbacks didrouter makes on TaskRouter's
// behalf (assignment callbacks, workspace event callbacks): a form POST,
// signed with X-Twilio-Signature the way Twilio signs its webhooks, tried
// again a bounded number of times when the receiver may recover.
package callback

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/didrouter/didrouter/engine"
)

// Defaults of a Sender.
const (
	DefaultAttempts   = 2
	DefaultRetryDelay = time.Second
	// maxBody bounds how much of an answer is read.
	maxBody = 64 << 10
)

// ErrFinal marks a failure that trying the same URL again will not change
// (a 4xx answer, an unusable URL, an answer the caller cannot read).
var ErrFinal = errors.New("final answer")

// Sender posts form-encoded callbacks. Client is required; its Timeout
// bounds each request.
type Sender struct {
	Client *http.Client
	Clock  engine.Clock // paces retries; nil = the system clock
	// AuthToken, when set, signs each request with X-Twilio-Signature.
	AuthToken  string
	UserAgent  string
	Attempts   int           // tries per URL on a network error or a 5xx/429 answer; 0 = 2
	RetryDelay time.Duration // pause between tries; 0 = 1 s
}

// Post sends params to u, retrying network errors and 5xx/429 answers, and
// returns the body of the 2xx answer (at most 64 KiB). A non-retryable
// failure wraps ErrFinal.
func (s Sender) Post(ctx context.Context, u string, params url.Values) ([]byte, error) {
	attempts, delay, clock := s.Attempts, s.RetryDelay, s.Clock
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	if delay <= 0 {
		delay = DefaultRetryDelay
	}
	if clock == nil {
		clock = engine.SystemClock{}
	}
	var err error
	for attempt := range attempts {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-clock.After(delay):
			}
		}
		var body []byte
		body, err = s.postOnce(ctx, u, params)
		if err == nil {
			return body, nil
		}
		if errors.Is(err, ErrFinal) || ctx.Err() != nil {
			break
		}
	}
	return nil, err
}

func (s Sender) postOnce(ctx context.Context, u string, params url.Values) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(params.Encode()))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFinal, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if s.UserAgent != "" {
		req.Header.Set("User-Agent", s.UserAgent)
	}
	if s.AuthToken != "" {
		req.Header.Set("X-Twilio-Signature", Sign(s.AuthToken, u, params))
	}
	resp, err := s.Client.Do(req)
	if err != nil {
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
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return nil, fmt.Errorf("%w: answered %s", ErrFinal, resp.Status)
	}
	return raw, nil
}

// Sign computes X-Twilio-Signature for a form POST to u: the base64
// HMAC-SHA1, keyed with the auth token, of u followed by each parameter's
// name and value in name order.
func Sign(authToken, u string, params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(u)
	for _, k := range keys {
		for _, v := range params[k] {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
