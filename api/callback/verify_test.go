package callback_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/api/callback"
)

// verifyDidrouterCallback is how a receiver checks a callback signed with
// DIDROUTER_CALLBACK_SIGNING_KEY: docs/callbacks.md shows this function,
// and the test below proves it against the Sender. callbackURL is the URL
// exactly as configured in didrouter, not as the receiver sees it behind
// a proxy.
func verifyDidrouterCallback(key []byte, callbackURL string, r *http.Request, now time.Time) (url.Values, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	ts := r.Header.Get("X-Didrouter-Timestamp")
	sent, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, errors.New("no X-Didrouter-Timestamp")
	}
	// A signature older (or newer) than five minutes is a replay.
	if age := now.Sub(time.Unix(sent, 0)); age > 5*time.Minute || age < -5*time.Minute {
		return nil, errors.New("X-Didrouter-Timestamp is too far from now")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(ts + "\n" + callbackURL + "\n"))
	mac.Write(body)
	want := "v1=" + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(r.Header.Get("X-Didrouter-Signature"))) {
		return nil, errors.New("bad X-Didrouter-Signature")
	}
	return url.ParseQuery(string(body))
}

// A KeySigner's callback passes the receiver's check with the right key,
// URL and time, and fails with another key, another URL, a changed body or
// a timestamp outside five minutes. It carries no X-Twilio-Signature.
func TestKeySignerVerifies(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	sentAt := time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)
	type seen struct {
		header http.Header
		body   string
	}
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Header.Clone(), string(b)}
	}))
	defer srv.Close()
	s := callback.Sender{Client: srv.Client(), Clock: didrouter.NewFakeClock(sentAt), Signer: callback.KeySigner{Key: key}, Attempts: 1}
	u := srv.URL + "/events?team=blue"
	if _, err := post(context.Background(), s, u, url.Values{"EventType": {"task.created"}, "TaskSid": {"WT1"}}); err != nil {
		t.Fatal(err)
	}
	req := <-got
	if req.header.Get("X-Twilio-Signature") != "" {
		t.Error("a key-signed callback carries X-Twilio-Signature")
	}
	if ts := req.header.Get(callback.HeaderTimestamp); ts != strconv.FormatInt(sentAt.Unix(), 10) {
		t.Errorf("timestamp %q", ts)
	}
	check := func(key []byte, u, body string, now time.Time) error {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		r.Header = req.header.Clone()
		form, err := verifyDidrouterCallback(key, u, r, now)
		if err == nil && form.Get("TaskSid") != "WT1" {
			t.Errorf("form %v", form)
		}
		return err
	}
	if err := check(key, u, req.body, sentAt.Add(4*time.Minute)); err != nil {
		t.Fatalf("the receiver's check: %v", err)
	}
	for name, err := range map[string]error{
		"another key":    check([]byte("another key, just as long 012345"), u, req.body, sentAt),
		"another URL":    check(key, srv.URL+"/events?team=red", req.body, sentAt),
		"a changed body": check(key, u, req.body+"&WorkerSid=WK1", sentAt),
		"six minutes on": check(key, u, req.body, sentAt.Add(6*time.Minute)),
	} {
		if err == nil {
			t.Errorf("%s: the check passed", name)
		}
	}
	if sig := req.header.Get(callback.HeaderSignature); sig != "v1="+callback.KeySignature(key, req.header.Get(callback.HeaderTimestamp), u, []byte(req.body)) {
		t.Errorf("signature %q differs from KeySignature", sig)
	}
}
