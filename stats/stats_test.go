package stats_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/stats"
	"github.com/didrouter/didrouter/store/storetest"
)

var t0 = time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC)

func eachStore(t *testing.T, fn func(t *testing.T, st didrouter.Store)) {
	storetest.Each(t, fn)
}

type fixture struct {
	t     *testing.T
	ctx   context.Context
	st    didrouter.Store
	clock *didrouter.FakeClock
	eng   *engine.Engine
	ws    didrouter.Workspace
	acts  map[string]string
	n     int
}

func newFixture(t *testing.T, st didrouter.Store) *fixture {
	ctx := t.Context()
	clock := didrouter.NewFakeClock(t0)
	ws, err := engine.Seed(ctx, st, clock)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{Store: st, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, ctx: ctx, st: st, clock: clock, eng: eng, ws: ws, acts: map[string]string{}}
	acts, err := st.ListActivities(ctx, ws.SID)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range acts {
		f.acts[a.FriendlyName] = a.SID
	}
	return f
}

func (f *fixture) worker(name, did, activity string) didrouter.Worker {
	f.t.Helper()
	b, _ := json.Marshal(map[string]string{"phone_number": did, "contact_uri": "client:" + name})
	w, err := f.eng.CreateWorker(f.ctx, f.ws.SID, engine.WorkerInsert{FriendlyName: name, Attributes: string(b), ActivitySID: f.acts[activity]})
	if err != nil {
		f.t.Fatal(err)
	}
	return w
}

// call makes the task of an inbound call to `to`; it rings someone.
func (f *fixture) call(to string) engine.TaskResult {
	f.t.Helper()
	f.n++
	attrs, _ := json.Marshal(map[string]any{"name": "+16175551212", "phone_number": to, "type": "inbound", "direction": "inbound"})
	res, err := f.eng.CreateTask(f.ctx, engine.TaskInsert{WorkspaceSID: f.ws.SID, Attributes: string(attrs), CallSID: fmt.Sprintf("CA%032d", f.n)})
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

func (f *fixture) accept(res engine.TaskResult) {
	f.t.Helper()
	if res.Reservation == nil {
		f.t.Fatalf("task %s rings nobody", res.Task.SID)
	}
	if _, err := f.eng.AcceptReservation(f.ctx, f.ws.SID, res.Reservation.SID); err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.eng.CompleteTask(f.ctx, f.ws.SID, res.Task.SID, "done"); err != nil {
		f.t.Fatal(err)
	}
}

// Accepted reservations split into the owner's answers, the others'
// (Everyone) and outbound calls; the wait of inbound ones is kept apart
// from the outbound calls' (none). Abandoned calls are canceled tasks.
func TestAnsweredByWhom(t *testing.T) {
	eachStore(t, func(t *testing.T, st didrouter.Store) {
		f := newFixture(t, st)
		alice := f.worker("alice", "+15127640580", "Available")
		f.worker("bob", "+15127640581", "Offline")

		// Alice's own number: she answers after 4 s.
		res := f.call("+15127640580")
		if res.Reservation == nil || res.Reservation.WorkerSID != alice.SID {
			t.Fatalf("the owner was not rung: %+v", res.Reservation)
		}
		f.clock.Advance(4 * time.Second)
		f.accept(res)

		// Bob's number while he is offline: Alice answers through Everyone
		// after 2 s.
		res = f.call("+15127640581")
		if res.Reservation == nil || res.Reservation.WorkerSID != alice.SID || res.Task.TargetIndex != 1 {
			t.Fatalf("the call did not fall back to Everyone: %+v %+v", res.Task, res.Reservation)
		}
		f.clock.Advance(2 * time.Second)
		f.accept(res)

		// An outbound call Alice places.
		out, err := f.eng.RecordOutboundCall(f.ctx, engine.OutboundCall{WorkspaceSID: f.ws.SID, WorkerSID: alice.SID,
			CallSID: "CAoutbound", Attributes: `{"direction":"outbound","to":"+12125550100"}`})
		if err != nil || !out.Claimed {
			t.Fatalf("outbound call: %+v %v", out, err)
		}

		// A caller who hangs up while Alice is busy with the outbound call.
		res = f.call("+15127640580")
		f.clock.Advance(10 * time.Second)
		if _, err := f.eng.CancelTask(f.ctx, f.ws.SID, res.Task.SID, "hangup"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.eng.CompleteTask(f.ctx, f.ws.SID, out.Task.SID, "call completed: completed"); err != nil {
			t.Fatal(err)
		}

		pass, err := stats.Collect(f.ctx, st, f.ws.SID, stats.Window{Start: t0, End: f.clock.Now()})
		if err != nil {
			t.Fatal(err)
		}
		c := pass.Workspace
		if c.OwnerAnswered != 1 || c.FallbackAnswered != 1 || c.Outbound != 1 {
			t.Errorf("owner %d, fallback %d, outbound %d; want 1 each", c.OwnerAnswered, c.FallbackAnswered, c.Outbound)
		}
		if got := c.Counts[didrouter.EventReservationAccepted]; got != 3 {
			t.Errorf("accepted %d, want 3", got)
		}
		if got := c.Counts[didrouter.EventTaskCanceled]; got != 1 {
			t.Errorf("canceled %d, want 1", got)
		}
		if got := c.InboundWait.Summary(); got.Avg != 3 || got.Min != 2 || got.Max != 4 {
			t.Errorf("inbound wait %+v, want avg 3 (2 and 4)", got)
		}
		if got := c.Accepted.Summary(); got.Avg != 2 {
			t.Errorf("every accepted reservation's wait %+v, want avg 2 (2, 4 and the outbound 0)", got)
		}

		// A window that starts after the calls were routed still tells the
		// owner's answer apart (from the task row).
		res = f.call("+15127640580")
		f.clock.Advance(time.Minute)
		later := f.clock.Now()
		f.accept(res)
		pass, err = stats.Collect(f.ctx, st, f.ws.SID, stats.Window{Start: later, End: f.clock.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if c := pass.Workspace; c.OwnerAnswered != 1 || c.FallbackAnswered != 0 {
			t.Errorf("late window: owner %d, fallback %d; want 1, 0", c.OwnerAnswered, c.FallbackAnswered)
		}
	})
}

// The real-time figures: waiting callers and the oldest one's age.
func TestWaiting(t *testing.T) {
	eachStore(t, func(t *testing.T, st didrouter.Store) {
		f := newFixture(t, st)
		f.worker("alice", "+15127640580", "Offline")
		f.call("+15127640580")
		f.clock.Advance(30 * time.Second)
		f.call("+15127640580")
		f.clock.Advance(5 * time.Second)
		rt, err := stats.Tasks(f.ctx, st, f.ws.SID, "", f.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if rt.Waiting() != 2 || rt.LongestAge != 35 || !rt.LongestCreated.Equal(t0) {
			t.Errorf("waiting %d, longest %d s since %s; want 2, 35 s since %s", rt.Waiting(), rt.LongestAge, rt.LongestCreated, t0)
		}
		acts, total, available, err := stats.Workers(f.ctx, st, f.ws.SID, nil)
		if err != nil {
			t.Fatal(err)
		}
		if total != 1 || available != 0 || len(acts) != 3 {
			t.Errorf("workers %d, available %d, activities %v", total, available, acts)
		}
	})
}
