package numbers

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/didrouter/didrouter"
)

// maxRetryWait caps a Retry-After that Twilio sends.
const maxRetryWait = 30 * time.Second

// transport sends twilio-go's requests: it points them at target when set,
// binds them to ctx, and resends those answered 429.
type transport struct {
	ctx     context.Context
	target  *url.URL
	next    http.RoundTripper
	retries int
	delay   time.Duration
	clock   didrouter.Clock
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	// Both the http.Client's timeout (in req's context) and the caller's
	// context end the request.
	ctx, cancel := context.WithCancel(req.Context())
	stop := context.AfterFunc(t.ctx, cancel)
	done := func() { stop(); cancel() }

	out := req.Clone(ctx)
	if t.target != nil {
		out.URL.Scheme, out.URL.Host = t.target.Scheme, t.target.Host
		out.Host = ""
	}
	delay := t.delay
	for attempt := 0; ; attempt++ {
		resp, err := t.next.RoundTrip(out)
		if err != nil {
			done()
			return nil, err
		}
		if resp.StatusCode != http.StatusTooManyRequests || attempt >= t.retries || !rewindable(out) {
			resp.Body = &releasingBody{ReadCloser: resp.Body, release: done}
			return resp, nil
		}
		wait := retryAfter(resp, delay)
		delay *= 2
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		select {
		case <-ctx.Done():
			done()
			return nil, ctx.Err()
		case <-t.clock.After(wait):
		}
		if out.GetBody != nil {
			body, err := out.GetBody()
			if err != nil {
				done()
				return nil, err
			}
			out = out.Clone(ctx)
			out.Body = body
		}
	}
}

// rewindable reports whether req can be sent again: no body, or one
// GetBody can produce anew.
func rewindable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// retryAfter returns how long Twilio asks to wait (seconds), else def.
func retryAfter(resp *http.Response, def time.Duration) time.Duration {
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
		return min(time.Duration(s)*time.Second, maxRetryWait)
	}
	return def
}

// releasingBody frees the request's context once the body is closed (the
// body is read under that context).
type releasingBody struct {
	io.ReadCloser
	release func()
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.release()
	return err
}
