package engine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

// checkInvariants asserts what must hold between any two operations, on
// the committed state: every worker's Busy equals its live reservations
// (pending, accepted, wrapping); a reserved task has exactly one pending
// reservation, an assigned one one accepted, a wrapping one one wrapping,
// and a pending or finished task none of those.
func (h *harness) checkInvariants() {
	h.t.Helper()
	h.checkInvariantsAt(h.ctx)
}

// checkInvariantsAt is checkInvariants with its own context (test cleanups
// run after the test's context is canceled).
func (h *harness) checkInvariantsAt(ctx context.Context) {
	h.t.Helper()
	rs, err := h.store.ListReservations(ctx, h.ws.SID, didrouter.ReservationFilter{Page: didrouter.Page{Size: 1000}})
	if err != nil {
		h.t.Fatalf("ListReservations: %v", err)
	}
	tasks, err := h.store.ListTasks(ctx, h.ws.SID, didrouter.TaskFilter{Page: didrouter.Page{Size: 1000}})
	if err != nil {
		h.t.Fatalf("ListTasks: %v", err)
	}
	channel := map[string]string{}
	for _, t := range tasks {
		channel[t.SID] = t.TaskChannel
	}
	live := map[string]int{}              // worker -> live reservations on voice
	liveMsg := map[string]int{}           // and on the message channel
	byTask := map[string]map[string]int{} // task -> status -> count
	for _, r := range rs {
		switch r.Status {
		case didrouter.ReservationPending, didrouter.ReservationAccepted, didrouter.ReservationWrapping:
			if channel[r.TaskSID] == didrouter.MessageChannel {
				liveMsg[r.WorkerSID]++
			} else {
				live[r.WorkerSID]++
			}
		}
		if byTask[r.TaskSID] == nil {
			byTask[r.TaskSID] = map[string]int{}
		}
		byTask[r.TaskSID][r.Status]++
	}
	ws, err := h.store.ListWorkers(ctx, h.ws.SID, didrouter.WorkerFilter{Page: didrouter.Page{Size: 1000}})
	if err != nil {
		h.t.Fatalf("ListWorkers: %v", err)
	}
	for _, w := range ws {
		if w.Busy != live[w.SID] {
			h.t.Errorf("worker %s busy %d, but it has %d live reservations", w.FriendlyName, w.Busy, live[w.SID])
		}
		if w.MessageBusy != liveMsg[w.SID] {
			h.t.Errorf("worker %s holds %d messages, but it has %d live message reservations", w.FriendlyName, w.MessageBusy, liveMsg[w.SID])
		}
	}
	for _, t := range tasks {
		c := byTask[t.SID]
		want := map[string]int{}
		switch t.AssignmentStatus {
		case didrouter.TaskReserved:
			want[didrouter.ReservationPending] = 1
		case didrouter.TaskAssigned:
			want[didrouter.ReservationAccepted] = 1
		case didrouter.TaskWrapping:
			want[didrouter.ReservationWrapping] = 1
		}
		for _, st := range []string{didrouter.ReservationPending, didrouter.ReservationAccepted, didrouter.ReservationWrapping} {
			if c[st] != want[st] {
				h.t.Errorf("task %s is %s with %d %s reservations, want %d", t.SID, t.AssignmentStatus, c[st], st, want[st])
			}
		}
	}
	if h.t.Failed() {
		h.t.FailNow()
	}
}

// TestReviewStepTimerRacesDialAction: at 60 s the step timer and Twilio's
// Dial action (DialCallStatus=no-answer) arrive together; whichever wins,
// the call goes to the next worker exactly once and nobody stays busy.
func TestReviewStepTimerRacesDialAction(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		owner := h.worker("owner", ownerDID, "Available")
		other := h.worker("other", "", "Available")
		res := h.call(ownerDID, 0)
		h.wantReserved(res, owner)
		h.clock.Advance(60 * time.Second)
		var wg sync.WaitGroup
		wg.Go(func() {
			if _, err := h.eng.RunDueTimers(h.ctx); err != nil {
				t.Errorf("RunDueTimers: %v", err)
			}
		})
		wg.Go(func() {
			_, err := h.eng.RejectReservation(h.ctx, h.ws.SID, res.Reservation.SID, didrouter.ReservationTimeout)
			if err != nil && didrouter.ErrorCode(err) != didrouter.EUNAVAILABLE {
				t.Errorf("RejectReservation: %v", err)
			}
		})
		wg.Wait()
		h.checkInvariants()
		r := h.live(res.Task.SID)
		if r == nil || r.WorkerSID != other.SID {
			t.Fatalf("live reservation %+v, want the other worker's", r)
		}
		if _, err := h.eng.AcceptReservation(h.ctx, h.ws.SID, r.SID); err != nil {
			t.Fatal(err)
		}
		h.checkInvariants()
		if _, err := h.eng.CompleteTask(h.ctx, h.ws.SID, res.Task.SID, "done"); err != nil {
			t.Fatal(err)
		}
		h.checkInvariants()
	})
}

// TestReviewWaitingCallerHangsUpAfterReservation: a worker frees up while
// two callers wait; the first waiting caller is reserved, then hangs up
// before the dequeued request: the worker must be freed and serve the
// second caller.
func TestReviewWaitingCallerHangsUpAfterReservation(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		w := h.worker("w", "", "Available")
		first := h.call(ownerDID, 0) // unknown DID: Everyone
		h.wantReserved(first, w)
		if _, err := h.eng.AcceptReservation(h.ctx, h.ws.SID, first.Reservation.SID); err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(time.Second)
		a := h.call(ownerDID, 0)
		h.clock.Advance(time.Second)
		b := h.call(ownerDID, 0)
		h.checkInvariants()
		if _, err := h.eng.CompleteTask(h.ctx, h.ws.SID, first.Task.SID, "done"); err != nil {
			t.Fatal(err)
		}
		h.checkInvariants()
		ra := h.live(a.Task.SID)
		if ra == nil || ra.WorkerSID != w.SID {
			t.Fatalf("waiting call a not reserved for w: %+v", ra)
		}
		if _, err := h.eng.CancelTask(h.ctx, h.ws.SID, a.Task.SID, "caller hung up"); err != nil {
			t.Fatal(err)
		}
		h.checkInvariants()
		rb := h.live(b.Task.SID)
		if rb == nil || rb.WorkerSID != w.SID {
			t.Fatalf("waiting call b not served after a hung up: %+v", rb)
		}
	})
}

// TestReviewWaitingReservationTimesOut: a reservation made for a waiting
// caller whom Twilio never polls again times out after 120 s; the worker
// is freed and serves the next waiting caller.
func TestReviewWaitingReservationTimesOut(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		w := h.worker("w", "", "Offline")
		a := h.call(ownerDID, 0)
		h.clock.Advance(time.Second)
		b := h.call(ownerDID, 0)
		h.setActivity(w, "Available")
		h.checkInvariants()
		ra := h.live(a.Task.SID)
		if ra == nil || ra.WorkerSID != w.SID {
			t.Fatalf("a not reserved for w: %+v", ra)
		}
		h.advance(120 * time.Second)
		h.checkInvariants()
		if got := h.reservation(ra.SID).Status; got != didrouter.ReservationTimeout {
			t.Fatalf("a's reservation %s, want timeout", got)
		}
		rb := h.live(b.Task.SID)
		if rb == nil || rb.WorkerSID != w.SID {
			t.Fatalf("b not served after a's reservation timed out: %+v", rb)
		}
	})
}

// TestReviewWorkerOfflineOrDeletedWhileRinging: the ringing owner goes
// Offline (or is deleted): the call moves on at once and counts stay right.
func TestReviewWorkerOfflineOrDeletedWhileRinging(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		owner := h.worker("owner", ownerDID, "Available")
		other := h.worker("other", "", "Available")
		res := h.call(ownerDID, 0)
		h.wantReserved(res, owner)
		h.setActivity(owner, "Offline")
		h.checkInvariants()
		r := h.live(res.Task.SID)
		if r == nil || r.WorkerSID != other.SID {
			t.Fatalf("after the owner went offline: %+v, want other", r)
		}
		third := h.worker("third", "", "Available")
		res2 := h.call(ownerDID, 0)
		h.wantReserved(res2, third)
		if err := h.eng.DeleteWorker(h.ctx, h.ws.SID, third.SID); err != nil {
			t.Fatal(err)
		}
		h.checkInvariants()
		if got := h.task(res2.Task.SID).AssignmentStatus; got != didrouter.TaskPending {
			t.Fatalf("task of the deleted worker's call is %s, want pending", got)
		}
		h.advance(5 * time.Minute)
		h.checkInvariants()
	})
}

// TestReviewLongestIdleAfterCall: the worker who just finished a call goes
// behind the one who has been idle longer.
func TestReviewLongestIdleAfterCall(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		a := h.worker("a", "", "Available")
		b := h.worker("b", "", "Available")
		for i, want := range []didrouter.Worker{a, b, a, b} {
			h.clock.Advance(time.Second)
			res := h.call("+15125550100", 0)
			h.wantReserved(res, want)
			if _, err := h.eng.AcceptReservation(h.ctx, h.ws.SID, res.Reservation.SID); err != nil {
				t.Fatal(err)
			}
			h.clock.Advance(time.Second)
			if _, err := h.eng.CompleteTask(h.ctx, h.ws.SID, res.Task.SID, "done"); err != nil {
				t.Fatal(err)
			}
			h.checkInvariants()
			_ = i
		}
	})
}

// TestReviewTTLWhileReservedAndWrapUp: the task TTL cancels a reserved
// task and frees its worker.
func TestReviewTTLWhileReserved(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		w := h.worker("w", "", "Available")
		attrs := `{"phone_number":"+15125550100"}`
		res, err := h.eng.CreateTask(h.ctx, engine.TaskInsert{WorkspaceSID: h.ws.SID, Attributes: attrs, Timeout: 30})
		if err != nil {
			t.Fatal(err)
		}
		h.wantReserved(res, w)
		h.advance(30 * time.Second)
		h.checkInvariants()
		if got := h.task(res.Task.SID).AssignmentStatus; got != didrouter.TaskCanceled {
			t.Fatalf("task %s, want canceled", got)
		}
	})
}

// The Dial action and the status callback both report the end of one
// call, and the task wraps up once. Only the wrap-up timer or an explicit
// CompleteTask completes it.
func TestReviewEndCallOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		eng, err := engine.New(engine.Config{Store: h.store, Clock: h.clock, WrapUp: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		w := h.worker("w", "", "Available")
		res := h.call(ownerDID, 0)
		h.wantReserved(res, w)
		if _, err := eng.EndCall(h.ctx, h.ws.SID, res.Task.SID, "call completed"); didrouter.ErrorCode(err) != didrouter.EUNAVAILABLE {
			t.Fatalf("EndCall of a reserved task: %v, want EUNAVAILABLE", err)
		}
		if _, err := eng.AcceptReservation(h.ctx, h.ws.SID, res.Reservation.SID); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			got, err := eng.EndCall(h.ctx, h.ws.SID, res.Task.SID, "call completed")
			if err != nil || got.AssignmentStatus != didrouter.TaskWrapping {
				t.Fatalf("EndCall: %s %v, want wrapping", got.AssignmentStatus, err)
			}
			h.checkInvariants()
		}
		h.clock.Advance(30 * time.Second)
		if _, err := eng.RunDueTimers(h.ctx); err != nil {
			t.Fatal(err)
		}
		if got := h.task(res.Task.SID).AssignmentStatus; got != didrouter.TaskCompleted {
			t.Fatalf("after the wrap-up: %s", got)
		}
		h.checkInvariants()
		if got, err := eng.EndCall(h.ctx, h.ws.SID, res.Task.SID, ""); err != nil || got.AssignmentStatus != didrouter.TaskCompleted {
			t.Fatalf("EndCall of a completed task: %s %v", got.AssignmentStatus, err)
		}
	})
}

// TestReviewWrapUpTwoTasksOneWorker: a worker with capacity 2 wraps up two
// calls at once; each call's wrap-up timer completes its own task.
func TestReviewWrapUpTwoTasksOneWorker(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		eng, err := engine.New(engine.Config{Store: h.store, Clock: h.clock, WrapUp: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		w := h.worker("w", "", "Available")
		two := 2
		if _, err := eng.UpdateWorker(h.ctx, h.ws.SID, w.SID, engine.WorkerUpdate{Capacity: &two}); err != nil {
			t.Fatal(err)
		}
		var tasks []string
		for range 2 {
			res := h.call(ownerDID, 0)
			if res.Reservation == nil || res.Reservation.WorkerSID != w.SID {
				t.Fatalf("call not reserved for w: %+v", res.Reservation)
			}
			if _, err := eng.AcceptReservation(h.ctx, h.ws.SID, res.Reservation.SID); err != nil {
				t.Fatal(err)
			}
			tasks = append(tasks, res.Task.SID)
		}
		for _, sid := range tasks {
			h.clock.Advance(time.Second)
			if _, err := eng.CompleteTask(h.ctx, h.ws.SID, sid, "done"); err != nil {
				t.Fatal(err)
			}
		}
		h.checkInvariants()
		h.clock.Advance(time.Minute)
		if _, err := eng.RunDueTimers(h.ctx); err != nil {
			t.Fatal(err)
		}
		for _, sid := range tasks {
			if got := h.task(sid).AssignmentStatus; got != didrouter.TaskCompleted {
				t.Errorf("task %s is %s a minute after its call, want completed", sid, got)
			}
		}
		h.checkInvariants()
		if got := h.getWorker(w.SID).Busy; got != 0 {
			t.Fatalf("worker busy %d after both wrap-ups, want 0", got)
		}
	})
}

// TestReviewConcurrentCallFlowKeepsCounts drives several calls at once
// through the webhook-level operations in random interleavings (accept,
// decline, no answer, caller hangs up, call ends, workers toggling their
// activity, timers firing) and checks the invariants once all is quiet.
func TestReviewConcurrentCallFlowKeepsCounts(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		var workers []didrouter.Worker
		for i := range 4 {
			did := ""
			if i < 2 {
				did = fmt.Sprintf("+1512764058%d", i)
			}
			workers = append(workers, h.worker(fmt.Sprintf("w%d", i), did, "Available"))
		}
		rng := rand.New(rand.NewPCG(1, 2))
		for round := range 6 {
			var calls []engine.TaskResult
			for i := range 6 {
				to := fmt.Sprintf("+1512764058%d", i%3)
				calls = append(calls, h.callWith(fmt.Sprintf("CA%030d%02d", round, i), to, 0))
			}
			seeds := make([]uint64, len(calls))
			for i := range seeds {
				seeds[i] = rng.Uint64()
			}
			var wg sync.WaitGroup
			for i, c := range calls {
				wg.Go(func() {
					r := rand.New(rand.NewPCG(seeds[i], 7))
					for range 4 {
						res, _, err := h.eng.LiveReservation(h.ctx, h.ws.SID, c.Task.SID)
						if err != nil {
							t.Errorf("LiveReservation: %v", err)
							return
						}
						switch op := r.IntN(6); {
						case op == 0 && res != nil:
							_, err = h.eng.AcceptReservation(h.ctx, h.ws.SID, res.SID)
						case op == 1 && res != nil:
							_, err = h.eng.RejectReservation(h.ctx, h.ws.SID, res.SID, didrouter.ReservationRejected)
						case op == 2 && res != nil:
							_, err = h.eng.RejectReservation(h.ctx, h.ws.SID, res.SID, didrouter.ReservationTimeout)
						case op == 3:
							_, err = h.eng.CancelTask(h.ctx, h.ws.SID, c.Task.SID, "caller hung up")
						case op == 4:
							_, err = h.eng.EndCall(h.ctx, h.ws.SID, c.Task.SID, "call completed")
						default:
							w := workers[r.IntN(len(workers))]
							act := h.acts["Available"]
							if r.IntN(2) == 0 {
								act = h.acts["Offline"]
							}
							_, err = h.eng.UpdateWorker(h.ctx, h.ws.SID, w.SID, engine.WorkerUpdate{ActivitySID: &act})
						}
						if err != nil && didrouter.ErrorCode(err) != didrouter.EUNAVAILABLE && didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
							t.Errorf("operation: %v", err)
						}
					}
				})
			}
			wg.Go(func() {
				for range 3 {
					h.clock.Advance(30 * time.Second)
					if _, err := h.eng.RunDueTimers(h.ctx); err != nil {
						t.Errorf("RunDueTimers: %v", err)
					}
				}
			})
			wg.Wait()
			h.checkInvariants()
		}
		// Everyone available again, every call ended: nobody stays busy.
		for _, w := range workers {
			h.setActivity(w, "Available")
		}
		tasks, _ := h.store.ListTasks(h.ctx, h.ws.SID, didrouter.TaskFilter{Page: didrouter.Page{Size: 1000}})
		for _, task := range tasks {
			switch task.AssignmentStatus {
			case didrouter.TaskPending, didrouter.TaskReserved:
				if _, err := h.eng.CancelTask(h.ctx, h.ws.SID, task.SID, "end"); err != nil {
					t.Fatal(err)
				}
			case didrouter.TaskAssigned, didrouter.TaskWrapping:
				if _, err := h.eng.CompleteTask(h.ctx, h.ws.SID, task.SID, "end"); err != nil {
					t.Fatal(err)
				}
			}
		}
		h.checkInvariants()
		for _, w := range workers {
			if got := h.getWorker(w.SID); got.Busy != 0 {
				t.Errorf("%s busy %d at the end", got.FriendlyName, got.Busy)
			}
		}
	})
}

// TestReviewCancelCall: a call that ended before it was routed gets a
// canceled task, whichever of CancelCall and CreateTask comes first.
func TestReviewCancelCall(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		w := h.worker("w", ownerDID, "Available")
		attrs := `{"phone_number":"` + ownerDID + `"}`
		// Status callback first, then the incoming webhook.
		got, err := h.eng.CancelCall(h.ctx, engine.TaskInsert{WorkspaceSID: h.ws.SID, Attributes: attrs, CallSID: "CA1"}, "caller hung up")
		if err != nil || got.AssignmentStatus != didrouter.TaskCanceled {
			t.Fatalf("CancelCall: %s %v", got.AssignmentStatus, err)
		}
		res := h.callWith("CA1", ownerDID, 0)
		if res.Created || res.Task.SID != got.SID || res.Task.AssignmentStatus != didrouter.TaskCanceled || res.Reservation != nil {
			t.Fatalf("CreateTask after CancelCall: created %v task %s %s reservation %v", res.Created, res.Task.SID,
				res.Task.AssignmentStatus, res.Reservation)
		}
		wantContains(t, h.eventTypes(got.SID), didrouter.EventTaskCreated, didrouter.EventTaskCanceled)
		h.checkInvariants()
		// The incoming webhook first (the worker is reserved), then CancelCall.
		res = h.callWith("CA2", ownerDID, 0)
		h.wantReserved(res, w)
		got, err = h.eng.CancelCall(h.ctx, engine.TaskInsert{WorkspaceSID: h.ws.SID, Attributes: attrs, CallSID: "CA2"}, "caller hung up")
		if err != nil || got.SID != res.Task.SID || got.AssignmentStatus != didrouter.TaskCanceled {
			t.Fatalf("CancelCall of a reserved call: %s %s %v", got.SID, got.AssignmentStatus, err)
		}
		h.checkInvariants()
		if b := h.getWorker(w.SID).Busy; b != 0 {
			t.Fatalf("worker busy %d after the call was canceled", b)
		}
		// Again: unchanged.
		if again, err := h.eng.CancelCall(h.ctx, engine.TaskInsert{WorkspaceSID: h.ws.SID, Attributes: attrs, CallSID: "CA2"}, "x"); err != nil || again.Reason != "caller hung up" {
			t.Fatalf("CancelCall twice: %+v %v", again, err)
		}
	})
}

// feedStore is a store whose change feed the test writes: notifications
// "lost" with a broken connection are simply never sent.
type feedStore struct {
	didrouter.Store
	feed chan didrouter.Change
}

func (s *feedStore) Subscribe(ctx context.Context) (<-chan didrouter.Change, error) {
	return s.feed, nil
}

// TestReviewResyncServesWaitingTasks: an instance whose change feed lost
// notifications (its index still shows a worker busy whom another instance
// freed) parks a new call in the queue; the resync that follows the
// reconnect must place it, not only reload the index.
func TestReviewResyncServesWaitingTasks(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		ctx, cancel := context.WithCancel(h.ctx)
		defer cancel()
		w := h.worker("w", "", "Available")
		fs := &feedStore{Store: h.store, feed: make(chan didrouter.Change, 16)}
		a, err := engine.New(engine.Config{Store: fs, Clock: h.clock, InstanceID: "a", TimerPoll: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- a.Start(ctx) }()
		defer func() { cancel(); <-done }()
		eventually(t, "instance a ready", a.Ready)

		first, err := a.CreateTask(h.ctx, engine.TaskInsert{WorkspaceSID: h.ws.SID, Attributes: `{"phone_number":"+15125550100"}`, CallSID: "CA-r1"})
		if err != nil || first.Reservation == nil || first.Reservation.WorkerSID != w.SID {
			t.Fatalf("first call: %+v %v", first.Reservation, err)
		}
		if _, err := a.AcceptReservation(h.ctx, h.ws.SID, first.Reservation.SID); err != nil {
			t.Fatal(err)
		}
		// The call ends on the other instance; a never hears that w is free.
		if _, err := h.eng.CompleteTask(h.ctx, h.ws.SID, first.Task.SID, "done"); err != nil {
			t.Fatal(err)
		}
		second, err := a.CreateTask(h.ctx, engine.TaskInsert{WorkspaceSID: h.ws.SID, Attributes: `{"phone_number":"+15125550100"}`, CallSID: "CA-r2"})
		if err != nil {
			t.Fatal(err)
		}
		if second.Reservation != nil {
			t.Skip("instance a saw the worker free without the feed; nothing to resync")
		}
		fs.feed <- didrouter.Change{Kind: didrouter.ChangeResync}
		eventually(t, "the waiting call is placed after the resync", func() bool {
			r := h.live(second.Task.SID)
			return r != nil && r.WorkerSID == w.SID
		})
		h.checkInvariants()
	})
}

// An instance that died between freeing a worker and serving the waiting
// calls leaves a caller waiting beside an idle agent. The test makes the
// worker row available behind the engine's back to get there. The next
// instance to start must place the call.
func TestReviewStartServesWaitingTasks(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		w := h.worker("w", "", "Offline")
		res := h.call("+15125550100", 0)
		if res.Reservation != nil {
			t.Fatal("reserved an offline worker")
		}
		err := h.store.Tx(h.ctx, func(tx didrouter.Tx) error {
			row, err := tx.GetWorker(h.ctx, h.ws.SID, w.SID)
			if err != nil {
				return err
			}
			act, err := tx.GetActivity(h.ctx, h.ws.SID, h.acts["Available"])
			if err != nil {
				return err
			}
			row.ActivitySID, row.ActivityName, row.Available = act.SID, act.FriendlyName, true
			return tx.UpdateWorker(h.ctx, row)
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(h.ctx)
		a, err := engine.New(engine.Config{Store: h.store, Clock: h.clock, InstanceID: "restarted", TimerPoll: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- a.Start(ctx) }()
		defer func() { cancel(); <-done }()
		eventually(t, "the waiting call is placed when an instance starts", func() bool {
			r := h.live(res.Task.SID)
			return r != nil && r.WorkerSID == w.SID
		})
		h.checkInvariants()
	})
}
