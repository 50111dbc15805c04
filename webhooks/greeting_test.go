package webhooks_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

// The greeting comes before the task, as in the Flex set-up (Studio said
// the greeting, then sent the call to Flex): the owner's 60 s start when
// the ringing does, so a long greeting does not shorten them.
func TestGreetingDoesNotCountTowardTheOwnersMinute(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := newInstance(t, st, newClock())
		in.worker("alice", aliceDID, "Available")
		in.worker("bob", bobDID, "Available")
		c := newCall(aliceDID)

		first := in.twiml(in.webhookURL("/incoming"), c.form())
		if got := first.verbs(); len(got) != 2 || got[0] != "Say" || got[1] != "Redirect" {
			t.Fatalf("first answer %v, want [Say Redirect]", got)
		}
		if say := first.only(t, "Say"); strings.TrimSpace(say.Text) != engine.SeedGreeting {
			t.Errorf("greeting %q", say.Text)
		}
		if _, err := in.store.TaskByCallSID(context.Background(), in.ws.SID, c.sid); didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
			t.Fatalf("a task exists before the greeting ended: %v", err)
		}

		in.advance(12 * time.Second) // the greeting is spoken
		next := strings.TrimSpace(first.only(t, "Redirect").Text)
		second := in.twiml(next, c.form())
		if second.has("Say") {
			t.Errorf("the greeting is said twice: %v", second.verbs())
		}
		who, dial := dialed(t, second)
		if who != "alice" || dial.attr("timeout") != "60" {
			t.Fatalf("rang %q for %s s, want the owner alice for 60", who, dial.attr("timeout"))
		}
		taskSID := query(t, dial.attr("action"), "task")

		// 58 s of ringing (70 s after the call arrived): still the owner's.
		in.advance(58 * time.Second)
		if task := in.task(taskSID); task.AssignmentStatus != didrouter.TaskReserved || task.TargetIndex != 0 {
			t.Fatalf("after 58 s of ringing the task is %s at target %d, want reserved at the owner step",
				task.AssignmentStatus, task.TargetIndex)
		}
		// At 60 s of ringing the owner step times out and Everyone gets it.
		in.advance(3 * time.Second)
		if task := in.task(taskSID); task.TargetIndex != 1 {
			t.Fatalf("after 61 s of ringing the task is at target %d, want 1 (Everyone)", task.TargetIndex)
		}
	})
}

// A retried first webhook (Twilio did not see the answer) greets again and
// creates nothing; the routing step, retried, finds the call's one task.
func TestGreetingStepIsIdempotent(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := newInstance(t, st, newClock())
		in.worker("alice", aliceDID, "Available")
		c := newCall(aliceDID)
		a := in.twiml(in.webhookURL("/incoming"), c.form())
		b := in.twiml(in.webhookURL("/incoming"), c.form())
		if !a.has("Redirect") || !b.has("Redirect") {
			t.Fatalf("greeting answers %v and %v", a.verbs(), b.verbs())
		}
		next := strings.TrimSpace(a.only(t, "Redirect").Text)
		_, d1 := dialed(t, in.twiml(next, c.form()))
		_, d2 := dialed(t, in.twiml(next, c.form()))
		if query(t, d1.attr("action"), "task") != query(t, d2.attr("action"), "task") {
			t.Fatal("the retried routing step made a second task")
		}
	})
}
