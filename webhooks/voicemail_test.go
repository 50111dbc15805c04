package webhooks_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/degraded"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/webhooks"
)

const sharedDID = "+15125550199" // nobody's number: the shared mailbox

var recordingCounter atomic.Int64

func newRecordingSID() string { return fmt.Sprintf("RE%032x", recordingCounter.Add(1)) }

// voicemailInstance serves st with voicemail on (offered after 90 s) and
// the store's call settings.
func voicemailInstance(t *testing.T, st didrouter.Store, clock *didrouter.FakeClock) *instance {
	t.Helper()
	return newInstanceWith(t, st, clock, func(c *webhooks.Config) {
		c.CallSettings = st.(didrouter.CallSettingsStore)
		c.VoicemailAfter = 90 * time.Second
	})
}

// decisionCounter counts the webhooks' call decisions (Config.OnDecision).
type decisionCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (d *decisionCounter) count(decision string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.n == nil {
		d.n = map[string]int{}
	}
	d.n[decision]++
}

func (d *decisionCounter) get(decision string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n[decision]
}

// recording is what Twilio posts about a finished <Record>.
func (c call) recording(recSID string, seconds int, extra ...string) url.Values {
	f := c.form("CallStatus", "in-progress", "RecordingSid", recSID, "RecordingDuration", fmt.Sprint(seconds),
		"RecordingUrl", "https://api.twilio.com/2010-04-01/Accounts/AC00000000000000000000000000000000/Recordings/"+recSID)
	for i := 0; i+1 < len(extra); i += 2 {
		f.Set(extra[i], extra[i+1])
	}
	return f
}

// record checks that doc ends in voicemail: a <Record> with its callbacks,
// then a goodbye for an empty recording. It returns the <Record>.
func record(t *testing.T, in *instance, doc node) node {
	t.Helper()
	rec := doc.only(t, "Record")
	if got := rec.attr("maxLength"); got != "120" {
		t.Errorf("Record maxLength %q, want 120", got)
	}
	for _, a := range []struct{ attr, route string }{{"action", "/voicemail/recorded"}, {"recordingStatusCallback", "/voicemail/recording"}} {
		if u := rec.attr(a.attr); !strings.HasPrefix(u, in.webhookURL(a.route)) || query(t, u, "task") == "" {
			t.Errorf("Record %s %q, want %s naming the call's task", a.attr, u, a.route)
		}
	}
	if v := doc.verbs(); v[len(v)-1] != "Hangup" {
		t.Errorf("voicemail TwiML %v does not end in Hangup", v)
	}
	return rec
}

// voicemails lists the workspace's voicemail tasks.
func (in *instance) voicemails() []didrouter.Task {
	in.t.Helper()
	all, err := in.store.ListTasks(context.Background(), in.ws.SID, didrouter.TaskFilter{Page: didrouter.Page{Size: 1000}})
	if err != nil {
		in.t.Fatal(err)
	}
	var out []didrouter.Task
	for _, t := range all {
		var a map[string]any
		mustJSON(in.t, t.Attributes, &a)
		if a["type"] == "voicemail" {
			out = append(out, t)
		}
	}
	return out
}

func (in *instance) liveWorker(taskSID string) string {
	in.t.Helper()
	r, _, err := in.eng.LiveReservation(context.Background(), in.ws.SID, taskSID)
	if err != nil {
		in.t.Fatal(err)
	}
	if r == nil {
		return ""
	}
	return r.WorkerSID
}

// busyBob puts bob on a call of his own, so that he is available but
// cannot take another call: callers wait. His message channel is set to no
// capacity, so that messages wait too (for their owner).
func busyBob(t *testing.T, in *instance) string {
	t.Helper()
	bob := in.worker("bob", bobDID, "Available")
	in.messageCapacity(bob, 0)
	c := newCall(bobDID)
	who, dial := dialed(t, in.incoming(c))
	if who != "bob" {
		t.Fatalf("bob's own call rang %q", who)
	}
	agentLeg := url.Values{"CallSid": {fmt.Sprintf("CA%032x", callCounter.Add(1))}, "ParentCallSid": {c.sid}, "CallStatus": {"in-progress"}}
	in.twiml(dial.Children[0].attr("url"), agentLeg)
	if got := in.taskOf(c).AssignmentStatus; got != didrouter.TaskAssigned {
		t.Fatalf("bob's call is %s, want assigned", got)
	}
	return bob
}

// messageCapacity sets a worker's capacity on the message channel through
// the admin API's Worker Channels resource.
func (in *instance) messageCapacity(workerSID string, n int) {
	in.t.Helper()
	code, body := in.api(http.MethodPost, "/v1/Workspaces/"+in.ws.SID+"/Workers/"+workerSID+"/Channels/"+didrouter.MessageChannel, url.Values{"Capacity": {strconv.Itoa(n)}})
	if code != http.StatusOK || body["configured_capacity"] != float64(n) || body["task_channel_unique_name"] != didrouter.MessageChannel {
		in.t.Fatalf("set message capacity: %d %v", code, body)
	}
}

// offered places c, which must wait, and polls its queue 90 s later: it
// returns the queue's <Enqueue> and the voicemail and call-back offer.
func (in *instance) offered(c call) (enq, offer node) {
	in.t.Helper()
	enq = in.incoming(c).only(in.t, "Enqueue")
	in.advance(90 * time.Second)
	return enq, in.waitPoll(c, enq.attr("waitUrl"), 90).only(in.t, "Gather")
}

// requestCallback places c, which must wait, and presses 2 at the offer:
// it returns the queue's <Enqueue> and the task kept as the call-back
// request.
func (in *instance) requestCallback(c call) (enq node, taskSID string) {
	in.t.Helper()
	enq, g := in.offered(c)
	taskSID = query(in.t, enq.attr("waitUrl"), "task")
	in.twiml(g.attr("action"), c.form("Digits", "2", "CallStatus", "in-progress"))
	return enq, taskSID
}

// said joins the texts of a document's <Say>s.
func said(doc node) string {
	var s []string
	for _, v := range doc.Children {
		if v.name() == "Say" {
			s = append(s, strings.TrimSpace(v.Text))
		}
	}
	return strings.Join(s, " | ")
}

// waitPoll polls the caller's waitUrl after secs in the queue.
func (in *instance) waitPoll(c call, wait string, secs int) node {
	in.t.Helper()
	return in.twiml(wait, c.form("QueueTime", fmt.Sprint(secs), "CallStatus", "in-progress"))
}

// A caller of alice's number waits (alice offline, bob busy); after 90 s
// the wait offers voicemail; pressing 1 leaves the queue for alice's
// voicemail; the recording becomes one voicemail task (the <Record> action
// and the recording status callback both report it), which reaches alice
// once she is available.
func TestVoicemailAfterTheWait(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		var decisions decisionCounter
		in := newInstanceWith(t, st, newClock(), func(c *webhooks.Config) {
			c.CallSettings = st.(didrouter.CallSettingsStore)
			c.VoicemailAfter = 90 * time.Second
			c.OnDecision = decisions.count
		})
		alice := in.worker("alice", aliceDID, "Offline")
		busyBob(t, in)

		c := newCall(aliceDID)
		enq := in.incoming(c).only(t, "Enqueue")
		wait, action := enq.attr("waitUrl"), enq.attr("action")
		taskSID := query(t, wait, "task")
		if doc := in.waitPoll(c, wait, 0); doc.has("Gather") {
			t.Fatalf("voicemail offered at once: %v", doc.verbs())
		}
		in.advance(60 * time.Second)
		if doc := in.waitPoll(c, wait, 60); doc.has("Gather") {
			t.Fatalf("voicemail offered after 60 s: %v", doc.verbs())
		}
		in.advance(30 * time.Second)
		doc := in.waitPoll(c, wait, 90)
		g := doc.only(t, "Gather")
		if g.attr("numDigits") != "1" || !strings.HasPrefix(g.attr("action"), in.webhookURL("/choice")) || !g.has("Say") {
			t.Fatalf("offer %+v", g)
		}
		// A key that means nothing keeps the caller waiting.
		if doc := in.twiml(g.attr("action"), c.form("Digits", "7", "CallStatus", "in-progress")); doc.has("Leave") {
			t.Fatalf("digit 7 left the queue: %v", doc.verbs())
		}
		if doc := in.twiml(g.attr("action"), c.form("Digits", "1", "CallStatus", "in-progress")); !doc.has("Leave") {
			t.Fatalf("pressing 1 gave %v, want Leave", doc.verbs())
		}
		if task := in.task(taskSID); task.AssignmentStatus != didrouter.TaskCanceled {
			t.Fatalf("the caller's task is %s after pressing 1, want canceled", task.AssignmentStatus)
		}
		doc = in.twiml(action, c.form("QueueResult", "leave", "QueueTime", "92", "CallStatus", "in-progress"))
		record(t, in, doc)
		if s := strings.TrimSpace(doc.Children[0].Text); !strings.Contains(s, "alice") {
			t.Errorf("the owner's greeting %q does not name alice", s)
		}

		recSID := newRecordingSID()
		doc = in.twiml(doc.only(t, "Record").attr("action"), c.recording(recSID, 14))
		if !doc.has("Hangup") || !doc.has("Say") {
			t.Fatalf("record action %v", doc.verbs())
		}
		// The recording status callback says the same: still one voicemail.
		resp, _ := in.twilio(in.webhookURL("/voicemail/recording")+"?task="+taskSID, c.recording(recSID, 14, "RecordingStatus", "completed"))
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("recording status callback: %s", resp.Status)
		}
		vms := in.voicemails()
		if len(vms) != 1 {
			t.Fatalf("%d voicemail tasks, want 1", len(vms))
		}
		if n := decisions.get("voicemail-task"); n != 1 {
			t.Errorf("%d voicemail decisions (the /metrics count), want 1", n)
		}
		vm := vms[0]
		var attrs map[string]any
		mustJSON(t, vm.Attributes, &attrs)
		if attrs["recording_sid"] != recSID || attrs["recording_duration"] != float64(14) || attrs["owner_worker_sid"] != alice ||
			attrs["did"] != aliceDID || attrs["caller"] != c.from || attrs["mailbox"] != "owner" ||
			!strings.HasSuffix(fmt.Sprint(attrs["recording_url"]), recSID) {
			t.Errorf("voicemail attributes %v", attrs)
		}
		if vm.CallSID != recSID {
			t.Errorf("voicemail task keyed by %q, want the recording sid", vm.CallSID)
		}
		// The caller's call ends: nothing changes.
		in.twilio(in.webhookURL("/status"), c.form("CallStatus", "completed"))
		if got := len(in.voicemails()); got != 1 {
			t.Fatalf("%d voicemail tasks after the call ended", got)
		}
		// Alice comes back: her message is offered to her.
		in.setActivity(alice, "Available")
		if got := in.liveWorker(vm.SID); got != alice {
			t.Fatalf("voicemail reserved to %q, want its owner alice", got)
		}
	})
}

// Nobody in the call's queues is in an available activity: the caller
// goes straight to the owner's voicemail. An empty recording (the caller
// hung up at the tone) makes no voicemail: the call stays a missed call. A
// number whose voicemail is off makes the caller wait as before.
func TestStraightToVoicemailWhenNobodyIsAvailable(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := voicemailInstance(t, st, newClock())
		in.worker("alice", aliceDID, "Offline")
		in.worker("bob", bobDID, "Unavailable")

		c := newCall(aliceDID)
		doc := in.incoming(c)
		rec := record(t, in, doc)
		task := in.taskOf(c)
		if task.AssignmentStatus != didrouter.TaskCanceled {
			t.Fatalf("the call's task is %s, want canceled (a missed call)", task.AssignmentStatus)
		}
		recSID := newRecordingSID()
		doc = in.twiml(rec.attr("action"), c.recording(recSID, 0))
		if !doc.has("Hangup") {
			t.Fatalf("empty recording: %v", doc.verbs())
		}
		in.twilio(rec.attr("recordingStatusCallback"), c.recording(recSID, 0, "RecordingStatus", "completed"))
		if got := in.voicemails(); len(got) != 0 {
			t.Fatalf("an empty recording made %d voicemails", len(got))
		}
		if _, err := st.TaskByCallSID(context.Background(), in.ws.SID, recSID); didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
			t.Fatalf("empty recording has a task: %v", err)
		}

		// Voicemail off for alice's number: once the change has reached
		// the webhooks (they keep settings 5 s), her caller waits.
		status, body := in.api(http.MethodPost, "/v1/Workspaces/"+in.ws.SID+"/CallSettings/"+aliceDID, url.Values{"VoicemailAfter": {"off"}})
		if status != http.StatusOK {
			t.Fatalf("voicemail off: %d %v", status, body)
		}
		in.advance(5 * time.Second)
		in.incoming(newCall(aliceDID)).only(t, "Enqueue")
	})
}

// A call to a number nobody owns leaves its message in the shared
// mailbox, which the first available agent of Everyone gets.
func TestSharedMailbox(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := voicemailInstance(t, st, newClock())
		bob := in.worker("bob", bobDID, "Offline")

		c := newCall(sharedDID)
		doc := in.incoming(c)
		rec := record(t, in, doc)
		for _, v := range doc.Children {
			if v.name() == "Say" && strings.Contains(v.Text, "voicemail of") {
				t.Errorf("the shared mailbox names someone: %q", v.Text)
			}
		}
		recSID := newRecordingSID()
		in.twiml(rec.attr("action"), c.recording(recSID, 31))
		vms := in.voicemails()
		if len(vms) != 1 {
			t.Fatalf("%d voicemails, want 1", len(vms))
		}
		var attrs map[string]any
		mustJSON(t, vms[0].Attributes, &attrs)
		if attrs["mailbox"] != "shared" || attrs["owner_worker_sid"] != nil || attrs["did"] != sharedDID {
			t.Errorf("shared voicemail attributes %v", attrs)
		}
		in.setActivity(bob, "Available")
		if got := in.liveWorker(vms[0].SID); got != bob {
			t.Fatalf("shared voicemail reserved to %q, want bob (Everyone)", got)
		}
	})
}

// Pressing 2 while waiting turns the call into a call-back request that
// keeps its place: the caller hangs up, the task waits and is reserved to
// the next agent. A caller who calls again meanwhile is queued once.
func TestCallbackRequest(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := voicemailInstance(t, st, newClock())
		alice := in.worker("alice", aliceDID, "Offline")
		busyBob(t, in)

		c := newCall(aliceDID)
		enq, g := in.offered(c)
		action, taskSID := enq.attr("action"), query(t, enq.attr("waitUrl"), "task")
		if doc := in.twiml(g.attr("action"), c.form("Digits", "2", "CallStatus", "in-progress")); !doc.has("Leave") {
			t.Fatalf("pressing 2 gave %v, want Leave", doc.verbs())
		}
		doc := in.twiml(action, c.form("QueueResult", "leave", "CallStatus", "in-progress"))
		if !doc.has("Hangup") || doc.has("Record") {
			t.Fatalf("after pressing 2: %v, want a goodbye", doc.verbs())
		}
		in.twilio(in.webhookURL("/status"), c.form("CallStatus", "completed"))
		task := in.task(taskSID)
		var attrs map[string]any
		mustJSON(t, task.Attributes, &attrs)
		if task.AssignmentStatus != didrouter.TaskPending || attrs["type"] != "callback" || attrs["callback_number"] != c.from {
			t.Fatalf("call-back task %s %v", task.AssignmentStatus, attrs)
		}
		created := task.DateCreated

		// Alice comes back: the call-back is offered to her.
		in.setActivity(alice, "Available")
		if got := in.liveWorker(taskSID); got != alice {
			t.Fatalf("call-back reserved to %q, want alice", got)
		}
		if got := in.task(taskSID).DateCreated; !got.Equal(created) {
			t.Errorf("the call-back lost its place: created %v, was %v", got, created)
		}

		// The caller calls again before anyone called back: one request.
		again := newCall(aliceDID)
		again.from = c.from
		doc = in.incoming(again)
		if task := in.task(taskSID); task.AssignmentStatus != didrouter.TaskCanceled {
			t.Fatalf("the old call-back is %s after the caller called again, want canceled", task.AssignmentStatus)
		}
		if who, _ := dialed(t, doc); who != "alice" {
			t.Fatalf("the new call rang %q, want alice (freed by the canceled call-back)", who)
		}
	})
}

// Business hours in New York with a holiday: out of hours the caller hears
// the after-hours message and goes to voicemail; opening hours follow the
// local clock across the change to daylight-saving time (9 March 2025);
// a number's own hours override the workspace's.
func TestAfterHoursAcrossDSTAndHoliday(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := voicemailInstance(t, st, newClock()) // Monday 3 March 2025, 09:00 UTC = 04:00 EST
		in.worker("alice", aliceDID, "Available")
		in.worker("bob", bobDID, "Available")
		hoursDoc := `{"time_zone":"America/New_York",
			"weekly":{"monday":["09:00-17:00"],"tuesday":["09:00-17:00"],"wednesday":["09:00-17:00"],
			          "thursday":["09:00-17:00"],"friday":["09:00-17:00"]},
			"closures":[{"from":"2025-03-10","to":"2025-03-10","name":"Founders' day"}]}`
		if status, body := in.api(http.MethodPost, "/v1/Workspaces/"+in.ws.SID+"/CallSettings",
			url.Values{"BusinessHours": {hoursDoc}}); status != http.StatusOK {
			t.Fatalf("set business hours: %d %v", status, body)
		}
		start := in.clock.Now()
		at := func(utc string) {
			t.Helper()
			want, err := time.Parse(time.RFC3339, utc)
			if err != nil {
				t.Fatal(err)
			}
			in.clock.Advance(want.Sub(in.clock.Now()))
		}
		closed := func(to, when string) {
			t.Helper()
			c := newCall(to)
			doc := in.incoming(c)
			if doc.Children[0].name() != "Say" || strings.TrimSpace(doc.Children[0].Text) != "Thank you for calling. We are closed right now." {
				t.Fatalf("%s: %v, want the after-hours message first", when, doc.verbs())
			}
			record(t, in, doc)
			if task := in.taskOf(c); task.AssignmentStatus != didrouter.TaskCanceled || task.Reason != "after hours" {
				t.Fatalf("%s: the call's task is %s (%s), want canceled after hours", when, task.AssignmentStatus, task.Reason)
			}
		}
		open := func(to, when string) {
			t.Helper()
			c := newCall(to)
			doc := in.incoming(c)
			if doc.has("Record") || !(doc.has("Dial") || doc.has("Enqueue")) {
				t.Fatalf("%s: %v, want the call routed", when, doc.verbs())
			}
			// The call ends so that the next one finds the agents free.
			in.twilio(in.webhookURL("/status"), c.form("CallStatus", "completed"))
		}
		closed(aliceDID, "Monday 04:00 EST")
		at("2025-03-03T14:00:00Z")
		open(aliceDID, "Monday 09:00 EST")
		at("2025-03-04T13:30:00Z")
		closed(aliceDID, "Tuesday 08:30 EST")
		at("2025-03-10T15:00:00Z")
		closed(aliceDID, "the holiday, 11:00 EDT")
		at("2025-03-11T13:30:00Z")
		open(aliceDID, "Tuesday 09:30 EDT (13:30 UTC, closed before the change)")
		at("2025-03-11T21:30:00Z")
		closed(aliceDID, "Tuesday 17:30 EDT")

		// Alice's number keeps its own hours: always open.
		if status, body := in.api(http.MethodPost, "/v1/Workspaces/"+in.ws.SID+"/CallSettings/"+aliceDID,
			url.Values{"BusinessHours": {"always"}}); status != http.StatusOK {
			t.Fatalf("set alice's hours: %d %v", status, body)
		}
		in.clock.Advance(5 * time.Second) // the webhooks keep settings 5 s
		open(aliceDID, "alice's number after hours")
		closed(bobDID, "bob's number after hours")
		_ = start
	})
}

// A message recorded while the store is down is journaled, and becomes its
// one voicemail task when the journal is replayed (twice: still one).
func TestVoicemailDuringAStoreOutage(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		ds := &downStore{Store: st}
		clock := newClock()
		in := newInstance(t, ds, clock) // the engine reads and writes through ds
		in.worker("alice", aliceDID, "Offline")
		j, err := degraded.OpenJournal(filepath.Join(t.TempDir(), "journal.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = j.Close() })
		mode, err := degraded.New(degraded.Config{Engine: in.eng, Store: ds, Down: ds.since, Journal: j,
			WorkspaceSID: in.ws.SID, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		wi := newInstanceWith(t, ds, clock, func(c *webhooks.Config) {
			c.Engine = in.eng
			c.Degraded = mode
			c.CallSettings = st.(didrouter.CallSettingsStore)
			c.VoicemailAfter = 90 * time.Second
		})

		c := newCall(aliceDID)
		rec := record(t, wi, wi.incoming(c))
		recSID := newRecordingSID()
		ds.down.Store(true)
		doc := wi.twiml(rec.attr("action"), c.recording(recSID, 9))
		if !doc.has("Hangup") {
			t.Fatalf("record action during the outage: %v", doc.verbs())
		}
		if n := len(j.Pending()); n != 1 {
			t.Fatalf("%d journal entries, want the voicemail", n)
		}
		ds.down.Store(false)
		if _, err := st.TaskByCallSID(context.Background(), in.ws.SID, recSID); didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
			t.Fatalf("voicemail in the store before the replay: %v", err)
		}
		if left := mode.ReplayPending(context.Background(), false); left != 0 {
			t.Fatalf("%d entries left after the replay", left)
		}
		vm, err := st.TaskByCallSID(context.Background(), in.ws.SID, recSID)
		if err != nil {
			t.Fatalf("voicemail after the replay: %v", err)
		}
		var attrs map[string]any
		mustJSON(t, vm.Attributes, &attrs)
		if attrs["type"] != "voicemail" || attrs["did"] != aliceDID || attrs["recording_duration"] != float64(9) {
			t.Errorf("replayed voicemail %v", attrs)
		}
		// The status callback brings it again once the store is back: one voicemail.
		wi.twilio(rec.attr("recordingStatusCallback"), c.recording(recSID, 9, "RecordingStatus", "completed"))
		if got := len(in.voicemails()); got != 1 {
			t.Fatalf("%d voicemails, want 1", got)
		}
	})
}

// Waiting callers hear their place at the first hold message and then at
// most once a minute.
func TestPositionAnnouncements(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := voicemailInstance(t, st, newClock())
		busyBob(t, in)
		first, second := newCall(sharedDID), newCall(sharedDID)
		in.incoming(first).only(t, "Enqueue")
		in.advance(time.Second)
		wait := in.incoming(second).only(t, "Enqueue").attr("waitUrl")
		if got := said(in.waitPoll(second, wait, 0)); !strings.Contains(got, "You are caller number 2 in line.") {
			t.Fatalf("first poll says %q, want position 2", got)
		}
		for _, secs := range []int{3, 30, 45, 58} {
			if got := said(in.waitPoll(second, wait, secs)); strings.Contains(got, "in line") {
				t.Fatalf("poll at %d s repeats the position: %q", secs, got)
			}
		}
		// The first caller hangs up: the second is next.
		in.twilio(in.webhookURL("/status"), first.form("CallStatus", "completed"))
		if got := said(in.waitPoll(second, wait, 60)); !strings.Contains(got, "You are next in line.") {
			t.Fatalf("poll at 60 s says %q, want next in line", got)
		}
	})
}

// The agent offered a call-back calls the number from their phone: the
// request is handled (completed), and the call goes out from their DID.
func TestCallbackPlacedByTheAgent(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := voicemailInstance(t, st, newClock())
		alice := in.worker("alice", aliceDID, "Offline")
		busyBob(t, in)
		c := newCall(aliceDID)
		c.from = "+12125550123"
		_, taskSID := in.requestCallback(c)
		in.twilio(in.webhookURL("/status"), c.form("CallStatus", "completed"))
		in.setActivity(alice, "Available")
		if got := in.liveWorker(taskSID); got != alice {
			t.Fatalf("call-back reserved to %q, want alice", got)
		}
		out := url.Values{"AccountSid": {"AC00000000000000000000000000000000"}, "CallSid": {fmt.Sprintf("CA%032x", callCounter.Add(1))},
			"From": {"client:alice"}, "To": {"(212) 555-0123"}, "Direction": {"inbound"}, "CallStatus": {"ringing"}}
		d := in.twiml(in.webhookURL("/outbound"), out).only(t, "Dial")
		if d.attr("callerId") != aliceDID {
			t.Errorf("call-back from %q, want alice's DID", d.attr("callerId"))
		}
		if got := in.task(taskSID).AssignmentStatus; got != didrouter.TaskCompleted {
			t.Fatalf("the call-back is %s after alice called the caller, want completed", got)
		}
	})
}

// The estimate said to a waiting caller is the queue's recent wait in
// words: bob answered one call at once and one after five minutes (2.5
// minutes on average), so the next caller hears "a few minutes".
func TestWaitEstimate(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := voicemailInstance(t, st, newClock())
		in.worker("bob", bobDID, "Available")
		answer := func(c call, dial node) {
			t.Helper()
			leg := url.Values{"CallSid": {fmt.Sprintf("CA%032x", callCounter.Add(1))}, "ParentCallSid": {c.sid}, "CallStatus": {"in-progress"}}
			in.twiml(dial.Children[0].attr("url"), leg)
		}
		c0 := newCall(bobDID)
		_, dial0 := dialed(t, in.incoming(c0))
		answer(c0, dial0)

		c1 := newCall(sharedDID)
		enq := in.incoming(c1).only(t, "Enqueue")
		in.advance(5 * time.Minute)
		// bob's call ends: he is offered the waiting caller, who leaves the queue and is rung.
		in.twiml(dial0.attr("action"), c0.form("CallStatus", "completed", "DialCallStatus", "completed"))
		if doc := in.waitPoll(c1, enq.attr("waitUrl"), 300); !doc.has("Leave") {
			t.Fatalf("poll after bob freed up: %v", doc.verbs())
		}
		_, dial1 := dialed(t, in.twiml(enq.attr("action"), c1.form("QueueResult", "leave", "CallStatus", "in-progress")))
		answer(c1, dial1)

		c2 := newCall(sharedDID)
		wait := in.incoming(c2).only(t, "Enqueue").attr("waitUrl")
		if got := said(in.waitPoll(c2, wait, 0)); !strings.Contains(got, "You are next in line. The expected wait is a few minutes.") {
			t.Fatalf("first poll says %q, want the position and a few minutes", got)
		}
	})
}

// A caller pressed 2 and hung up; the status callback of their call comes
// while the store is down, or right after it is back (while the journals
// may still hold answers): the hang-up is journaled, and its replay leaves
// the call-back request waiting for alice, to whom it was offered.
func TestCallbackRequestSurvivesAHangUpAroundAnOutage(t *testing.T) {
	for _, when := range []string{"during", "after"} {
		t.Run(when, func(t *testing.T) {
			stores(t, func(t *testing.T, st didrouter.Store) {
				ds := &downStore{Store: st}
				in := voicemailInstance(t, st, newClock())
				alice := in.worker("alice", aliceDID, "Offline")
				busyBob(t, in)
				c := newCall(aliceDID)
				enq, taskSID := in.requestCallback(c)
				in.twiml(enq.attr("action"), c.form("QueueResult", "leave", "CallStatus", "in-progress"))
				in.setActivity(alice, "Available")
				if got := in.liveWorker(taskSID); got != alice {
					t.Fatalf("call-back reserved to %q, want alice", got)
				}

				wi, mode, j := degradedInstance(t, in, ds, nil, 500*time.Millisecond, true)
				ds.down.Store(true)
				waitFor(t, "routing held during the outage", in.eng.Degraded().RoutingPaused)
				status := func() {
					if resp, _ := wi.twilio(wi.webhookURL("/status"), c.form("CallStatus", "completed")); resp.StatusCode != http.StatusNoContent {
						t.Fatalf("status callback: %s", resp.Status)
					}
				}
				if when == "during" {
					status()
					if j.Len() != 1 {
						t.Fatalf("%d journal entries, want the hang-up", j.Len())
					}
				}
				ds.down.Store(false)
				if when == "after" {
					if !mode.Recovering() {
						t.Fatal("degraded mode is not recovering right after the outage")
					}
					status()
				}
				waitFor(t, "the journal to be replayed", func() bool { return j.Len() == 0 && !mode.Recovering() })
				task := in.task(taskSID)
				if task.AssignmentStatus != didrouter.TaskReserved || didrouter.TaskType(task) != didrouter.TaskTypeCallback {
					t.Fatalf("the call-back request is %s (reason %q), want still reserved", task.AssignmentStatus, task.Reason)
				}
				if got := in.liveWorker(taskSID); got != alice {
					t.Fatalf("call-back reserved to %q after the outage, want alice", got)
				}
			})
		})
	}
}

// A caller's call-back request waits behind 510 older live tasks; the
// caller calls again: the request is found by their number all the same
// (not among the oldest tasks of a page) and canceled, so they are queued
// once.
func TestCallbackRequestBehindManyCallers(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := voicemailInstance(t, st, newClock())
		in.worker("alice", aliceDID, "Offline")
		busyBob(t, in)
		for i := range 510 {
			if _, err := in.eng.CreateTask(context.Background(), engine.TaskInsert{WorkspaceSID: in.ws.SID,
				Attributes: fmt.Sprintf(`{"type":"inbound","name":"+1512555%04d","phone_number":%q}`, i, sharedDID)}); err != nil {
				t.Fatal(err)
			}
		}
		in.advance(time.Second)
		c := newCall(aliceDID)
		enq, taskSID := in.requestCallback(c)
		in.twiml(enq.attr("action"), c.form("QueueResult", "leave", "CallStatus", "in-progress"))
		in.twilio(in.webhookURL("/status"), c.form("CallStatus", "completed"))
		if task := in.task(taskSID); task.AssignmentStatus != didrouter.TaskPending || didrouter.TaskType(task) != didrouter.TaskTypeCallback {
			t.Fatalf("call-back request %s %s", task.AssignmentStatus, didrouter.TaskType(task))
		}

		again := newCall(aliceDID)
		again.from = c.from
		in.incoming(again).only(t, "Enqueue")
		if task := in.task(taskSID); task.AssignmentStatus != didrouter.TaskCanceled || task.Reason != "caller called again" {
			t.Fatalf("the old call-back is %s (%q) after the caller called again, want canceled", task.AssignmentStatus, task.Reason)
		}
	})
}
