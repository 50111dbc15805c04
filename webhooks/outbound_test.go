package webhooks_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/api"
	"github.com/didrouter/didrouter/dialpolicy"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/routing"
	"github.com/didrouter/didrouter/webhooks"
)

const mainLine = "+15125550100"

// newOutboundInstance is newInstance with a default caller ID ("" = none).
func newOutboundInstance(t *testing.T, st didrouter.Store, defaultCallerID string) *instance {
	t.Helper()
	return newOutboundInstanceWith(t, st, defaultCallerID, dialpolicy.Config{})
}

// newOutboundInstanceWith is newOutboundInstance with a dial policy (its
// Normalizer is the instance's).
func newOutboundInstanceWith(t *testing.T, st didrouter.Store, defaultCallerID string, policy dialpolicy.Config) *instance {
	t.Helper()
	ctx := context.Background()
	clock := newClock()
	ws, err := engine.Seed(ctx, st, clock)
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	norm, err := routing.NewNormalizer("US")
	if err != nil {
		t.Fatal(err)
	}
	logger := testLogger(t)
	eng, err := engine.New(engine.Config{Store: st, Clock: clock, Logger: logger, Normalizer: norm, InstanceID: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	policy.Normalizer = norm
	dp, err := dialpolicy.New(policy)
	if err != nil {
		t.Fatal(err)
	}
	wh, err := webhooks.NewHandler(webhooks.Config{
		Engine: eng, Store: st, Normalizer: norm, Clock: clock, Logger: logger,
		PublicURL: srv.URL, AuthToken: authToken, WorkspaceSID: ws.SID, WaitPause: 2 * time.Second,
		DefaultCallerID: defaultCallerID, DialPolicy: dp,
	})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := api.NewHandler(api.Config{Engine: eng, Store: st, Clock: clock, Logger: logger, APIKey: apiKey, APISecret: apiSecret})
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	wh.Mount(r)
	admin.Mount(r)
	handler = r
	return &instance{t: t, store: st, clock: clock, eng: eng, ws: ws, srv: srv, client: srv.Client()}
}

// outboundCall is a softphone's call through the TwiML App.
func outboundForm(callSID, identity, to string) url.Values {
	return url.Values{
		"AccountSid":     {"AC00000000000000000000000000000000"},
		"ApplicationSid": {"AP00000000000000000000000000000000"},
		"CallSid":        {callSID},
		"From":           {"client:" + identity},
		"Caller":         {"client:" + identity},
		"To":             {to},
		"Direction":      {"inbound"},
		"CallStatus":     {"ringing"},
		"ApiVersion":     {"2010-04-01"},
	}
}

func newOutboundSID() string { return fmt.Sprintf("CA%032x", callCounter.Add(1)) }

// tasksOfCall counts the tasks recorded for a CallSid.
func (in *instance) tasksOfCall(callSID string) []didrouter.Task {
	in.t.Helper()
	all, err := in.store.ListTasks(context.Background(), in.ws.SID, didrouter.TaskFilter{Page: didrouter.Page{Size: 1000}})
	if err != nil {
		in.t.Fatal(err)
	}
	var out []didrouter.Task
	for _, t := range all {
		if t.CallSID == callSID {
			out = append(out, t)
		}
	}
	return out
}

// wantSpoken checks that doc says something containing want and hangs up,
// and returns what it says.
func wantSpoken(t *testing.T, doc node, want string) {
	t.Helper()
	if got := doc.verbs(); len(got) != 2 || got[0] != "Say" || got[1] != "Hangup" {
		t.Fatalf("verbs %v, want [Say Hangup]", got)
	}
	if said := doc.only(t, "Say").Text; !strings.Contains(said, want) {
		t.Fatalf("said %q, want %q", said, want)
	}
}

// outboundDial checks that doc dials one number and returns the <Dial>.
func outboundDial(t *testing.T, doc node) (number string, dial node) {
	t.Helper()
	d := doc.only(t, "Dial")
	if len(d.Children) != 1 || d.Children[0].name() != "Number" {
		t.Fatalf("<Dial> rings %v, want one <Number>", d.verbs())
	}
	return strings.TrimSpace(d.Children[0].Text), d
}

// An agent with a DID calls out with it as caller ID; the call is one
// task assigned to the agent (however often Twilio asks), which completes
// when the dialed leg ends.
func TestOutboundWithDID(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := newOutboundInstance(t, st, mainLine)
		alice := in.worker("alice", "(512) 555-0101", "Available")
		in.worker("bob", bobDID, "Available")
		sid := newOutboundSID()
		form := outboundForm(sid, "alice", "(617) 555-1212")

		doc := in.twiml(in.webhookURL("/outbound"), form)
		number, dial := outboundDial(t, doc)
		if number != "+16175551212" {
			t.Errorf("dials %q, want E.164 +16175551212", number)
		}
		if dial.attr("callerId") != aliceDID {
			t.Errorf("callerId %q, want alice's DID %s", dial.attr("callerId"), aliceDID)
		}
		if doc.has("Say") {
			t.Errorf("verbs %v: nothing to say on a good call", doc.verbs())
		}
		tasks := in.tasksOfCall(sid)
		if len(tasks) != 1 {
			t.Fatalf("%d tasks for the call, want 1", len(tasks))
		}
		task := tasks[0]
		var attrs map[string]string
		mustJSON(t, task.Attributes, &attrs)
		want := map[string]string{"type": "outbound", "direction": "outbound", "from": aliceDID, "to": "+16175551212",
			"worker_sid": alice, "call_sid": sid}
		for k, v := range want {
			if attrs[k] != v {
				t.Errorf("task attribute %s = %q, want %q", k, attrs[k], v)
			}
		}
		if task.AssignmentStatus != didrouter.TaskAssigned {
			t.Fatalf("task %s, want assigned", task.AssignmentStatus)
		}
		if action := dial.attr("action"); query(t, action, "task") != task.SID || !strings.HasPrefix(action, in.webhookURL("/outbound")) {
			t.Errorf("dial action %q", action)
		}
		// Nobody else was offered the call; alice is held by it.
		if w := in.workerRow(alice); w.Busy != 1 {
			t.Errorf("alice busy %d, want 1", w.Busy)
		}
		list, _ := st.ListReservations(context.Background(), in.ws.SID, didrouter.ReservationFilter{TaskSID: task.SID})
		if len(list) != 1 || list[0].WorkerSID != alice || list[0].Status != didrouter.ReservationAccepted {
			t.Fatalf("reservations %+v, want one accepted for alice", list)
		}

		// Twilio asks again for the same call: same answer, no second task.
		again := in.twiml(in.webhookURL("/outbound"), form)
		if n, d := outboundDial(t, again); n != number || d.attr("callerId") != aliceDID {
			t.Errorf("repeated request dials %s from %s", n, d.attr("callerId"))
		}
		if n := len(in.tasksOfCall(sid)); n != 1 {
			t.Fatalf("%d tasks after a repeated request, want 1", n)
		}

		// The dialed party hangs up: the dial action completes the task.
		end := in.twiml(dial.attr("action"), url.Values{"CallSid": {sid}, "DialCallStatus": {"completed"}, "DialCallDuration": {"31"}})
		if !end.has("Hangup") {
			t.Errorf("dial action gave %v, want Hangup", end.verbs())
		}
		if got := in.task(task.SID); got.AssignmentStatus != didrouter.TaskCompleted {
			t.Fatalf("task %s after the call, want completed", got.AssignmentStatus)
		}
		if w := in.workerRow(alice); w.Busy != 0 {
			t.Errorf("alice busy %d after the call, want 0", w.Busy)
		}
		// The app's status callback afterwards changes nothing.
		resp, body := in.twilio(in.webhookURL("/status"), url.Values{"CallSid": {sid}, "CallStatus": {"completed"}})
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("status callback: %s %s", resp.Status, body)
		}
		if got := in.task(task.SID); got.AssignmentStatus != didrouter.TaskCompleted {
			t.Fatalf("task %s after the status callback", got.AssignmentStatus)
		}
	})
}

// Concurrent requests for one CallSid record one task and hold the agent once.
func TestOutboundRecordedOncePerCallSid(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := newOutboundInstance(t, st, mainLine)
		alice := in.worker("alice", aliceDID, "Available")
		sid := newOutboundSID()
		form := outboundForm(sid, "alice", "+16175551212")
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				u := in.webhookURL("/outbound")
				req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("X-Twilio-Signature", signFor(u, form))
				resp, err := in.client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("status %s", resp.Status)
				}
			})
		}
		wg.Wait()
		if n := len(in.tasksOfCall(sid)); n != 1 {
			t.Fatalf("%d tasks, want 1", n)
		}
		if w := in.workerRow(alice); w.Busy != 1 {
			t.Fatalf("alice busy %d, want 1", w.Busy)
		}
	})
}

// An agent without a DID calls from the main line; with no main line
// configured they hear why the call cannot be placed.
func TestOutboundWithoutDID(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := newOutboundInstance(t, st, "(512) 555-0100")
		in.worker("carol", "", "Offline")
		sid := newOutboundSID()
		number, dial := outboundDial(t, in.twiml(in.webhookURL("/outbound"), outboundForm(sid, "carol", "617-555-1212")))
		if number != "+16175551212" || dial.attr("callerId") != mainLine {
			t.Errorf("dials %s from %q, want +16175551212 from the main line %s", number, dial.attr("callerId"), mainLine)
		}
		tasks := in.tasksOfCall(sid)
		if len(tasks) != 1 || !strings.Contains(tasks[0].Attributes, `"from":"`+mainLine+`"`) {
			t.Fatalf("tasks %+v", tasks)
		}

		none := newOutboundInstance(t, st, "") // same store, no default caller ID
		sid = newOutboundSID()
		wantSpoken(t, none.twiml(none.webhookURL("/outbound"), outboundForm(sid, "carol", "617-555-1212")), "no default caller ID")
		if n := len(none.tasksOfCall(sid)); n != 0 {
			t.Errorf("%d tasks for a refused call", n)
		}

		// A default caller ID that is not a number stops the handler.
		norm, _ := routing.NewNormalizer("US")
		if _, err := webhooks.NewHandler(webhooks.Config{
			Engine: in.eng, Store: st, Normalizer: norm, Clock: in.clock,
			PublicURL: "https://calls.example.com", AuthToken: authToken, WorkspaceSID: in.ws.SID, DefaultCallerID: "12",
		}); err == nil || !strings.Contains(err.Error(), "DefaultCallerID") {
			t.Errorf("default caller ID 12: %v", err)
		}
	})
}

// Unknown softphones, callers that are not softphones, undialable numbers
// and forged requests are refused without a task, and never with a 500.
func TestOutboundRefusals(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := newOutboundInstance(t, st, mainLine)
		in.worker("alice", aliceDID, "Available")
		u := in.webhookURL("/outbound")
		for _, tc := range []struct {
			name string
			form url.Values
			say  string
		}{
			{"unknown client", outboundForm(newOutboundSID(), "mallory", "+16175551212"), "not linked to an agent"},
			{"identity differs in case", outboundForm(newOutboundSID(), "Alice", "+16175551212"), "not linked to an agent"},
			{"bad number", outboundForm(newOutboundSID(), "alice", "555-12"), "not a valid phone number"},
			{"empty number", outboundForm(newOutboundSID(), "alice", ""), "not a valid phone number"},
			{"client as number", outboundForm(newOutboundSID(), "alice", "client:bob"), "not a valid phone number"},
			{"not a softphone", func() url.Values {
				f := outboundForm(newOutboundSID(), "alice", "+16175551212")
				f.Set("From", "+16175550000")
				return f
			}(), "not linked to an agent"},
		} {
			wantSpoken(t, in.twiml(u, tc.form), tc.say)
			if n := len(in.tasksOfCall(tc.form.Get("CallSid"))); n != 0 {
				t.Errorf("%s: %d tasks", tc.name, n)
			}
		}

		// A forged request: 403 and nothing recorded.
		sid := newOutboundSID()
		form := outboundForm(sid, "alice", "+16175551212")
		req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", webhooks.Sign("not-the-token", u, form))
		if resp, _ := in.do(req); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("forged request: %s, want 403", resp.Status)
		}
		req, _ = http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if resp, _ := in.do(req); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("unsigned request: %s, want 403", resp.Status)
		}
		if n := len(in.tasksOfCall(sid)); n != 0 {
			t.Fatalf("forged request recorded %d tasks", n)
		}

		// A dial action naming another call's task does not end it.
		good := newOutboundSID()
		_, dial := outboundDial(t, in.twiml(u, outboundForm(good, "alice", "+16175551212")))
		action := dial.attr("action")
		if doc := in.twiml(action, url.Values{"CallSid": {newOutboundSID()}, "DialCallStatus": {"completed"}}); !doc.has("Hangup") {
			t.Errorf("foreign dial action gave %v", doc.verbs())
		}
		if got := in.task(query(t, action, "task")); got.AssignmentStatus != didrouter.TaskAssigned {
			t.Errorf("another call's action ended the task: %s", got.AssignmentStatus)
		}
	})
}
