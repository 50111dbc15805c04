package webhooks_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

const (
	aliceDID = "+15125550101"
	bobDID   = "+15125550102"
)

// The owner is available and answers: the call rings the owner for the
// owner step's 60 s, the answer webhook accepts, and the dial action
// completes the task and frees the worker.
func TestOwnerAnswers(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := newInstance(t, st, newClock())
		alice := in.worker("alice", "(512) 555-0101", "Available")
		in.worker("bob", bobDID, "Available")

		c := newCall(aliceDID)
		doc := in.incoming(c)
		if got := doc.verbs(); len(got) != 2 || got[0] != "Say" || got[1] != "Dial" {
			t.Fatalf("verbs %v, want [Say Dial]", got)
		}
		if say := doc.only(t, "Say"); strings.TrimSpace(say.Text) != engine.SeedGreeting {
			t.Errorf("greeting %q", say.Text)
		}
		who, dial := dialed(t, doc)
		if who != "alice" {
			t.Fatalf("rang %q, want the owner alice", who)
		}
		if dial.attr("timeout") != "60" {
			t.Errorf("Dial timeout %q, want the owner step's 60", dial.attr("timeout"))
		}
		action := dial.attr("action")
		taskSID, resSID := query(t, action, "task"), query(t, action, "reservation")
		answer := dial.Children[0].attr("url")
		if !strings.HasPrefix(answer, in.webhookURL("/answer")) || query(t, answer, "reservation") != resSID {
			t.Fatalf("answer url %q does not accept reservation %s", answer, resSID)
		}
		task := in.taskOf(c)
		if task.SID != taskSID || task.AssignmentStatus != didrouter.TaskReserved {
			t.Fatalf("task %s is %s, want %s reserved", task.SID, task.AssignmentStatus, taskSID)
		}
		var attrs map[string]string
		mustJSON(t, task.Attributes, &attrs)
		if attrs["phone_number"] != aliceDID || attrs["name"] != c.from || attrs["type"] != "inbound" ||
			attrs["direction"] != "inbound" || attrs["call_sid"] != c.sid {
			t.Errorf("task attributes %v", attrs)
		}

		// The agent picks up: Twilio fetches the noun's url on the agent's leg.
		agentLeg := url.Values{"CallSid": {"CA" + strings.Repeat("a", 32)}, "ParentCallSid": {c.sid}, "CallStatus": {"in-progress"}}
		if doc := in.twiml(answer, agentLeg); len(doc.Children) != 0 {
			t.Fatalf("answer gave %v, want an empty <Response/>", doc.verbs())
		}
		if r := in.reservation(resSID); r.Status != didrouter.ReservationAccepted {
			t.Fatalf("reservation %s, want accepted", r.Status)
		}
		if got := in.task(taskSID).AssignmentStatus; got != didrouter.TaskAssigned {
			t.Fatalf("task %s, want assigned", got)
		}

		// The call ends: the dial action completes the task.
		doc = in.twiml(action, c.form("CallStatus", "in-progress", "DialCallStatus", "completed", "DialCallDuration", "42"))
		if !doc.has("Hangup") {
			t.Fatalf("dial action gave %v, want Hangup", doc.verbs())
		}
		if got := in.task(taskSID).AssignmentStatus; got != didrouter.TaskCompleted {
			t.Fatalf("task %s, want completed", got)
		}
		if w := in.workerRow(alice); w.Busy != 0 {
			t.Fatalf("alice busy %d after the call, want free", w.Busy)
		}
	})
}

// The owner does not answer within 60 s: the step times out, the next
// available worker is reserved, and the dial action rings them.
func TestOwnerDoesNotAnswer(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := newInstance(t, st, newClock())
		alice := in.worker("alice", aliceDID, "Available")
		in.worker("bob", "", "Available")

		c := newCall(aliceDID)
		who, dial := dialed(t, in.incoming(c))
		if who != "alice" {
			t.Fatalf("rang %q, want alice", who)
		}
		action := dial.attr("action")
		firstRes := query(t, action, "reservation")

		in.advance(60 * time.Second)
		doc := in.twiml(action, c.form("CallStatus", "in-progress", "DialCallStatus", "no-answer"))
		who, dial = dialed(t, doc)
		if who != "bob" {
			t.Fatalf("after no answer rang %q, want bob", who)
		}
		if doc.has("Say") {
			t.Error("the greeting is said again on the second dial")
		}
		if r := in.reservation(firstRes); r.Status == didrouter.ReservationPending || r.Status == didrouter.ReservationAccepted {
			t.Fatalf("alice's reservation still %s", r.Status)
		}
		if w := in.workerRow(alice); w.Busy != 0 {
			t.Errorf("alice still busy %d", w.Busy)
		}
		if to := dial.attr("timeout"); to != "120" {
			t.Errorf("Everyone step rings for %q s, want the reservation timeout 120", to)
		}
	})
}

// The owner answers "busy" (declines) before the step times out: the
// reservation is rejected at once and the call moves on.
func TestOwnerDeclines(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := newInstance(t, st, newClock())
		in.worker("alice", aliceDID, "Available")
		in.worker("bob", "", "Available")
		c := newCall(aliceDID)
		_, dial := dialed(t, in.incoming(c))
		res := query(t, dial.attr("action"), "reservation")
		doc := in.twiml(dial.attr("action"), c.form("CallStatus", "in-progress", "DialCallStatus", "busy"))
		if r := in.reservation(res); r.Status != didrouter.ReservationRejected {
			t.Errorf("reservation %s, want rejected", r.Status)
		}
		// The owner step keeps its remaining time or is skipped, depending on
		// the workflow; either way the caller is not dropped.
		if !doc.has("Dial") && !doc.has("Enqueue") {
			t.Fatalf("after busy: %v, want Dial or Enqueue", doc.verbs())
		}
	})
}

// The owner is offline: the owner step is skipped at once and the call
// rings someone from Everyone.
func TestOwnerOffline(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := newInstance(t, st, newClock())
		in.worker("alice", aliceDID, "Offline")
		in.worker("bob", bobDID, "Available")
		who, _ := dialed(t, in.incoming(newCall(aliceDID)))
		if who != "bob" {
			t.Fatalf("rang %q, want bob at once", who)
		}
	})
}

// A call to a number no worker owns goes to Everyone.
func TestUnknownDID(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := newInstance(t, st, newClock())
		in.worker("bob", bobDID, "Available")
		c := newCall("+15125559999")
		who, _ := dialed(t, in.incoming(c))
		if who != "bob" {
			t.Fatalf("rang %q, want bob", who)
		}
		// An unparseable To still makes a task, with the number as given.
		c2 := newCall("not-a-number")
		in.worker("carol", "", "Available")
		doc := in.incoming(c2)
		if !doc.has("Dial") && !doc.has("Enqueue") {
			t.Fatalf("unparseable To: %v", doc.verbs())
		}
		var attrs map[string]string
		mustJSON(t, in.taskOf(c2).Attributes, &attrs)
		if attrs["phone_number"] != "not-a-number" {
			t.Errorf("phone_number %q, want the To as given", attrs["phone_number"])
		}
	})
}

// Nobody is available: the caller waits in the queue hearing the hold
// message; when a worker becomes available (admin API) the next poll
// answers <Leave/>, and the Enqueue action rings that worker. A second
// caller who hangs up while waiting has their task canceled.
func TestQueueWaitLeaveDial(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := newInstance(t, st, newClock())
		bob := in.worker("bob", bobDID, "Offline")

		c := newCall(aliceDID)
		doc := in.incoming(c)
		enq := doc.only(t, "Enqueue")
		taskSID := in.taskOf(c).SID
		if strings.TrimSpace(enq.Text) != taskSID {
			t.Errorf("queue name %q, want the task sid", enq.Text)
		}
		wait, action := enq.attr("waitUrl"), enq.attr("action")
		if query(t, wait, "task") != taskSID || query(t, action, "task") != taskSID {
			t.Fatalf("waitUrl %q / action %q do not name task %s", wait, action, taskSID)
		}

		// First poll: the hold message and the caller's place, then a short pause.
		doc = in.twiml(wait, c.form("QueueTime", "0", "QueuePosition", "1", "CallStatus", "in-progress"))
		if got := doc.verbs(); len(got) != 3 || got[0] != "Say" || got[1] != "Say" || got[2] != "Pause" {
			t.Fatalf("first poll %v, want [Say Say Pause]", got)
		}
		if s := strings.TrimSpace(doc.Children[0].Text); s != engine.SeedHoldMessage {
			t.Errorf("hold message %q", s)
		}
		if s := strings.TrimSpace(doc.Children[1].Text); s != "You are next in line." {
			t.Errorf("position %q", s)
		}
		// Later poll: only the pause.
		doc = in.twiml(wait, c.form("QueueTime", "12", "CallStatus", "in-progress"))
		if got := doc.verbs(); len(got) != 1 || got[0] != "Pause" {
			t.Fatalf("later poll %v, want [Pause]", got)
		}
		if p := doc.only(t, "Pause").attr("length"); p != "2" {
			t.Errorf("pause %q s, want the configured 2", p)
		}
		// A long wait hears the hold message again, not only silence.
		doc = in.twiml(wait, c.form("QueueTime", "46", "CallStatus", "in-progress"))
		if got := doc.verbs(); len(got) != 2 || got[0] != "Say" || got[1] != "Pause" {
			t.Fatalf("poll after 46 s %v, want [Say Pause]", got)
		}

		in.setActivity(bob, "Available")
		doc = in.twiml(wait, c.form("QueueTime", "14", "CallStatus", "in-progress"))
		if got := doc.verbs(); len(got) != 1 || got[0] != "Leave" {
			t.Fatalf("poll after bob became available: %v, want [Leave]", got)
		}
		doc = in.twiml(action, c.form("QueueResult", "leave", "QueueTime", "15", "CallStatus", "in-progress"))
		who, dial := dialed(t, doc)
		if who != "bob" || query(t, dial.attr("action"), "task") != taskSID {
			t.Fatalf("dequeued rang %q for %q", who, dial.attr("action"))
		}

		// A second caller waits, then hangs up: the status callback cancels the task.
		c2 := newCall(aliceDID)
		in.incoming(c2).only(t, "Enqueue")
		resp, body := in.twilio(in.webhookURL("/status"), c2.form("CallStatus", "completed", "CallDuration", "30"))
		if resp.StatusCode/100 != 2 || len(strings.TrimSpace(string(body))) != 0 {
			t.Fatalf("status callback: %s %q", resp.Status, body)
		}
		if got := in.taskOf(c2).AssignmentStatus; got != didrouter.TaskCanceled {
			t.Fatalf("task of a caller who hung up is %s, want canceled", got)
		}
		// Twilio then requests the Enqueue action with QueueResult=hangup.
		doc = in.twiml(in.webhookURL("/dequeued")+"?task="+in.taskOf(c2).SID, c2.form("QueueResult", "hangup", "CallStatus", "completed"))
		if !doc.has("Hangup") {
			t.Errorf("dequeued hangup: %v", doc.verbs())
		}
		// A status callback for an unknown call is accepted and ignored.
		resp, _ = in.twilio(in.webhookURL("/status"), newCall(aliceDID).form("CallStatus", "completed"))
		if resp.StatusCode/100 != 2 {
			t.Errorf("unknown call's status callback: %s", resp.Status)
		}
	})
}

// A caller who hangs up while the owner's phone rings: the reservation is
// rescinded and the worker freed.
func TestCallerHangsUpWhileRinging(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := newInstance(t, st, newClock())
		alice := in.worker("alice", aliceDID, "Available")
		c := newCall(aliceDID)
		_, dial := dialed(t, in.incoming(c))
		resp, _ := in.twilio(in.webhookURL("/status"), c.form("CallStatus", "completed"))
		if resp.StatusCode/100 != 2 {
			t.Fatalf("status: %s", resp.Status)
		}
		if got := in.taskOf(c).AssignmentStatus; got != didrouter.TaskCanceled {
			t.Fatalf("task %s, want canceled", got)
		}
		if w := in.workerRow(alice); w.Busy != 0 {
			t.Fatalf("alice busy %d, want freed", w.Busy)
		}
		// The agent picks up too late: their leg is hung up.
		doc := in.twiml(dial.Children[0].attr("url"), url.Values{"CallSid": {"CA" + strings.Repeat("b", 32)}})
		if !doc.has("Hangup") {
			t.Fatalf("late answer: %v, want Hangup", doc.verbs())
		}
	})
}

// Two calls at once to one DID: one rings the owner, the other someone else.
func TestTwoCallsToOneDID(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := newInstance(t, st, newClock())
		in.worker("alice", aliceDID, "Available")
		in.worker("bob", "", "Available")
		calls := []call{newCall(aliceDID), newCall(aliceDID)}
		rang := make([]string, len(calls))
		var wg sync.WaitGroup
		for i, c := range calls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, body := in.twilio(in.webhookURL("/incoming")+"?greeted=1", c.form()) // the routing step
				if resp.StatusCode != http.StatusOK {
					t.Errorf("incoming: %s", resp.Status)
					return
				}
				doc := parseTwiML(t, body)
				if d := doc.Children[len(doc.Children)-1]; d.name() == "Dial" && len(d.Children) == 1 {
					rang[i] = strings.TrimSpace(d.Children[0].Text)
				}
			}()
		}
		wg.Wait()
		if !(rang[0] == "alice" && rang[1] == "bob" || rang[0] == "bob" && rang[1] == "alice") {
			t.Fatalf("two calls rang %v, want alice and bob once each", rang)
		}
	})
}

// The same incoming webhook twice (a Twilio retry) makes one task and
// answers for its current state.
func TestIncomingTwiceOneTask(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := newInstance(t, st, newClock())
		in.worker("alice", aliceDID, "Available")
		c := newCall(aliceDID)
		_, d1 := dialed(t, in.incoming(c))
		_, d2 := dialed(t, in.incoming(c))
		if a, b := d1.attr("action"), d2.attr("action"); a != b {
			t.Fatalf("second answer dials %q, first %q: want the same reservation", b, a)
		}
		tasks, err := st.ListTasks(context.Background(), in.ws.SID, didrouter.TaskFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(tasks) != 1 {
			t.Fatalf("%d tasks, want 1", len(tasks))
		}
	})
}

// Forged, malformed and oversized requests are refused before anything is
// created.
func TestRejectsBadRequests(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := newInstance(t, st, newClock())
		in.worker("alice", aliceDID, "Available")
		u := in.webhookURL("/incoming")
		c := newCall(aliceDID)

		post := func(body, sig string) *http.Response {
			req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if sig != "" {
				req.Header.Set("X-Twilio-Signature", sig)
			}
			resp, _ := in.do(req)
			return resp
		}
		form := c.form()
		if resp := post(form.Encode(), ""); resp.StatusCode != http.StatusForbidden {
			t.Errorf("no signature: %s, want 403", resp.Status)
		}
		if resp := post(form.Encode(), "bm90IGEgc2lnbmF0dXJl"); resp.StatusCode != http.StatusForbidden {
			t.Errorf("bad signature: %s, want 403", resp.Status)
		}
		// Signed for another host: a signature is bound to the public URL.
		other := strings.Replace(u, "127.0.0.1", "evil.example", 1)
		if resp := post(form.Encode(), signFor(other, form)); resp.StatusCode != http.StatusForbidden {
			t.Errorf("signature for another URL: %s, want 403", resp.Status)
		}
		// A tampered parameter breaks the signature.
		sig := signFor(u, form)
		tampered := c.form("To", bobDID)
		if resp := post(tampered.Encode(), sig); resp.StatusCode != http.StatusForbidden {
			t.Errorf("tampered form: %s, want 403", resp.Status)
		}
		if resp := post("CallSid=%zz&To=1", signFor(u, nil)); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("malformed form: %s, want 400", resp.Status)
		}
		big := c.form("Padding", strings.Repeat("x", 70<<10))
		if resp := post(big.Encode(), signFor(u, big)); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("oversized body: %s, want 400", resp.Status)
		}
		tasks, err := st.ListTasks(context.Background(), in.ws.SID, didrouter.TaskFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(tasks) != 0 {
			t.Fatalf("%d tasks created by refused requests", len(tasks))
		}
		// The genuine request still works.
		if !in.incoming(c).has("Dial") {
			t.Error("signed request refused")
		}
	})
}

// A reserved worker who cannot be rung (no contact_uri, or one that is a
// DID routed back into didrouter) is rejected at once and the call moves on.
func TestWorkerWithoutContactIsSkipped(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := newInstance(t, st, newClock())
		status, w := in.api(http.MethodPost, "/v1/Workspaces/"+in.ws.SID+"/Workers", url.Values{
			"FriendlyName": {"nocontact"}, "Attributes": {`{"phone_number":"` + aliceDID + `"}`}, "ActivitySid": {in.activity("Available")},
		})
		if status != http.StatusCreated {
			t.Fatalf("create: %d %v", status, w)
		}
		status, w = in.api(http.MethodPost, "/v1/Workspaces/"+in.ws.SID+"/Workers", url.Values{
			"FriendlyName": {"loop"}, "Attributes": {`{"phone_number":"` + bobDID + `","contact_uri":"` + aliceDID + `"}`},
			"ActivitySid": {in.activity("Available")},
		})
		if status != http.StatusCreated {
			t.Fatalf("create: %d %v", status, w)
		}
		in.worker("carol", "", "Available")

		c := newCall(aliceDID)
		who, _ := dialed(t, in.incoming(c))
		if who != "carol" {
			t.Fatalf("rang %q, want carol (the owner has no contact_uri)", who)
		}
		c2 := newCall(bobDID)
		doc := in.incoming(c2)
		if doc.has("Dial") {
			t.Fatalf("rang a worker whose contact_uri loops back into didrouter: %v", doc.verbs())
		}
		doc.only(t, "Enqueue") // carol is busy, the others cannot be rung
	})
}

// A number configured for GET webhooks: the signature covers the URL
// with its query and nothing else.
func TestIncomingByGET(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := newInstance(t, st, newClock())
		in.worker("alice", aliceDID, "Available")
		c := newCall(aliceDID)
		u := in.webhookURL("/incoming") + "?" + c.form().Encode()
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("X-Twilio-Signature", signFor(u, nil))
		resp, body := in.do(req)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET incoming: %s %s", resp.Status, body)
		}
		greeting := parseTwiML(t, body)
		if got := greeting.verbs(); len(got) != 2 || got[0] != "Say" || got[1] != "Redirect" {
			t.Fatalf("first answer %v, want [Say Redirect]", got)
		}
		// Twilio follows the redirect with a POST of the call's parameters.
		next := strings.TrimSpace(greeting.only(t, "Redirect").Text)
		if who, _ := dialed(t, in.twiml(next, c.form())); who != "alice" {
			t.Fatalf("rang %q", who)
		}
	})
}

// contact_uri chooses the noun: a phone number rings <Number> in E.164, a
// SIP address <Sip>; both carry the answer url.
func TestContactNouns(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := newInstance(t, st, newClock())
		for name, contact := range map[string]string{"dana": "(512) 555-0199", "erin": "sip:erin@pbx.example.com"} {
			status, w := in.api(http.MethodPost, "/v1/Workspaces/"+in.ws.SID+"/Workers", url.Values{
				"FriendlyName": {name}, "Attributes": {`{"contact_uri":"` + contact + `"}`}, "ActivitySid": {in.activity("Available")},
			})
			if status != http.StatusCreated {
				t.Fatalf("create %s: %d %v", name, status, w)
			}
		}
		seen := map[string]string{}
		for range 2 {
			d := in.incoming(newCall("+15125559999")).only(t, "Dial")
			if len(d.Children) != 1 {
				t.Fatalf("Dial rings %v", d.verbs())
			}
			n := d.Children[0]
			if !strings.HasPrefix(n.attr("url"), in.webhookURL("/answer")) {
				t.Errorf("<%s> url %q", n.name(), n.attr("url"))
			}
			seen[n.name()] = strings.TrimSpace(n.Text)
		}
		if seen["Number"] != "+15125550199" || seen["Sip"] != "sip:erin@pbx.example.com" {
			t.Fatalf("nouns %v", seen)
		}
	})
}
