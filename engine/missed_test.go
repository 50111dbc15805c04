package engine_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

// engineWith returns another engine (instance) on the harness's store and
// clock, configured by set.
func (h *harness) engineWith(id string, set func(*engine.Config)) *engine.Engine {
	h.t.Helper()
	cfg := engine.Config{Store: h.store, Clock: h.clock, InstanceID: id}
	if set != nil {
		set(&cfg)
	}
	eng, err := engine.New(cfg)
	if err != nil {
		h.t.Fatalf("New: %v", err)
	}
	return eng
}

// withMissedLimit replaces the harness's engine by one with that rule.
func (h *harness) withMissedLimit(n int) {
	h.t.Helper()
	h.eng = h.engineWith("test", func(c *engine.Config) { c.MissedCallsUnavailable = n })
}

// ring makes a call to nobody's number and checks that it rings w.
func (h *harness) ring(w didrouter.Worker) engine.TaskResult {
	h.t.Helper()
	res := h.call("+12125550100", 0)
	h.wantReserved(res, w)
	return res
}

// decline rejects the live reservation of res's task through eng, as the
// agent's Decline does, then lets the caller hang up (which is not counted).
func (h *harness) decline(eng *engine.Engine, res engine.TaskResult) {
	h.t.Helper()
	if _, err := eng.RejectReservation(h.ctx, h.ws.SID, res.Reservation.SID, didrouter.ReservationRejected); err != nil {
		h.t.Fatalf("RejectReservation: %v", err)
	}
	h.hangUp(res.Task.SID)
}

// hangUp cancels the task as a caller hanging up does.
func (h *harness) hangUp(taskSID string) {
	h.t.Helper()
	if _, err := h.eng.CancelTask(h.ctx, h.ws.SID, taskSID, "caller hung up"); err != nil {
		h.t.Fatalf("CancelTask: %v", err)
	}
}

// activityEvents returns the worker's worker.activity.update events, oldest first.
func (h *harness) activityEvents(w didrouter.Worker) []didrouter.Event {
	h.t.Helper()
	evs, err := h.store.ListEvents(h.ctx, h.ws.SID, didrouter.EventFilter{Page: didrouter.Page{Size: 1000},
		EventType: didrouter.EventWorkerActivityUpdate, WorkerSID: w.SID})
	if err != nil {
		h.t.Fatalf("ListEvents: %v", err)
	}
	return evs
}

// wantActivity checks the worker's activity by name.
func (h *harness) wantActivity(w didrouter.Worker, name, when string) {
	h.t.Helper()
	if got := h.getWorker(w.SID); got.ActivityName != name {
		h.t.Fatalf("%s: %s is %s, want %s", when, w.FriendlyName, got.ActivityName, name)
	}
}

// eventData decodes an event's data.
func eventData(t *testing.T, ev didrouter.Event) map[string]any {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal([]byte(ev.Data), &d); err != nil {
		t.Fatalf("event %s data %q: %v", ev.SID, ev.Data, err)
	}
	return d
}

// wantWorkerChange waits for the change feed to announce a change of w.
func wantWorkerChange(t *testing.T, feed <-chan didrouter.Change, w didrouter.Worker) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case c := <-feed:
			if c.Kind == didrouter.ChangeWorker && c.SID == w.SID {
				return
			}
		case <-deadline:
			t.Fatalf("the change feed did not announce a change of %s", w.FriendlyName)
		}
	}
}

// Three calls missed in a row, declined or let ring out, move the agent to
// Unavailable with an event that says why; the change feed announces it,
// and the next caller is not offered to her.
func TestMissedCallsMoveToUnavailable(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h.withMissedLimit(3)
		alice := h.worker("alice", "", "Available")
		h.decline(h.eng, h.ring(alice)) // 1: declined
		res := h.ring(alice)
		h.advance(engine.DefaultReservationTimeout * time.Second) // 2: rang out
		if got := h.reservation(res.Reservation.SID).Status; got != didrouter.ReservationTimeout {
			t.Fatalf("reservation %s, want timeout", got)
		}
		h.hangUp(res.Task.SID)
		h.wantActivity(alice, "Available", "after two missed calls")
		if evs := h.activityEvents(alice); len(evs) != 0 {
			t.Fatalf("activity events after two missed calls: %+v", evs)
		}

		feed, err := h.store.Subscribe(h.ctx)
		if err != nil {
			t.Fatal(err)
		}
		res = h.ring(alice)
		if _, err := h.eng.RejectReservation(h.ctx, h.ws.SID, res.Reservation.SID, didrouter.ReservationRejected); err != nil {
			t.Fatal(err) // 3: declined
		}
		h.wantActivity(alice, engine.UnavailableActivityName, "after three missed calls")
		wantWorkerChange(t, feed, alice)
		evs := h.activityEvents(alice)
		if len(evs) != 1 {
			t.Fatalf("%d activity events, want 1", len(evs))
		}
		d := eventData(t, evs[0])
		if d["reason"] != engine.ReasonMissedCalls || d["missed_calls"] != float64(3) ||
			d["worker_activity_name"] != "Unavailable" || d["worker_previous_activity"] != "Available" {
			t.Errorf("event data %v, want reason missed_calls, missed_calls 3, Available -> Unavailable", d)
		}
		if !strings.Contains(evs[0].Description, "3 missed calls") {
			t.Errorf("description %q does not say why", evs[0].Description)
		}
		ch, ok, err := h.eng.LastActivityChange(h.ctx, h.ws.SID, alice.SID, t0)
		if err != nil || !ok || ch.Reason != engine.ReasonMissedCalls || ch.MissedCalls != 3 || ch.ActivityName != "Unavailable" {
			t.Errorf("LastActivityChange = %+v, %v, %v", ch, ok, err)
		}
		// The declined caller waits: she is not rung again.
		if r := h.live(res.Task.SID); r != nil {
			t.Errorf("the call rings %s after she was moved", h.getWorker(r.WorkerSID).FriendlyName)
		}
		h.hangUp(res.Task.SID)

		// Back to Available, she starts from zero: two more misses leave her there.
		h.setActivity(alice, "Available")
		h.decline(h.eng, h.ring(alice))
		h.decline(h.eng, h.ring(alice))
		h.wantActivity(alice, "Available", "two misses after coming back")
	})
}

// An accepted call ends the run: two misses, an answer, two misses leave
// the agent Available.
func TestMissedCallsResetOnAccept(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h.withMissedLimit(3)
		alice := h.worker("alice", "", "Available")
		h.decline(h.eng, h.ring(alice))
		h.decline(h.eng, h.ring(alice))
		res := h.ring(alice)
		if _, err := h.eng.AcceptReservation(h.ctx, h.ws.SID, res.Reservation.SID); err != nil {
			t.Fatal(err)
		}
		if _, err := h.eng.CompleteTask(h.ctx, h.ws.SID, res.Task.SID, "call completed"); err != nil {
			t.Fatal(err)
		}
		h.decline(h.eng, h.ring(alice))
		h.decline(h.eng, h.ring(alice))
		h.wantActivity(alice, "Available", "two misses after an answered call")
		h.decline(h.eng, h.ring(alice))
		h.wantActivity(alice, engine.UnavailableActivityName, "three misses after the answered call")
	})
}

// Calls that end without the agent's answer are not hers to count: the
// caller hanging up while she rings, her own move to Offline while ringing.
// Letting the owner's step run out (the DID workflow's 60 s, a rescission)
// is a missed call.
func TestMissedCallsCountOnlyTheAgentsAnswers(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h.withMissedLimit(2)
		alice := h.worker("alice", ownerDID, "Available")
		for range 3 {
			res := h.ring(alice)
			h.hangUp(res.Task.SID) // canceled, not counted
		}
		res := h.ring(alice)
		h.setActivity(alice, "Offline") // her pending reservation is given up, not counted
		if got := h.reservation(res.Reservation.SID).Status; got != didrouter.ReservationRejected {
			t.Fatalf("reservation %s after going Offline, want rejected", got)
		}
		h.hangUp(res.Task.SID)
		h.setActivity(alice, "Available")
		h.wantActivity(alice, "Available", "after calls she did not answer")
		if evs := h.activityEvents(alice); len(evs) != 2 { // her own two changes
			t.Fatalf("%d activity events, want 2", len(evs))
		}

		// The owner's step runs out twice: rescinded, counted.
		for i := range 2 {
			res := h.call(ownerDID, 0)
			h.wantReserved(res, alice)
			h.advance(engine.SeedOwnerTimeout * time.Second)
			if got := h.reservation(res.Reservation.SID).Status; got != didrouter.ReservationRescinded {
				t.Fatalf("call %d: reservation %s, want rescinded", i, got)
			}
			h.hangUp(res.Task.SID)
		}
		h.wantActivity(alice, engine.UnavailableActivityName, "two owner steps run out")
	})
}

// With the rule off nobody is moved, however many calls they miss.
func TestMissedCallsOff(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h.withMissedLimit(0)
		alice := h.worker("alice", "", "Available")
		for range 5 {
			h.decline(h.eng, h.ring(alice))
		}
		h.wantActivity(alice, "Available", "five misses with the rule off")
	})
}

// Two instances count together: the count lives in the store.
func TestMissedCallsAcrossInstances(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h.withMissedLimit(3)
		other := h.engineWith("other", func(c *engine.Config) { c.MissedCallsUnavailable = 3 })
		alice := h.worker("alice", "", "Available")
		h.decline(h.eng, h.ring(alice))
		h.decline(other, h.ring(alice))
		// Neither engine runs its change feed here: catch up by hand.
		if err := h.eng.Sync(h.ctx); err != nil {
			t.Fatal(err)
		}
		h.wantActivity(alice, "Available", "two misses on two instances")
		h.decline(h.eng, h.ring(alice))
		h.wantActivity(alice, engine.UnavailableActivityName, "three misses on two instances")
	})
}

// A workspace without an Unavailable activity leaves the agent where she
// is, with a warning naming her.
func TestMissedCallsWithoutUnavailableActivity(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		var logs syncBuffer
		h.eng = h.engineWith("test", func(c *engine.Config) {
			c.MissedCallsUnavailable = 2
			c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		})
		if err := h.store.Tx(h.ctx, func(tx didrouter.Tx) error {
			return tx.DeleteActivity(h.ctx, h.ws.SID, h.acts["Unavailable"])
		}); err != nil {
			t.Fatal(err)
		}
		alice := h.worker("alice", "", "Available")
		h.decline(h.eng, h.ring(alice))
		h.decline(h.eng, h.ring(alice))
		h.wantActivity(alice, "Available", "no Unavailable activity")
		if out := logs.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, alice.SID) {
			t.Errorf("no warning naming the worker; logs:\n%s", out)
		}
		// The calls still ring her.
		h.hangUp(h.ring(alice).Task.SID)
	})
}

// syncBuffer is a bytes.Buffer safe for a logger and a test at once.
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

// A voicemail or call-back task offered to an agent rings no phone: letting
// it time out is no missed call, so it never moves the agent to Unavailable.
func TestMessagesAreNotMissedCalls(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h.withMissedLimit(1)
		alice := h.worker("alice", "", "Available")
		for i, typ := range []string{"voicemail", "callback"} {
			attrs, _ := json.Marshal(map[string]any{"name": callerNum, "phone_number": "+12125550100", "type": typ})
			res, err := h.eng.CreateTask(h.ctx, engine.TaskInsert{WorkspaceSID: h.ws.SID, Attributes: string(attrs),
				CallSID: fmt.Sprintf("RE%032d", i)})
			if err != nil {
				t.Fatal(err)
			}
			h.wantReserved(res, alice)
			h.advance(engine.DefaultReservationTimeout * time.Second)
			if got := h.reservation(res.Reservation.SID).Status; got != didrouter.ReservationTimeout {
				t.Fatalf("%s reservation %s, want timeout", typ, got)
			}
			h.wantActivity(alice, "Available", "after a "+typ+" timed out")
			if _, err := h.eng.CancelTask(h.ctx, h.ws.SID, res.Task.SID, "handled elsewhere"); err != nil {
				t.Fatal(err)
			}
		}
		// A call is still a call.
		res := h.ring(alice)
		h.advance(engine.DefaultReservationTimeout * time.Second)
		h.hangUp(res.Task.SID)
		h.wantActivity(alice, engine.UnavailableActivityName, "after a missed call")
	})
}

// A caller on the line is served before a voicemail message that has
// waited longer: a freed agent is offered the call.
func TestCallsBeforeMessages(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		alice := h.worker("alice", "", "Offline")
		attrs, _ := json.Marshal(map[string]any{"name": callerNum, "phone_number": "+12125550100", "type": "voicemail"})
		vm, err := h.eng.CreateTask(h.ctx, engine.TaskInsert{WorkspaceSID: h.ws.SID, Attributes: string(attrs), CallSID: fmt.Sprintf("RE%032d", 1)})
		if err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(time.Minute)
		call := h.call("+12125550100", 0)
		if vm.Reservation != nil || call.Reservation != nil {
			t.Fatal("reserved while everyone is offline")
		}
		h.setActivity(alice, "Available")
		if got := h.task(call.Task.SID).AssignmentStatus; got != didrouter.TaskReserved {
			t.Fatalf("the waiting call is %s once alice is available, want reserved (before the older message)", got)
		}
		if got := h.task(vm.Task.SID).AssignmentStatus; got != didrouter.TaskPending {
			t.Fatalf("the message is %s, want pending", got)
		}
	})
}
