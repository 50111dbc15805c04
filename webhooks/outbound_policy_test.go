package webhooks_test

import (
	"context"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/dialpolicy"
)

// Toll fraud: by default an agent calls numbers of the default region's
// country only (by the number's region: +1 268 is Antigua, not the US),
// and never premium-rate numbers; each refusal is spoken, nothing dialed,
// nothing recorded.
func TestOutboundDialPolicy(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		def := newOutboundInstance(t, st, mainLine)
		def.worker("alice", aliceDID, "Available")
		ukToo := newOutboundInstanceWith(t, st, mainLine, dialpolicy.Config{Countries: []string{"US", "GB"}})
		open := newOutboundInstanceWith(t, st, mainLine, dialpolicy.Config{Countries: []string{dialpolicy.Any}, AllowPremium: true})
		for _, tc := range []struct {
			name string
			in   *instance
			to   string
			say  string // "" = dialed
			dial string
		}{
			{"US premium rate", def, "+1 900 555 1234", "premium-rate", ""},
			{"São Tomé", def, "+239 222 1234", "this country", ""},
			{"Antigua, in +1", def, "+1 268 460 1234", "this country", ""},
			{"Antigua dialed as a US number would be", def, "268-460-1234", "this country", ""},
			{"Jamaica, in +1", def, "+1 876 555 1234", "this country", ""},
			{"the UK", def, "+44 20 7946 0000", "this country", ""},
			{"a US number", def, "(617) 555-1212", "", "+16175551212"},
			{"the UK, allowed", ukToo, "+44 20 7946 0000", "", "+442079460000"},
			{"UK premium rate, country allowed", ukToo, "+44 871 234 5678", "premium-rate", ""},
			{"everything allowed", open, "+1 900 555 1234", "", "+19005551234"},
			{"everything allowed, São Tomé", open, "+239 222 1234", "", "+2392221234"},
		} {
			sid := newOutboundSID()
			doc := tc.in.twiml(tc.in.webhookURL("/outbound"), outboundForm(sid, "alice", tc.to))
			if tc.say != "" {
				wantSpoken(t, doc, tc.say)
				if n := len(tc.in.tasksOfCall(sid)); n != 0 {
					t.Errorf("%s: a refused call recorded %d tasks", tc.name, n)
				}
				continue
			}
			if number, d := outboundDial(t, doc); number != tc.dial || d.attr("callerId") != aliceDID {
				t.Errorf("%s: dials %s from %s, want %s from %s", tc.name, number, d.attr("callerId"), tc.dial, aliceDID)
			}
			// End the call, so that alice is free for the next one.
			tc.in.twiml(outboundAction(t, doc), url.Values{"CallSid": {sid}, "DialCallStatus": {"completed"}})
		}
	})
}

func outboundAction(t *testing.T, doc node) string {
	t.Helper()
	return doc.only(t, "Dial").attr("action")
}

// workersDown is a store whose worker reads fail while down: the outbound
// webhook then fails and its fallback answers.
type workersDown struct {
	didrouter.Store
	down atomic.Bool
}

func (w *workersDown) GetWorker(ctx context.Context, ws, sid string) (didrouter.Worker, error) {
	if w.down.Load() {
		return didrouter.Worker{}, errUnreachable
	}
	return w.Store.GetWorker(ctx, ws, sid)
}

// Emergency numbers of the default region: off (the default), the agent
// hears that this phone cannot make emergency calls, whoever dials and
// even when didrouter fails; on, the number is dialed as dialed, with the
// agent's DID as caller ID, and recorded like any outbound call.
func TestOutboundEmergencyCalls(t *testing.T) {
	stores(t, func(t *testing.T, raw didrouter.Store) {
		st := &workersDown{Store: raw}
		off := newOutboundInstance(t, st, mainLine)
		off.worker("alice", aliceDID, "Available")
		const noEmergency = "This phone cannot make emergency calls. Please use another phone."
		for _, tc := range []struct{ who, to string }{{"alice", "911"}, {"alice", "112"}, {"mallory", "911"}} {
			sid := newOutboundSID()
			wantSpoken(t, off.twiml(off.webhookURL("/outbound"), outboundForm(sid, tc.who, tc.to)), noEmergency)
			if n := len(off.tasksOfCall(sid)); n != 0 {
				t.Errorf("%s dialing %s: %d tasks", tc.who, tc.to, n)
			}
		}

		on := newOutboundInstanceWith(t, st, "", dialpolicy.Config{EmergencyCalls: true})
		on.worker("bob", bobDID, "Available")
		sid := newOutboundSID()
		doc := on.twiml(on.webhookURL("/outbound"), outboundForm(sid, "bob", "911"))
		number, d := outboundDial(t, doc)
		if number != "911" || d.attr("callerId") != bobDID {
			t.Fatalf("emergency call dials %q from %q, want 911 from bob's DID %s", number, d.attr("callerId"), bobDID)
		}
		tasks := on.tasksOfCall(sid)
		if len(tasks) != 1 {
			t.Fatalf("%d tasks for the emergency call, want 1", len(tasks))
		}
		var attrs map[string]string
		mustJSON(t, tasks[0].Attributes, &attrs)
		if attrs["to"] != "911" || attrs["from"] != bobDID {
			t.Errorf("task attributes %v", attrs)
		}
		on.twiml(outboundAction(t, doc), url.Values{"CallSid": {sid}, "DialCallStatus": {"completed"}})

		// Without a number to call back on, it is not placed.
		on.worker("carol", "", "Available")
		sid = newOutboundSID()
		wantSpoken(t, on.twiml(on.webhookURL("/outbound"), outboundForm(sid, "carol", "911")), noEmergency)
		if n := len(on.tasksOfCall(sid)); n != 0 {
			t.Errorf("an emergency call without a caller ID recorded %d tasks", n)
		}

		// didrouter fails (the store is down): an emergency call hears it
		// cannot be placed from this phone, not "try again later".
		st.down.Store(true)
		defer st.down.Store(false)
		wantSpoken(t, on.twiml(on.webhookURL("/outbound"), outboundForm(newOutboundSID(), "bob", "911")), noEmergency)
		wantSpoken(t, on.twiml(on.webhookURL("/outbound"), outboundForm(newOutboundSID(), "bob", "+16175551212")), "try again later")
	})
}
