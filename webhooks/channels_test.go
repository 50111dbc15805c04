package webhooks_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

// answer rings c's agent and has them answer: c's task is assigned.
func (in *instance) answer(c call, want string) {
	in.t.Helper()
	in.answerDial(c, in.incoming(c), want)
}

// answerDial answers the <Dial> of doc, which must ring want.
func (in *instance) answerDial(c call, doc node, want string) {
	in.t.Helper()
	who, dial := dialed(in.t, doc)
	if who != want {
		in.t.Fatalf("the call rang %q, want %s", who, want)
	}
	agentLeg := url.Values{"CallSid": {fmt.Sprintf("CA%032x", callCounter.Add(1))}, "ParentCallSid": {c.sid}, "CallStatus": {"in-progress"}}
	in.twiml(dial.Children[0].attr("url"), agentLeg)
	if got := in.taskOf(c).AssignmentStatus; got != didrouter.TaskAssigned {
		in.t.Fatalf("the call is %s after %s answered, want assigned", got, want)
	}
}

// hangUp ends c (its status callback).
func (in *instance) hangUp(c call) {
	in.t.Helper()
	in.twilio(in.webhookURL("/status"), c.form("CallStatus", "completed"))
}

// voicemailFor leaves a message on alice's number while nobody is
// available (straight to voicemail) and returns its task.
func (in *instance) voicemailFor(did string) didrouter.Task {
	in.t.Helper()
	c := newCall(did)
	rec := record(in.t, in, in.incoming(c))
	recSID := newRecordingSID()
	in.twiml(rec.attr("action"), c.recording(recSID, 14))
	for _, vm := range in.voicemails() {
		if vm.CallSID == recSID {
			return vm
		}
	}
	in.t.Fatalf("no voicemail task for recording %s", recSID)
	return didrouter.Task{}
}

// loads returns a worker's voice and message load.
func (in *instance) loads(workerSID string) (busy, messages int) {
	in.t.Helper()
	w := in.workerRow(workerSID)
	return w.Busy, w.MessageBusy
}

// A message offered to the owner, and then taken by them, holds a unit of
// their message capacity, not the one for calls: a live call to their own
// number still rings them, offered or taken.
func TestOfferedMessageLeavesRoomForCalls(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := voicemailInstance(t, st, newClock())
		alice := in.worker("alice", aliceDID, "Offline")
		in.worker("bob", bobDID, "Unavailable")
		vm := in.voicemailFor(aliceDID)
		if vm.TaskChannel != didrouter.MessageChannel {
			t.Errorf("voicemail on channel %q, want %q", vm.TaskChannel, didrouter.MessageChannel)
		}
		in.setActivity(alice, "Available")
		if got := in.liveWorker(vm.SID); got != alice {
			t.Fatalf("voicemail reserved to %q, want its owner alice", got)
		}
		if busy, msgs := in.loads(alice); busy != 0 || msgs != 1 {
			t.Fatalf("alice with a message offered: busy %d, messages %d; want 0 and 1", busy, msgs)
		}

		// Offered: a caller of alice's number reaches her.
		c := newCall(aliceDID)
		in.answer(c, "alice")
		if r, _, _ := in.eng.LiveReservation(t.Context(), in.ws.SID, vm.SID); r == nil || r.Status != didrouter.ReservationPending {
			t.Fatalf("the message's offer after alice answered a call: %+v, want still pending", r)
		}
		in.hangUp(c)

		// Taken (through the admin API): a caller still reaches her.
		r, _, err := in.eng.LiveReservation(t.Context(), in.ws.SID, vm.SID)
		if err != nil || r == nil {
			t.Fatalf("live reservation of the message: %v %v", r, err)
		}
		status, body := in.api(http.MethodPost, "/v1/Workspaces/"+in.ws.SID+"/Tasks/"+vm.SID+"/Reservations/"+r.SID,
			url.Values{"ReservationStatus": {"accepted"}})
		if status != http.StatusOK || body["reservation_status"] != "accepted" {
			t.Fatalf("accept the message: %d %v", status, body)
		}
		c = newCall(aliceDID)
		in.answer(c, "alice")
		if busy, msgs := in.loads(alice); busy != 1 || msgs != 1 {
			t.Fatalf("alice on a call with a message taken: busy %d, messages %d; want 1 and 1", busy, msgs)
		}
		in.hangUp(c)
		if _, err := in.eng.CompleteTask(t.Context(), in.ws.SID, vm.SID, "listened"); err != nil {
			t.Fatal(err)
		}
		if busy, msgs := in.loads(alice); busy != 0 || msgs != 0 {
			t.Fatalf("alice after both: busy %d, messages %d; want 0 and 0", busy, msgs)
		}
	})
}

// An owner on a live call is offered a message left for them at once: the
// message goes to the owner first, not to bob, who is free.
func TestMessageReachesTheOwnerOnACall(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := voicemailInstance(t, st, newClock())
		alice := in.worker("alice", aliceDID, "Available")
		bob := in.worker("bob", bobDID, "Offline")
		first := newCall(aliceDID)
		in.answer(first, "alice")

		// A second caller waits for alice and leaves a message.
		c := newCall(aliceDID)
		enq, g := in.offered(c)
		if doc := in.twiml(g.attr("action"), c.form("Digits", "1", "CallStatus", "in-progress")); !doc.has("Leave") {
			t.Fatalf("pressing 1 gave %v, want Leave", doc.verbs())
		}
		rec := record(t, in, in.twiml(enq.attr("action"), c.form("QueueResult", "leave", "CallStatus", "in-progress")))
		in.setActivity(bob, "Available") // free, and idle for longer than alice
		in.twiml(rec.attr("action"), c.recording(newRecordingSID(), 20))
		vms := in.voicemails()
		if len(vms) != 1 {
			t.Fatalf("%d voicemails, want 1", len(vms))
		}
		if got := in.liveWorker(vms[0].SID); got != alice {
			t.Fatalf("the message is reserved to %q, want alice (its owner, on a call)", got)
		}
		if busy, msgs := in.loads(alice); busy != 1 || msgs != 1 {
			t.Fatalf("alice: busy %d, messages %d; want 1 and 1", busy, msgs)
		}
		if busy, msgs := in.loads(bob); busy != 0 || msgs != 0 {
			t.Fatalf("bob: busy %d, messages %d; want 0 and 0", busy, msgs)
		}
		// The owner's step ends after 60 s: the message then goes to bob.
		in.advance(61 * time.Second)
		if got := in.liveWorker(vms[0].SID); got != bob {
			t.Fatalf("after the owner's step the message is reserved to %q, want bob", got)
		}
	})
}

// A call-back request moves to the message channel: bob, on a live call,
// is offered it, and stays able to take his next call.
func TestCallbackRequestTakesMessageCapacity(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := voicemailInstance(t, st, newClock())
		in.worker("alice", aliceDID, "Offline")
		bob := in.worker("bob", bobDID, "Available")
		bobs := newCall(bobDID)
		in.answer(bobs, "bob")

		c := newCall(aliceDID)
		enq, g := in.offered(c)
		taskSID := query(t, enq.attr("waitUrl"), "task")
		if task := in.task(taskSID); task.TaskChannel != engine.DefaultTaskChannel {
			t.Fatalf("the waiting call is on channel %q, want voice", task.TaskChannel)
		}
		in.twiml(g.attr("action"), c.form("Digits", "2", "CallStatus", "in-progress"))
		in.hangUp(c)
		if task := in.task(taskSID); task.TaskChannel != didrouter.MessageChannel {
			t.Fatalf("the call-back request is on channel %q, want %q", task.TaskChannel, didrouter.MessageChannel)
		}
		if got := in.liveWorker(taskSID); got != bob {
			t.Fatalf("the call-back request is reserved to %q, want bob (on a call)", got)
		}
		in.hangUp(bobs)
		in.answer(newCall(bobDID), "bob")
		if busy, msgs := in.loads(bob); busy != 1 || msgs != 1 {
			t.Fatalf("bob: busy %d, messages %d; want 1 and 1", busy, msgs)
		}
	})
}

// A call-back request accepted through the admin API (TaskRouter's
// reservation accept) places no call: the client then dials the caller from
// the agent's phone, and that call, through the outbound webhook, completes
// the request and takes the agent's voice capacity as an outbound call.
func TestCallbackAcceptedThroughTheAPI(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := voicemailInstance(t, st, newClock())
		alice := in.worker("alice", aliceDID, "Offline")
		busyBob(t, in)
		c := newCall(aliceDID)
		c.from = "+12125550123"
		_, taskSID := in.requestCallback(c)
		in.hangUp(c)
		in.setActivity(alice, "Available")
		r, _, err := in.eng.LiveReservation(t.Context(), in.ws.SID, taskSID)
		if err != nil || r == nil || r.WorkerSID != alice {
			t.Fatalf("call-back reservation %+v %v, want alice's", r, err)
		}
		status, body := in.api(http.MethodPost, "/v1/Workspaces/"+in.ws.SID+"/Workers/"+alice+"/Reservations/"+r.SID,
			url.Values{"ReservationStatus": {"accepted"}})
		if status != http.StatusOK || body["reservation_status"] != "accepted" {
			t.Fatalf("accept: %d %v", status, body)
		}
		if task := in.task(taskSID); task.AssignmentStatus != didrouter.TaskAssigned {
			t.Fatalf("the request is %s after the API accept, want assigned (no call placed)", task.AssignmentStatus)
		}
		if busy, msgs := in.loads(alice); busy != 0 || msgs != 1 {
			t.Fatalf("alice after the accept: busy %d, messages %d; want 0 and 1", busy, msgs)
		}
		out := url.Values{"AccountSid": {"AC00000000000000000000000000000000"}, "CallSid": {fmt.Sprintf("CA%032x", callCounter.Add(1))},
			"From": {"client:alice"}, "To": {"(212) 555-0123"}, "Direction": {"inbound"}, "CallStatus": {"ringing"}}
		if d := in.twiml(in.webhookURL("/outbound"), out).only(t, "Dial"); d.attr("callerId") != aliceDID {
			t.Errorf("call-back from %q, want alice's DID", d.attr("callerId"))
		}
		if got := in.task(taskSID).AssignmentStatus; got != didrouter.TaskCompleted {
			t.Fatalf("the request is %s after alice dialled the caller, want completed", got)
		}
		if busy, msgs := in.loads(alice); busy != 1 || msgs != 0 {
			t.Fatalf("alice calling back: busy %d, messages %d; want 1 (the outbound call) and 0", busy, msgs)
		}
	})
}

// A caller's place in line counts the callers ahead, not the call-back
// requests of the queue: those wait for a unit of the message channel.
func TestPositionLeavesOutMessages(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := voicemailInstance(t, st, newClock())
		busyBob(t, in)
		first := newCall(sharedDID)
		enq, g := in.offered(first)
		in.twiml(g.attr("action"), first.form("Digits", "2", "CallStatus", "in-progress"))
		in.hangUp(first)
		if task := in.task(query(t, enq.attr("waitUrl"), "task")); task.AssignmentStatus != didrouter.TaskPending || task.TaskChannel != didrouter.MessageChannel {
			t.Fatalf("call-back request %s on %q, want pending on %q", task.AssignmentStatus, task.TaskChannel, didrouter.MessageChannel)
		}
		second := newCall(sharedDID)
		wait := in.incoming(second).only(t, "Enqueue").attr("waitUrl")
		if got := said(in.waitPoll(second, wait, 0)); !strings.Contains(got, "You are next in line.") {
			t.Fatalf("the caller behind a call-back request hears %q, want next in line", got)
		}
	})
}
