package webhooks_test

import (
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

// A team of two who both miss the call: the caller waits in the queue, and
// after the re-offer cool-down the next poll leaves the queue and rings the
// agent idle longest (the owner), instead of holding until the task's TTL
// while both agents sit idle.
func TestBothMissThenReoffered(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := newInstance(t, st, newClock())
		in.worker("alice", aliceDID, "Available")
		in.worker("bob", "", "Available")

		c := newCall(aliceDID)
		who, dial := dialed(t, in.incoming(c))
		if who != "alice" {
			t.Fatalf("rang %q, want alice", who)
		}
		in.advance(60 * time.Second)
		who, dial = dialed(t, in.twiml(dial.attr("action"), c.form("CallStatus", "in-progress", "DialCallStatus", "no-answer")))
		if who != "bob" {
			t.Fatalf("after alice rang %q, want bob", who)
		}
		in.advance(120 * time.Second)
		doc := in.twiml(dial.attr("action"), c.form("CallStatus", "in-progress", "DialCallStatus", "no-answer"))
		enq := doc.only(t, "Enqueue")
		wait, action := enq.attr("waitUrl"), enq.attr("action")
		if got := in.twiml(wait, c.form("QueueTime", "2", "CallStatus", "in-progress")).verbs(); len(got) == 0 || got[len(got)-1] != "Pause" {
			t.Fatalf("poll right after both missed: %v, want to keep waiting", got)
		}

		in.advance(engine.DefaultReofferAfter)
		if got := in.twiml(wait, c.form("QueueTime", "62", "CallStatus", "in-progress")).verbs(); len(got) != 1 || got[0] != "Leave" {
			t.Fatalf("poll after the cool-down: %v, want [Leave]", got)
		}
		who, _ = dialed(t, in.twiml(action, c.form("QueueResult", "leave", "QueueTime", "63", "CallStatus", "in-progress")))
		if who != "alice" {
			t.Fatalf("re-offer rang %q, want alice (idle longest)", who)
		}
	})
}
