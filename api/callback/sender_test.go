package callback_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"

	"github.com/didrouter/didrouter/api/callback"
	"github.com/didrouter/didrouter/engine"
)

// Post retries a 5xx answer up to Attempts, stops at once on a 4xx
// (ErrFinal), returns a 2xx body, and signs so that Twilio's validator
// accepts the request.
func TestSenderPost(t *testing.T) {
	var tries atomic.Int32
	status := atomic.Int32{}
	var lastSig atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tries.Add(1)
		_, _ = io.ReadAll(r.Body)
		lastSig.Store(r.Header.Get("X-Twilio-Signature"))
		w.WriteHeader(int(status.Load()))
		_, _ = w.Write([]byte("body"))
	}))
	defer srv.Close()
	s := callback.Sender{Client: srv.Client(), Clock: engine.SystemClock{}, AuthToken: "tok",
		Attempts: 3, RetryDelay: time.Millisecond}
	params := url.Values{"B": {"2"}, "A": {"1"}}
	ctx := context.Background()

	status.Store(http.StatusServiceUnavailable)
	if _, err := s.Post(ctx, srv.URL+"/cb", params); err == nil || errors.Is(err, callback.ErrFinal) {
		t.Errorf("503: err %v, want a retryable error", err)
	}
	if n := tries.Swap(0); n != 3 {
		t.Errorf("503: %d tries, want 3", n)
	}

	status.Store(http.StatusNotFound)
	if _, err := s.Post(ctx, srv.URL+"/cb", params); !errors.Is(err, callback.ErrFinal) {
		t.Errorf("404: err %v, want ErrFinal", err)
	}
	if n := tries.Swap(0); n != 1 {
		t.Errorf("404: %d tries, want 1", n)
	}

	status.Store(http.StatusOK)
	body, err := s.Post(ctx, srv.URL+"/cb", params)
	if err != nil || string(body) != "body" || tries.Load() != 1 {
		t.Errorf("200: %q %v after %d tries", body, err, tries.Load())
	}
	sig, _ := lastSig.Load().(string)
	v := client.NewRequestValidator("tok")
	if !v.Validate(srv.URL+"/cb", map[string]string{"A": "1", "B": "2"}, sig) {
		t.Errorf("signature %q does not validate", sig)
	}
	if sig != callback.Sign("tok", srv.URL+"/cb", params) {
		t.Errorf("signature %q differs from Sign", sig)
	}
}
