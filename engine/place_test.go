package engine_test

import (
	"context"
	"slices"
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
