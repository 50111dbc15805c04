package engine_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

// TestNewCallWithStaleIndex: instance b's index still shows the owner free
// (b follows no change feed) while instance a has reserved the owner. A
// call to the owner's DID through b must not double-book the owner: b's
// claim fails inside the call's transaction, the owner step is skipped and
// the other agent gets the call, all in one CreateTask.
func TestNewCallWithStaleIndex(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	sa, sb, ws, clock := seededPair(t)
	ea := newEngine(t, sa, clock, "a")
	eb := newEngine(t, sb, clock, "b")
	available := activityNamed(ctx, t, sa, ws.SID, "Available")
	owner, err := ea.CreateWorker(ctx, ws.SID, engine.WorkerInsert{FriendlyName: "owner",
		Attributes: `{"phone_number":"` + ownerDID + `"}`, ActivitySID: available})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(1) // the owner has been idle longest
	other, err := ea.CreateWorker(ctx, ws.SID, engine.WorkerInsert{FriendlyName: "other", ActivitySID: available})
	if err != nil {
		t.Fatal(err)
	}
	if err := eb.Sync(ctx); err != nil {
		t.Fatal(err)
	}

	first, err := ea.CreateTask(ctx, engine.TaskInsert{WorkspaceSID: ws.SID, CallSID: "CA1",
		Attributes: `{"phone_number":"` + ownerDID + `"}`})
	if err != nil || first.Worker == nil || first.Worker.SID != owner.SID {
		t.Fatalf("first call: %+v, %v; want the owner reserved", first.Worker, err)
	}
	second, err := eb.CreateTask(ctx, engine.TaskInsert{WorkspaceSID: ws.SID, CallSID: "CA2",
		Attributes: `{"phone_number":"` + ownerDID + `"}`})
	if err != nil {
		t.Fatal(err)
	}
	if second.Worker == nil || second.Worker.SID != other.SID {
		t.Fatalf("second call reserved %+v, want the other agent", second.Worker)
	}
	if second.Task.TaskQueueSID == first.Task.TaskQueueSID && second.Task.FilterIndex == first.Task.FilterIndex &&
		second.Task.TargetIndex == first.Task.TargetIndex {
		t.Errorf("second call stayed at the owner step: %+v", second.Task)
	}
	got, err := sa.GetWorker(ctx, ws.SID, owner.SID)
	if err != nil || got.Busy != 1 {
		t.Fatalf("owner busy %d (%v), want 1", got.Busy, err)
	}
	events, err := sa.ListEvents(ctx, ws.SID, didrouter.EventFilter{TaskSID: second.Task.SID})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range events {
		types = append(types, e.EventType)
	}
	want := []string{didrouter.EventTaskCreated, didrouter.EventWorkflowTargetMatched, didrouter.EventTaskQueueEntered,
		didrouter.EventWorkflowSkipped, didrouter.EventWorkflowTargetMatched, didrouter.EventTaskQueueEntered,
		didrouter.EventTaskQueueMoved, didrouter.EventReservationCreated}
	// One transaction at one (fake) time: the events still list in the
	// order they were written.
	if !slices.Equal(types, want) {
		t.Fatalf("events %v, want %v", types, want)
	}
}

func activityNamed(ctx context.Context, t *testing.T, s didrouter.Store, workspaceSID, name string) string {
	t.Helper()
	acts, err := s.ListActivities(ctx, workspaceSID)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range acts {
		if a.FriendlyName == name {
			return a.SID
		}
	}
	t.Fatalf("no activity %q", name)
	return ""
}

// TestNewCallWrittenOnce: a new call's task row is written once in the
// transaction that routes it: inserted reserved when a worker is reserved
// at once, also after skipping a step, and inserted pending when it waits.
// Version 1 says that nothing updated the row after its insert.
func TestNewCallWrittenOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		other := h.worker("other", "", "Available")
		owner := h.worker("owner", ownerDID, "Available")
		wantOnce := func(res engine.TaskResult, status string) {
			t.Helper()
			got := h.task(res.Task.SID)
			if got.Version != 1 || got.AssignmentStatus != status || res.Task.Version != 1 {
				t.Fatalf("task %s stored %s at version %d (answered version %d), want %s at version 1",
					got.SID, got.AssignmentStatus, got.Version, res.Task.Version, status)
			}
		}
		first := h.call(ownerDID, 0)
		h.wantReserved(first, owner)
		wantOnce(first, didrouter.TaskReserved)
		// The owner is busy: the owner step is skipped in the same transaction.
		second := h.call(ownerDID, 0)
		h.wantReserved(second, other)
		wantOnce(second, didrouter.TaskReserved)
		third := h.call(ownerDID, 0)
		if third.Reservation != nil {
			t.Fatalf("third call reserved %+v, want it waiting", third.Reservation)
		}
		wantOnce(third, didrouter.TaskPending)
	})
}

// TestNewCallRetriedConcurrently: retries of a new call racing each other
// make one task and one reservation. A retry that claimed a worker before
// its insert found the call's task rolls the claim back: no other worker
// stays busy (the harness checks Busy against live reservations).
func TestNewCallRetriedConcurrently(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		other := h.worker("other", "", "Available")
		owner := h.worker("owner", ownerDID, "Available")
		res := make([]engine.TaskResult, 6)
		errs := make([]error, len(res))
		var wg sync.WaitGroup
		for i := range res {
			wg.Go(func() {
				res[i], errs[i] = h.eng.CreateTask(h.ctx, engine.TaskInsert{WorkspaceSID: h.ws.SID,
					Attributes: `{"phone_number":"` + ownerDID + `"}`, CallSID: "CA-race"})
			})
		}
		wg.Wait()
		created := 0
		for i, r := range res {
			if errs[i] != nil {
				t.Fatalf("CreateTask %d: %v", i, errs[i])
			}
			if r.Created {
				created++
			}
			if r.Task.SID != res[0].Task.SID || r.Reservation == nil || r.Reservation.WorkerSID != owner.SID {
				t.Fatalf("retry %d answered task %s reservation %+v, want task %s reserved for the owner",
					i, r.Task.SID, r.Reservation, res[0].Task.SID)
			}
		}
		if created != 1 {
			t.Fatalf("%d retries created the task, want 1", created)
		}
		if got := h.getWorker(other.SID); got.Busy != 0 {
			t.Fatalf("the other worker is busy %d after the race, want 0", got.Busy)
		}
	})
}
