package webhooks_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/webhooks"
)

// stuckStore holds the next transaction, once armed, until release is
// closed: a database that commits slower than calls come.
type stuckStore struct {
	didrouter.Store
	armed   atomic.Bool
	stuck   chan struct{} // closed when a transaction is held
	release chan struct{}
}

func (s *stuckStore) Tx(ctx context.Context, fn func(didrouter.Tx) error) error {
	if s.armed.CompareAndSwap(true, false) {
		close(s.stuck)
		<-s.release
	}
	return s.Store.Tx(ctx, fn)
}

// With every webhook slot taken, a new call hears that the lines are busy
// at once, without a task or any write, and comes back; once a slot is
// free the call is routed to its owner as usual. After the last hold the
// caller hears the apology.
func TestNewCallHeldWhileLinesAreBusy(t *testing.T) {
	stores(t, func(t *testing.T, base didrouter.Store) {
		st := &stuckStore{Store: base, stuck: make(chan struct{}), release: make(chan struct{})}
		var releaseOnce sync.Once
		release := func() { releaseOnce.Do(func() { close(st.release) }) }
		in := newInstanceWith(t, st, newClock(), func(cfg *webhooks.Config) {
			cfg.Concurrency = 1
			cfg.NewCallWait = 2 * time.Second
		})
		t.Cleanup(release) // after the server's own clean-up: a failed test must not leave the first call stuck
		in.worker("Alice", "+15125550101", "Available")
		in.worker("Bob", "+15125550102", "Available")

		// Alice's caller takes the only slot and waits for the database.
		first := newCall("+15125550101")
		st.armed.Store(true)
		firstDone := make(chan string, 1)
		go func() { firstDone <- post(in, in.webhookURL("/incoming")+"?greeted=1", first.form()) }()
		<-st.stuck

		// Bob's caller finds no slot within NewCallWait.
		second := newCall("+15125550102")
		secondDone := make(chan string, 1)
		go func() { secondDone <- post(in, in.webhookURL("/incoming")+"?greeted=1", second.form()) }()
		held := awaitAdvancing(t, in, secondDone) // the gate's wait runs on the instance clock
		doc := parseTwiML(t, []byte(held))
		if got := strings.Join(doc.verbs(), ","); got != "Say,Pause,Redirect" {
			t.Fatalf("held caller's TwiML %v, want Say, Pause, Redirect: %s", got, held)
		}
		if say := doc.Children[0].Text; !strings.Contains(say, "lines are busy") {
			t.Errorf("held caller hears %q", say)
		}
		back := strings.TrimSpace(doc.Children[2].Text)
		if query(t, back, "busy") != "1" || query(t, back, "greeted") != "1" || !strings.Contains(back, "/incoming") {
			t.Errorf("held caller comes back to %q, want /incoming with busy=1 and greeted=1", back)
		}
		if _, err := base.TaskByCallSID(context.Background(), in.ws.SID, second.sid); didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
			t.Errorf("the held call has a task (%v): the hold must not touch the store", err)
		}

		// Past the last hold, the caller hears the apology.
		last := parseTwiML(t, []byte(postHeld(t, in, back, second, 12)))
		if got := strings.Join(last.verbs(), ","); got != "Say,Hangup" {
			t.Errorf("after the last hold: %v, want Say, Hangup", got)
		}

		// The database catches up: the first call rings Alice, and the
		// held call, back after its pause, rings Bob.
		release()
		if who, _ := dialed(t, parseTwiML(t, []byte(<-firstDone))); who != "Alice" {
			t.Errorf("first call rang %q, want Alice", who)
		}
		if who, _ := dialed(t, in.twiml(back, second.form())); who != "Bob" {
			t.Errorf("held call rang %q, want Bob", who)
		}
	})
}

// post sends a signed webhook from a goroutine and returns the body ("" on
// failure, which the test then reports).
func post(in *instance, u string, form url.Values) string {
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return ""
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", webhooks.Sign(authToken, u, form))
	resp, err := in.client.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// postHeld comes back from a hold with the given count, while the slot is
// still taken, and returns the answer.
func postHeld(t *testing.T, in *instance, back string, c call, held int) string {
	t.Helper()
	u, err := url.Parse(back)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("busy", strconv.Itoa(held))
	u.RawQuery = q.Encode()
	done := make(chan string, 1)
	go func() { done <- post(in, u.String(), c.form()) }()
	return awaitAdvancing(t, in, done)
}

// awaitAdvancing waits for an answer on done, moving the instance clock on
// meanwhile.
func awaitAdvancing(t *testing.T, in *instance, done <-chan string) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case body := <-done:
			if body == "" {
				t.Fatal("the webhook failed")
			}
			return body
		case <-time.After(10 * time.Millisecond):
			in.clock.Advance(time.Second)
		case <-deadline:
			t.Fatal("no answer within 10 s")
		}
	}
}

// A hang-up that waits at the gate longer than a TwiML webhook may wait
// still ends its task and frees the agent: Twilio does not read the
// answer, and the record matters.
func TestHangUpWaitsPastTheRequestTimeout(t *testing.T) {
	stores(t, func(t *testing.T, base didrouter.Store) {
		st := &stuckStore{Store: base, stuck: make(chan struct{}), release: make(chan struct{})}
		var releaseOnce sync.Once
		release := func() { releaseOnce.Do(func() { close(st.release) }) }
		in := newInstanceWith(t, st, newClock(), func(cfg *webhooks.Config) {
			cfg.Concurrency = 1
			cfg.RequestTimeout = 300 * time.Millisecond
		})
		t.Cleanup(release)
		alice := in.worker("Alice", "+15125550101", "Available")
		in.worker("Bob", "+15125550102", "Available")

		// Alice's caller is rung, then hangs up while another call holds
		// the only slot, stuck on the database for longer than the
		// request timeout.
		first := newCall("+15125550101")
		if who, _ := dialed(t, in.twiml(in.webhookURL("/incoming")+"?greeted=1", first.form())); who != "Alice" {
			t.Fatalf("first call rang %q, want Alice", who)
		}
		st.armed.Store(true)
		second := newCall("+15125550102")
		secondDone := make(chan string, 1)
		go func() { secondDone <- post(in, in.webhookURL("/incoming")+"?greeted=1", second.form()) }()
		<-st.stuck
		hungUp := make(chan string, 1)
		go func() { hungUp <- post(in, in.webhookURL("/status"), first.form("CallStatus", "completed")) }()
		time.Sleep(3 * 300 * time.Millisecond)
		release()
		<-hungUp
		<-secondDone

		if task := in.taskOf(first); task.AssignmentStatus != didrouter.TaskCanceled {
			t.Errorf("the hung-up call's task is %s, want canceled", task.AssignmentStatus)
		}
		if w := in.workerRow(alice); w.Busy != 0 {
			t.Errorf("Alice is still busy (%d) after her caller hung up", w.Busy)
		}
	})
}
