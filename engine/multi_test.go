package engine_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/store/postgres"
	"github.com/didrouter/didrouter/store/storetest"
)

// openPostgresPair opens two stores on one fresh database: two instances.
func openPostgresPair(t *testing.T) (didrouter.Store, didrouter.Store) {
	t.Helper()
	url := storetest.PostgresURL(t)
	var stores [2]didrouter.Store
	for i := range stores {
		s, err := postgres.Open(t.Context(), url, nil)
		if err != nil {
			t.Fatalf("open store %d: %v", i, err)
		}
		t.Cleanup(s.Close)
		stores[i] = s
	}
	return stores[0], stores[1]
}

// TestTwoInstancesNeverDoubleBookAWorker has two engines, each with its own
// store connection and index, race to create, accept and complete calls
// for a small pool of workers. The store's history must never show a worker
// holding two live reservations at once.
func TestTwoInstancesNeverDoubleBookAWorker(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	sa, sb := openPostgresPair(t)
	clock := didrouter.SystemClock{} // real, distinct timestamps order the history

	// Both instances seed at once: one workspace results.
	var (
		wss  [2]didrouter.Workspace
		errs [2]error
		wg   sync.WaitGroup
	)
	for i, s := range []didrouter.Store{sa, sb} {
		wg.Go(func() { wss[i], errs[i] = engine.Seed(ctx, s, clock) })
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil || wss[0].SID != wss[1].SID {
		t.Fatalf("concurrent Seed: %v %v, workspaces %s %s", errs[0], errs[1], wss[0].SID, wss[1].SID)
	}
	ws := wss[0]
	if list, _ := sa.ListWorkspaces(ctx); len(list) != 1 {
		t.Fatalf("%d workspaces after concurrent seeding", len(list))
	}

	ea, err := engine.New(engine.Config{Store: sa, Clock: clock, InstanceID: "a"})
	if err != nil {
		t.Fatal(err)
	}
	eb, err := engine.New(engine.Config{Store: sb, Clock: clock, InstanceID: "b"})
	if err != nil {
		t.Fatal(err)
	}
	acts, _ := sa.ListActivities(ctx, ws.SID)
	var available string
	for _, a := range acts {
		if a.Available {
			available = a.SID
		}
	}
	const nWorkers = 3
	var workers []didrouter.Worker
	for i := range nWorkers {
		w, err := ea.CreateWorker(ctx, ws.SID, engine.WorkerInsert{FriendlyName: fmt.Sprintf("w%d", i),
			Attributes: fmt.Sprintf(`{"phone_number":"+1512764058%d"}`, i), ActivitySID: available})
		if err != nil {
			t.Fatal(err)
		}
		workers = append(workers, w)
	}
	if err := eb.Sync(ctx); err != nil {
		t.Fatal(err)
	}

	// Each goroutine places calls (to the workers' DIDs, so both the owner
	// step and Everyone are exercised) and answers and hangs up what it got.
	const perGoroutine = 8
	var callErrs sync.Map
	for g, eng := range []*engine.Engine{ea, eb, ea, eb} {
		wg.Go(func() {
			for i := range perGoroutine {
				res, err := eng.CreateTask(ctx, engine.TaskInsert{WorkspaceSID: ws.SID,
					Attributes: fmt.Sprintf(`{"phone_number":"+1512764058%d"}`, i%nWorkers),
					CallSID:    fmt.Sprintf("CA-%d-%d", g, i)})
				if err != nil {
					callErrs.Store(fmt.Sprintf("create %d-%d", g, i), err)
					continue
				}
				if res.Reservation == nil {
					continue
				}
				if i%3 == 2 {
					if _, err := eng.RejectReservation(ctx, ws.SID, res.Reservation.SID, didrouter.ReservationRejected); err != nil &&
						didrouter.ErrorCode(err) != didrouter.EUNAVAILABLE {
						callErrs.Store(fmt.Sprintf("reject %d-%d", g, i), err)
					}
					continue
				}
				if _, err := eng.AcceptReservation(ctx, ws.SID, res.Reservation.SID); err != nil {
					if didrouter.ErrorCode(err) != didrouter.EUNAVAILABLE {
						callErrs.Store(fmt.Sprintf("accept %d-%d", g, i), err)
					}
					continue
				}
				if _, err := eng.CompleteTask(ctx, ws.SID, res.Task.SID, "done"); err != nil {
					callErrs.Store(fmt.Sprintf("complete %d-%d", g, i), err)
				}
			}
		})
	}
	wg.Wait()
	callErrs.Range(func(k, v any) bool {
		t.Errorf("%s: %v", k, v)
		return true
	})
	for _, e := range []*engine.Engine{ea, eb} {
		if err := e.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}

	// History: per worker, each reservation starts after the previous one ended.
	all, err := sa.ListReservations(ctx, ws.SID, didrouter.ReservationFilter{Page: didrouter.Page{Size: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < nWorkers {
		t.Fatalf("only %d reservations were made", len(all))
	}
	byWorker := map[string][]didrouter.Reservation{}
	for _, r := range all {
		byWorker[r.WorkerSID] = append(byWorker[r.WorkerSID], r)
	}
	for _, w := range workers {
		rs := byWorker[w.SID]
		slices.SortFunc(rs, func(a, b didrouter.Reservation) int { return a.DateCreated.Compare(b.DateCreated) })
		live := 0
		for i, r := range rs {
			final := r.Status != didrouter.ReservationPending && r.Status != didrouter.ReservationAccepted
			if !final {
				live++
			}
			if i > 0 {
				prev := rs[i-1]
				prevFinal := prev.Status != didrouter.ReservationPending && prev.Status != didrouter.ReservationAccepted
				if !prevFinal || r.DateCreated.Before(prev.DateUpdated) {
					t.Errorf("worker %s: reservation %s (%s, from %s) overlaps %s (%s, %s..%s)", w.FriendlyName,
						r.SID, r.Status, r.DateCreated.Format(time.RFC3339Nano), prev.SID, prev.Status,
						prev.DateCreated.Format(time.RFC3339Nano), prev.DateUpdated.Format(time.RFC3339Nano))
				}
			}
		}
		got, err := sa.GetWorker(ctx, ws.SID, w.SID)
		if err != nil {
			t.Fatal(err)
		}
		if live > 1 || got.Busy != live {
			t.Errorf("worker %s: %d live reservations, busy %d", w.FriendlyName, live, got.Busy)
		}
	}
	// Every task is in a consistent state: reserved tasks have exactly one
	// pending reservation, pending tasks none.
	tasks, err := sa.ListTasks(ctx, ws.SID, didrouter.TaskFilter{Page: didrouter.Page{Size: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 4*perGoroutine {
		t.Fatalf("%d tasks, want %d", len(tasks), 4*perGoroutine)
	}
	for _, task := range tasks {
		r, _, err := ea.LiveReservation(ctx, ws.SID, task.SID)
		if err != nil {
			t.Fatal(err)
		}
		switch task.AssignmentStatus {
		case didrouter.TaskReserved:
			if r == nil || r.Status != didrouter.ReservationPending {
				t.Errorf("reserved task %s has live reservation %+v", task.SID, r)
			}
		case didrouter.TaskPending, didrouter.TaskCompleted:
			if r != nil {
				t.Errorf("%s task %s has live reservation %+v", task.AssignmentStatus, task.SID, r)
			}
		}
	}
}

// TestStartFiresTimersAndFollowsOtherInstances runs two started engines on
// one database: a worker made available through one is used by the other,
// and the timer loop moves an unanswered call on by itself.
func TestStartFiresTimersAndFollowsOtherInstances(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	sa, sb := openPostgresPair(t)
	clock := didrouter.NewFakeClock(t0)
	ws, err := engine.Seed(ctx, sa, clock)
	if err != nil {
		t.Fatal(err)
	}
	var engs [2]*engine.Engine
	done := make(chan error, 2)
	for i, s := range []didrouter.Store{sa, sb} {
		e, err := engine.New(engine.Config{Store: s, Clock: clock, InstanceID: fmt.Sprint(i), TimerPoll: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		engs[i] = e
		go func() { done <- e.Start(ctx) }()
	}
	eventually(t, "both engines ready", func() bool { return engs[0].Ready() && engs[1].Ready() })

	acts, _ := sa.ListActivities(ctx, ws.SID)
	var available, offline string
	for _, a := range acts {
		switch a.FriendlyName {
		case "Available":
			available = a.SID
		case "Offline":
			offline = a.SID
		}
	}
	owner, err := engs[0].CreateWorker(ctx, ws.SID, engine.WorkerInsert{FriendlyName: "owner",
		Attributes: `{"phone_number":"` + ownerDID + `"}`, ActivitySID: available})
	if err != nil {
		t.Fatal(err)
	}
	other, err := engs[0].CreateWorker(ctx, ws.SID, engine.WorkerInsert{FriendlyName: "other", ActivitySID: offline})
	if err != nil {
		t.Fatal(err)
	}
	// Engine 1 learns of the owner through the change feed: until it has,
	// its calls skip the owner step (they are canceled and placed again).
	var res engine.TaskResult
	attempt := 0
	eventually(t, "engine 1 reserves the owner at the owner step", func() bool {
		attempt++
		res, err = engs[1].CreateTask(ctx, engine.TaskInsert{WorkspaceSID: ws.SID,
			Attributes: `{"phone_number":"` + ownerDID + `"}`, CallSID: fmt.Sprint("CA-start-", attempt)})
		if err != nil {
			t.Fatal(err)
		}
		if res.Reservation != nil && res.Reservation.WorkerSID == owner.SID && res.Task.TargetIndex == 0 {
			return true
		}
		if _, err := engs[1].CancelTask(ctx, ws.SID, res.Task.SID, "retry"); err != nil {
			t.Fatal(err)
		}
		return false
	})
	// The other worker becomes available through engine 0; nobody answers
	// the owner's phone; the timer loops move the call on after 60 s.
	if _, err := engs[0].UpdateWorker(ctx, ws.SID, other.SID, engine.WorkerUpdate{ActivitySID: &available}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(60 * time.Second)
	defer func() {
		if !t.Failed() {
			return
		}
		task, _ := sa.GetTask(ctx, ws.SID, res.Task.SID)
		t.Logf("task: %s target %d rejected %v", task.AssignmentStatus, task.TargetIndex, task.RejectedWorkers)
		rs, _ := sa.ListReservations(ctx, ws.SID, didrouter.ReservationFilter{})
		for _, r := range rs {
			t.Logf("reservation %s worker %s %s", r.SID, r.WorkerSID, r.Status)
		}
		for _, w := range []didrouter.Worker{owner, other} {
			got, _ := sa.GetWorker(ctx, ws.SID, w.SID)
			t.Logf("worker %s %s: available %v busy %d v%d", got.FriendlyName, got.SID, got.Available, got.Busy, got.Version)
		}
		evs, _ := sa.ListEvents(ctx, ws.SID, didrouter.EventFilter{Page: didrouter.Page{Size: 100}})
		for _, e := range evs {
			t.Logf("event %s %s", e.EventType, e.Description)
		}
	}()
	eventually(t, "the call moves to the other worker", func() bool {
		r, _, _ := engs[0].LiveReservation(ctx, ws.SID, res.Task.SID)
		return r != nil && r.WorkerSID == other.SID
	})
	cancel()
	for range 2 {
		if err := <-done; err != context.Canceled {
			t.Fatalf("Start returned %v, want context.Canceled", err)
		}
	}
}

// eventually polls cond until it holds or 10 s pass (a liveness bound, not a
// speed assertion).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStartRunsTimerLoop starts one engine per store kind: the timer loop,
// not the test, moves an unanswered call on when the clock passes 60 s.
func TestStartRunsTimerLoop(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		ctx, cancel := context.WithCancel(h.ctx)
		eng, err := engine.New(engine.Config{Store: h.store, Clock: h.clock, TimerPoll: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		h.eng = eng
		done := make(chan error, 1)
		go func() { done <- eng.Start(ctx) }()
		eventually(t, "engine ready", eng.Ready)
		owner := h.worker("owner", ownerDID, "Available")
		other := h.worker("other", "", "Available")
		res := h.call(ownerDID, 0)
		h.wantReservedFor(res, owner)
		h.clock.Advance(60 * time.Second)
		eventually(t, "the call moves to the other worker", func() bool {
			r := h.live(res.Task.SID)
			return r != nil && r.WorkerSID == other.SID
		})
		cancel()
		if err := <-done; err != context.Canceled {
			t.Fatalf("Start returned %v", err)
		}
		if eng.Ready() {
			t.Fatal("Ready after Start returned")
		}
	})
}

// seededPair seeds one workspace in a fresh Postgres database and returns
// two stores on it, as two instances have, with a fake clock.
func seededPair(t *testing.T) (sa, sb didrouter.Store, ws didrouter.Workspace, clock *didrouter.FakeClock) {
	t.Helper()
	sa, sb = openPostgresPair(t)
	clock = didrouter.NewFakeClock(t0)
	ws, err := engine.Seed(t.Context(), sa, clock)
	if err != nil {
		t.Fatal(err)
	}
	return sa, sb, ws, clock
}

// newEngine is engine.New on s and clock with instance id; cfg, when given,
// sets the rest.
func newEngine(t *testing.T, s didrouter.Store, clock didrouter.Clock, id string, cfg ...engine.Config) *engine.Engine {
	t.Helper()
	var c engine.Config
	if len(cfg) > 0 {
		c = cfg[0]
	}
	c.Store, c.Clock, c.InstanceID = s, clock, id
	e, err := engine.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// runEngine runs e.Start until the test ends, once its index is loaded.
func runEngine(t *testing.T, e *engine.Engine) {
	t.Helper()
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- e.Start(ctx) }()
	t.Cleanup(func() { stop(); <-done })
	eventually(t, "the engine loads its index", e.Ready)
}
