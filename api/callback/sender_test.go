package callback_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/api/callback"
)

func post(ctx context.Context, s callback.Sender, u string, params url.Values) ([]byte, error) {
	body, _, err := s.Post(ctx, callback.To(u), params)
	return body, err
}

// Post retries a 5xx answer up to Attempts, stops at once on a 4xx
// (ErrFinal), returns a 2xx body, and with the TwilioSigner signs so that
// Twilio's validator accepts the request.
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
	s := callback.Sender{Client: srv.Client(), Clock: didrouter.SystemClock{}, Signer: callback.TwilioSigner{AuthToken: "tok"},
		Attempts: 3, RetryDelay: time.Millisecond}
	params := url.Values{"B": {"2"}, "A": {"1"}}
	ctx := context.Background()

	status.Store(http.StatusServiceUnavailable)
	if _, err := post(ctx, s, srv.URL+"/cb", params); err == nil || errors.Is(err, callback.ErrFinal) {
		t.Errorf("503: err %v, want a retryable error", err)
	}
	if n := tries.Swap(0); n != 3 {
		t.Errorf("503: %d tries, want 3", n)
	}

	status.Store(http.StatusNotFound)
	if _, err := post(ctx, s, srv.URL+"/cb", params); !errors.Is(err, callback.ErrFinal) {
		t.Errorf("404: err %v, want ErrFinal", err)
	}
	if n := tries.Swap(0); n != 1 {
		t.Errorf("404: %d tries, want 1", n)
	}

	status.Store(http.StatusOK)
	body, err := post(ctx, s, srv.URL+"/cb", params)
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

// A 307 is not followed, whatever client the Sender is given: the body and
// its signature never reach the Location, and the delivery fails for good.
func TestSenderDoesNotFollowRedirects(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	var tries atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tries.Add(1)
		http.Redirect(w, r, other.URL+"/stolen?token=abc", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	for name, client := range map[string]*http.Client{"a default client": srv.Client(), "NewClient": callback.NewClient(time.Second, nil)} {
		tries.Store(0)
		s := callback.Sender{Client: client, Signer: callback.KeySigner{Key: []byte("k")}, Attempts: 3, RetryDelay: time.Millisecond}
		_, err := post(context.Background(), s, srv.URL+"/cb", url.Values{"A": {"1"}})
		if !errors.Is(err, callback.ErrFinal) || !strings.Contains(err.Error(), "307") {
			t.Errorf("%s: err %v, want a final error naming the 307", name, err)
		}
		if strings.Contains(fmt.Sprint(err), "abc") {
			t.Errorf("%s: the error shows the Location's token: %v", name, err)
		}
		if n := tries.Load(); n != 1 {
			t.Errorf("%s: %d tries, want 1", name, n)
		}
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the redirect was followed %d times", n)
	}
}

// The target is asked before every try: a URL changed after the first try
// gets the retry, a cleared one ends the callback, and one the Policy
// refuses is never sent to.
func TestSenderReadsTargetBeforeEachTry(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		if r.URL.Path == "/old" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	s := callback.Sender{Client: srv.Client(), Attempts: 3, RetryDelay: time.Millisecond}
	current := srv.URL + "/old"
	target := func(context.Context) (string, error) {
		u := current
		current = srv.URL + "/new" // changed after the first read
		return u, nil
	}
	if _, u, err := s.Post(ctx, target, url.Values{}); err != nil || u != srv.URL+"/new" {
		t.Fatalf("changed URL: %q %v", u, err)
	}
	if got := strings.Join(paths, " "); got != "/old /new" {
		t.Errorf("requests %q, want /old then /new", got)
	}

	paths = nil
	current = srv.URL + "/old"
	cleared := func(context.Context) (string, error) {
		u := current
		current = ""
		return u, nil
	}
	if _, _, err := s.Post(ctx, cleared, url.Values{}); !errors.Is(err, callback.ErrNotWanted) || !errors.Is(err, callback.ErrFinal) {
		t.Errorf("cleared URL: %v, want ErrNotWanted", err)
	}
	if got := strings.Join(paths, " "); got != "/old" {
		t.Errorf("requests %q, want /old only", got)
	}

	paths = nil
	s.Policy = mustPolicy(t, callback.PolicyConfig{Hosts: []string{"hooks.example.com"}})
	if _, _, err := s.Post(ctx, callback.To(srv.URL+"/new"), url.Values{}); !errors.Is(err, callback.ErrRefused) || !errors.Is(err, callback.ErrFinal) {
		t.Errorf("a host off the allow-list: %v, want ErrRefused", err)
	}
	if len(paths) != 0 {
		t.Errorf("a refused URL got %d requests", len(paths))
	}
	read := errors.New("store down")
	if _, _, err := s.Post(ctx, func(context.Context) (string, error) { return "", read }, url.Values{}); !errors.Is(err, read) || !errors.Is(err, callback.ErrFinal) {
		t.Errorf("an unreadable URL: %v", err)
	}
}

// Errors name the URL without its secrets.
func TestSenderErrorsRedactTheURL(t *testing.T) {
	s := callback.Sender{Client: &http.Client{Timeout: time.Second}, Attempts: 1}
	_, err := post(context.Background(), s, "http://bob:hunter2@127.0.0.1:1/cb?token=abc&team=blue", url.Values{})
	if err == nil {
		t.Fatal("no error from a closed port")
	}
	if msg := err.Error(); strings.Contains(msg, "hunter2") || strings.Contains(msg, "abc") || !strings.Contains(msg, "team=blue") {
		t.Errorf("error %q", msg)
	}
}
