package webhooks_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/routing"
	"github.com/didrouter/didrouter/store/storetest"
	"github.com/didrouter/didrouter/webhooks"
)

// wantRefused checks a clean refusal: a 400 that is not TwiML (no
// apology, no retry redirect).
func wantRefused(t *testing.T, what string, resp *http.Response, body []byte) {
	t.Helper()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("%s: %s %s, want 400", what, resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/xml") || bytes.Contains(body, []byte("<Response")) {
		t.Fatalf("%s: answered TwiML (%s): %s", what, ct, body)
	}
}

// allTasks lists the workspace's tasks.
func (in *instance) allTasks() []didrouter.Task {
	in.t.Helper()
	all, err := in.store.ListTasks(context.Background(), in.ws.SID, didrouter.TaskFilter{Page: didrouter.Page{Size: 1000}})
	if err != nil {
		in.t.Fatal(err)
	}
	return all
}

// An event callback signed with the auth token and pointed at didrouter's
// own /incoming, its URL carrying a call's parameters (issue 16): the call
// parameters are read from the body only, so it creates no task; and a
// real call whose URL carries another call's parameters is the body's call.
func TestForgedCallbackCreatesNoCall(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := newInstance(t, st, newClock())
		alice := in.worker("alice", aliceDID, "Available")
		in.worker("bob", bobDID, "Available")
		forged := newCall(aliceDID)
		u := in.webhookURL("/incoming") + "?" + url.Values{
			"greeted": {"1"}, "CallSid": {forged.sid}, "From": {forged.from}, "To": {aliceDID}, "CallStatus": {"ringing"},
		}.Encode()
		// What api/eventcallback posts: TaskRouter's event parameters.
		event := url.Values{
			"EventType": {"worker.activity.update"}, "EventDescription": {"Worker alice updated to Available Activity"},
			"ResourceType": {"Worker"}, "ResourceSid": {alice}, "Timestamp": {"1741000000"},
			"AccountSid": {"AC00000000000000000000000000000000"}, "WorkspaceSid": {in.ws.SID}, "WorkspaceName": {in.ws.FriendlyName},
			"WorkerSid": {alice}, "WorkerName": {"alice"},
		}
		resp, body := in.twilio(u, event)
		wantRefused(t, "a signed event callback at /incoming", resp, body)
		if n := len(in.tasksOfCall(forged.sid)); n != 0 {
			t.Fatalf("the forged call got %d tasks", n)
		}
		if w := in.workerRow(alice); w.Busy != 0 {
			t.Fatalf("alice busy %d after a forged call", w.Busy)
		}

		// The same URL with a real call in the body: routed as the body says.
		real := newCall(bobDID)
		if who, _ := dialed(t, in.twiml(u, real.form())); who != "bob" {
			t.Fatalf("rang %q, want bob (the body's To)", who)
		}
		if n := len(in.tasksOfCall(forged.sid)); n != 0 {
			t.Fatalf("the query's CallSid got %d tasks", n)
		}
		in.taskOf(real)
		if n := len(in.allTasks()); n != 1 {
			t.Fatalf("%d tasks, want the real call's one", n)
		}
	})
}

// Sids are checked before anything is done with them: a request whose
// sid is not Twilio's shape, or whose didrouter parameters are not what
// didrouter writes, is refused with a 400 (no TwiML, so no apology and
// no retry) and creates nothing, rings nobody.
func TestBadSidsAreRefused(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := newInstance(t, st, newClock())
		alice := in.worker("alice", aliceDID, "Available")
		incoming := in.webhookURL("/incoming") + "?greeted=1"

		// The replay: Twilio's signature joins keys and values, so
		// a captured request re-sent with CallStatus folded into CallSid
		// keeps its signature.
		captured := newCall(aliceDID)
		original := url.Values{"CallSid": {captured.sid}, "CallStatus": {"ringing"}, "From": {captured.from}, "To": {aliceDID}}
		sig := signFor(incoming, original)
		replayed := url.Values{"CallSid": {captured.sid + "CallStatusringing"}, "From": {captured.from}, "To": {aliceDID}}
		if signFor(incoming, replayed) != sig {
			t.Fatal("the replayed form does not keep the signature: the test is wrong")
		}
		req, _ := http.NewRequest(http.MethodPost, incoming, strings.NewReader(replayed.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", sig)
		resp, body := in.do(req)
		wantRefused(t, "CallSid with CallStatus folded in", resp, body)

		for _, tc := range []struct {
			name  string
			route string
			form  url.Values
		}{
			{"NUL in CallSid", incoming, newCall(aliceDID).form("CallSid", "CA"+strings.Repeat("0", 31)+"\x00")},
			{"NUL after a CallSid", incoming, newCall(aliceDID).form("CallSid", newCall(aliceDID).sid+"\x00")},
			{"short CallSid", incoming, newCall(aliceDID).form("CallSid", "CA123")},
			{"not hex", incoming, newCall(aliceDID).form("CallSid", "CA"+strings.Repeat("z", 32))},
			{"missing CallSid", incoming, newCall(aliceDID).form("CallSid", "")},
			{"AccountSid", incoming, newCall(aliceDID).form("AccountSid", "AC1")},
			{"RecordingSid", incoming, newCall(aliceDID).form("RecordingSid", "RE"+strings.Repeat("0", 33))},
			{"ParentCallSid", in.webhookURL("/answer") + "?task=WT" + strings.Repeat("0", 32) + "&reservation=WR" + strings.Repeat("0", 32),
				newCall(aliceDID).form("ParentCallSid", "CAparent")},
			{"task", in.webhookURL("/dial") + "?task=WTnotatask", newCall(aliceDID).form("DialCallStatus", "completed")},
			{"reservation", in.webhookURL("/dial") + "?task=WT" + strings.Repeat("0", 32) + "&reservation=WR%00", newCall(aliceDID).form()},
			{"ws", in.webhookURL("/incoming") + "?ws=WSx", newCall(aliceDID).form()},
			{"greeted", in.webhookURL("/incoming") + "?greeted=yes", newCall(aliceDID).form()},
			{"attempt", in.webhookURL("/incoming") + "?attempt=-1", newCall(aliceDID).form()},
			{"dial_status", in.webhookURL("/dial") + "?task=WT" + strings.Repeat("0", 32) + "&dial_status=done", newCall(aliceDID).form()},
			{"task twice", in.webhookURL("/wait") + "?task=WT" + strings.Repeat("0", 32) + "&task=WT" + strings.Repeat("1", 32), newCall(aliceDID).form()},
			{"status callback", in.webhookURL("/status"), newCall(aliceDID).form("CallSid", "CA\x00", "CallStatus", "completed")},
			{"outbound", in.webhookURL("/outbound"), outboundForm("CA"+strings.Repeat("0", 28)+"cdefCallStatusringing", "alice", "+16175551212")},
		} {
			resp, body := in.twilio(tc.route, tc.form)
			wantRefused(t, tc.name, resp, body)
		}

		// A GET carries Twilio's parameters in its query: one given twice
		// (the URL's own and Twilio's) is refused.
		c := newCall(aliceDID)
		u := in.webhookURL("/incoming") + "?CallSid=" + newCall(aliceDID).sid + "&" + c.form().Encode()
		req, _ = http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("X-Twilio-Signature", signFor(u, nil))
		resp, body = in.do(req)
		wantRefused(t, "GET with CallSid twice", resp, body)

		if tasks := in.allTasks(); len(tasks) != 0 {
			t.Fatalf("refused requests created %d tasks: %+v", len(tasks), tasks)
		}
		if w := in.workerRow(alice); w.Busy != 0 {
			t.Fatalf("alice busy %d after refused requests", w.Busy)
		}
		// And a good call still rings alice.
		if who, _ := dialed(t, in.incoming(newCall(aliceDID))); who != "alice" {
			t.Fatalf("rang %q", who)
		}
	})
}

// syncBuffer is a log sink for concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Unverified input reaches the log bounded: an unsigned request with a
// 65 KB CallSid, or a 60 KB path, logs under 1 KB; so does a signed one
// refused for its CallSid's shape.
func TestUnverifiedInputIsClippedInLogs(t *testing.T) {
	t.Parallel()
	st := storetest.SQLite(t) // every request here is refused before the store is read
	clock := newClock()
	ws, err := engine.Seed(context.Background(), st, clock)
	if err != nil {
		t.Fatal(err)
	}
	norm, err := routing.NewNormalizer("US")
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{Store: st, Clock: clock, Normalizer: norm, InstanceID: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	wh, err := webhooks.NewHandler(webhooks.Config{
		Engine: eng, Store: st, Normalizer: norm, Clock: clock,
		Logger:    slog.New(slog.NewJSONHandler(&logs, nil)),
		PublicURL: "https://calls.example.com", AuthToken: authToken, WorkspaceSID: ws.SID,
	})
	if err != nil {
		t.Fatal(err)
	}
	huge := "CA" + strings.Repeat("0", 65000)
	send := func(method, path string, form url.Values, sign bool) int {
		req := httptest.NewRequest(method, "https://calls.example.com"+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if sign {
			req.Header.Set("X-Twilio-Signature", webhooks.Sign(authToken, "https://calls.example.com"+path, form))
		}
		rec := httptest.NewRecorder()
		wh.ServeHTTP(rec, req)
		return rec.Code
	}
	for _, tc := range []struct {
		name   string
		path   string
		form   url.Values
		signed bool
		code   int
	}{
		{"unsigned, 65 KB CallSid", webhooks.PathPrefix + "/incoming", url.Values{"CallSid": {huge}}, false, http.StatusForbidden},
		{"unsigned, 60 KB path", webhooks.PathPrefix + "/incoming/" + strings.Repeat("p", 60000), url.Values{"CallSid": {"CA1"}}, false, http.StatusForbidden},
		{"signed, 65 KB CallSid", webhooks.PathPrefix + "/status", url.Values{"CallSid": {huge}}, true, http.StatusBadRequest},
		{"malformed form", webhooks.PathPrefix + "/incoming?" + strings.Repeat("%zz", 20000), nil, false, http.StatusBadRequest},
	} {
		before := len(logs.String())
		if code := send(http.MethodPost, tc.path, tc.form, tc.signed); code != tc.code {
			t.Errorf("%s: %d, want %d", tc.name, code, tc.code)
		}
		logged := logs.String()[before:]
		if len(logged) == 0 || len(logged) > 1024 {
			t.Errorf("%s: logged %d bytes, want some, under 1 KB:\n%.2000s", tc.name, len(logged), logged)
		}
	}
}
