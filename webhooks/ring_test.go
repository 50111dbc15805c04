package webhooks_test

import (
	"testing"
	"time"

	"github.com/didrouter/didrouter"
)

// A reservation with less time left than Twilio's shortest ring (5 s) is
// not rung: the phone would still ring after the engine offered the worker
// another call. The caller waits; the timer moves the call on.
func TestNoRingInTheLastSeconds(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := newInstance(t, st, newClock())
		in.worker("bob", "", "Available")
		c := newCall("+15125550000") // nobody's number: Everyone, reservation timeout 120 s
		_, dial := dialed(t, in.incoming(c))
		taskSID := query(t, dial.attr("action"), "task")
		wait := in.webhookURL("/wait") + "?task=" + taskSID
		if doc := in.twiml(wait, c.form("QueueTime", "30")); !doc.has("Leave") {
			t.Fatalf("wait poll with time left: %v, want Leave", doc.verbs())
		}
		in.clock.Advance(117 * time.Second) // 3 s left of the reservation
		if doc := in.twiml(wait, c.form("QueueTime", "60")); doc.has("Leave") {
			t.Fatalf("wait poll 3 s before the reservation times out: %v, want the caller to wait", doc.verbs())
		}
		doc := in.twiml(in.webhookURL("/dequeued")+"?task="+taskSID, c.form("QueueResult", "leave"))
		if doc.has("Dial") {
			t.Fatalf("dequeued 3 s before the reservation times out: %v, want the caller held", doc.verbs())
		}
	})
}
