package engine_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

func TestWorkerPhoneNumberIsNormalized(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		w, err := h.eng.CreateWorker(h.ctx, h.ws.SID, engine.WorkerInsert{FriendlyName: "alice",
			Attributes: `{"phone_number":"(512) 764-0580","skills":["es"]}`})
		if err != nil {
			t.Fatalf("CreateWorker: %v", err)
		}
		if w.PhoneNumber != ownerDID {
			t.Fatalf("PhoneNumber %q, want %s", w.PhoneNumber, ownerDID)
		}
		var attrs map[string]any
		if err := json.Unmarshal([]byte(w.Attributes), &attrs); err != nil {
			t.Fatal(err)
		}
		if attrs["phone_number"] != ownerDID || attrs["skills"] == nil {
			t.Fatalf("attributes %s, want phone_number rewritten and skills kept", w.Attributes)
		}
		if w.ActivitySID != h.ws.DefaultActivitySID || w.Available || w.Capacity != 1 {
			t.Fatalf("new worker activity %s available %v capacity %d, want the default (Offline), capacity 1",
				w.ActivityName, w.Available, w.Capacity)
		}
		// A call to the DID written without +1 still finds her (CONTAINS).
		h.setActivity(w, "Available")
		res := h.call(ownerDID, 0)
		h.wantReserved(res, w)
	})
}

func TestWorkerPhoneNumberErrors(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		owner := h.worker("owner", ownerDID, "Available")
		cases := []struct {
			attrs, code, text string
		}{
			{`{"phone_number":"555-2671"}`, didrouter.EINVALID, "not a valid phone number"},
			{`{"phone_number":"call me"}`, didrouter.EINVALID, "not a valid phone number"},
			{`{"phone_number":15127640580}`, didrouter.EINVALID, "must be a string"},
			{`[1,2]`, didrouter.EINVALID, "JSON object"},
			{`{"phone_number":"512-764-0580"}`, didrouter.ECONFLICT, owner.SID},
		}
		for _, c := range cases {
			_, err := h.eng.CreateWorker(h.ctx, h.ws.SID, engine.WorkerInsert{FriendlyName: "bob", Attributes: c.attrs})
			if didrouter.ErrorCode(err) != c.code || !strings.Contains(didrouter.ErrorMessage(err), c.text) {
				t.Errorf("CreateWorker(%s) = %v, want %s mentioning %q", c.attrs, err, c.code, c.text)
			}
		}
		// Updating another worker onto the owner's number conflicts too.
		bob := h.worker("bob", "", "Available")
		attrs := `{"phone_number":"+1 512 764 0580"}`
		if _, err := h.eng.UpdateWorker(h.ctx, h.ws.SID, bob.SID, engine.WorkerUpdate{Attributes: &attrs}); didrouter.ErrorCode(err) != didrouter.ECONFLICT {
			t.Fatalf("UpdateWorker onto a taken DID: %v, want ECONFLICT", err)
		}
		// Empty and missing numbers mean no DID.
		for _, a := range []string{`{"phone_number":""}`, `{}`, `{"phone_number":null}`} {
			w, err := h.eng.UpdateWorker(h.ctx, h.ws.SID, bob.SID, engine.WorkerUpdate{Attributes: &a})
			if err != nil || w.PhoneNumber != "" {
				t.Fatalf("UpdateWorker(%s) = %q, %v; want no DID", a, w.PhoneNumber, err)
			}
		}
		bad := "WA00000000000000000000000000000000"
		if _, err := h.eng.UpdateWorker(h.ctx, h.ws.SID, bob.SID, engine.WorkerUpdate{ActivitySID: &bad}); didrouter.ErrorCode(err) != didrouter.EINVALID {
			t.Fatalf("UpdateWorker to an unknown activity: %v, want EINVALID", err)
		}
	})
}

func TestWorkerChangesMoveCalls(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		owner := h.worker("owner", ownerDID, "Available")
		other := h.worker("other", "", "Available")
		res := h.call(ownerDID, 0)
		h.wantReserved(res, owner)
		// The owner going offline while the phone rings passes the call on at once.
		h.setActivity(owner, "Offline")
		if r := h.live(res.Task.SID); r == nil || r.WorkerSID != other.SID {
			t.Fatalf("live reservation %+v, want the other worker's", r)
		}
		if got := h.getWorker(owner.SID); got.Busy != 0 || got.Available {
			t.Fatalf("owner busy %d available %v", got.Busy, got.Available)
		}
		// Deleting a worker who is on a call is refused; deleting a free one works.
		r := h.live(res.Task.SID)
		if _, err := h.eng.AcceptReservation(h.ctx, h.ws.SID, r.SID); err != nil {
			t.Fatal(err)
		}
		if err := h.eng.DeleteWorker(h.ctx, h.ws.SID, other.SID); didrouter.ErrorCode(err) != didrouter.EUNAVAILABLE {
			t.Fatalf("DeleteWorker of a busy worker: %v, want EUNAVAILABLE", err)
		}
		if err := h.eng.DeleteWorker(h.ctx, h.ws.SID, owner.SID); err != nil {
			t.Fatalf("DeleteWorker: %v", err)
		}
		if _, err := h.store.GetWorker(h.ctx, h.ws.SID, owner.SID); didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
			t.Fatalf("deleted worker still there: %v", err)
		}
		// The DID is free again, and a deleted worker is never offered a call.
		nu := h.worker("new owner", ownerDID, "Available")
		h.wantReserved(h.call(ownerDID, 0), nu)
	})
}

func TestAttributeChangeMakesWorkerEligible(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		w := h.worker("agent", "", "Available")
		q, err := h.eng.CreateTaskQueue(h.ctx, h.ws.SID, engine.TaskQueueInsert{FriendlyName: "Spanish",
			TargetWorkers: `languages HAS "es"`})
		if err != nil {
			t.Fatalf("CreateTaskQueue: %v", err)
		}
		wf, err := h.eng.CreateWorkflow(h.ctx, h.ws.SID, engine.WorkflowInsert{FriendlyName: "Spanish line",
			Configuration: `{"task_routing":{"default_filter":{"queue":"` + q.SID + `"}}}`})
		if err != nil {
			t.Fatalf("CreateWorkflow: %v", err)
		}
		res, err := h.eng.CreateTask(h.ctx, engine.TaskInsert{WorkspaceSID: h.ws.SID, WorkflowSID: wf.SID, Attributes: `{}`})
		if err != nil || res.Reservation != nil {
			t.Fatalf("CreateTask: %+v, %v; want waiting", res.Reservation, err)
		}
		attrs := `{"languages":["en","es"]}`
		if _, err := h.eng.UpdateWorker(h.ctx, h.ws.SID, w.SID, engine.WorkerUpdate{Attributes: &attrs}); err != nil {
			t.Fatal(err)
		}
		if r := h.live(res.Task.SID); r == nil || r.WorkerSID != w.SID {
			t.Fatalf("after the attribute change: live %+v, want the agent's", r)
		}
	})
}

func TestQueueChangeServesWaitingTasks(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		w := h.worker("agent", "", "Available")
		q, err := h.eng.CreateTaskQueue(h.ctx, h.ws.SID, engine.TaskQueueInsert{FriendlyName: "Nobody", TargetWorkers: "1==2"})
		if err != nil {
			t.Fatal(err)
		}
		wf, err := h.eng.CreateWorkflow(h.ctx, h.ws.SID, engine.WorkflowInsert{FriendlyName: "Q",
			Configuration: `{"task_routing":{"default_filter":{"queue":"` + q.SID + `"}}}`})
		if err != nil {
			t.Fatal(err)
		}
		res, err := h.eng.CreateTask(h.ctx, engine.TaskInsert{WorkspaceSID: h.ws.SID, WorkflowSID: wf.SID})
		if err != nil || res.Reservation != nil {
			t.Fatalf("CreateTask: %+v, %v", res.Reservation, err)
		}
		everyone := "1==1"
		if _, err := h.eng.UpdateTaskQueue(h.ctx, h.ws.SID, q.SID, engine.TaskQueueUpdate{TargetWorkers: &everyone}); err != nil {
			t.Fatal(err)
		}
		if r := h.live(res.Task.SID); r == nil || r.WorkerSID != w.SID {
			t.Fatalf("after the queue change: live %+v", r)
		}
	})
}

func TestConfigValidation(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		_, err := h.eng.CreateTaskQueue(h.ctx, h.ws.SID, engine.TaskQueueInsert{FriendlyName: "bad", TargetWorkers: "languages HAS"})
		if didrouter.ErrorCode(err) != didrouter.EINVALID || !strings.Contains(didrouter.ErrorMessage(err), "target_workers") {
			t.Fatalf("bad target_workers: %v", err)
		}
		_, err = h.eng.CreateWorkflow(h.ctx, h.ws.SID, engine.WorkflowInsert{FriendlyName: "bad",
			Configuration: `{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"WQ00000000000000000000000000000000"}]}]}}`})
		if didrouter.ErrorCode(err) != didrouter.EINVALID || !strings.Contains(didrouter.ErrorMessage(err), "task_routing.filters[0].targets[0]") {
			t.Fatalf("unknown queue: %v", err)
		}
		cfg := `{"task_routing":{"filters":[{"expression":"type == ","targets":[{"queue":"` + h.queue + `"}]}]}}`
		_, err = h.eng.CreateWorkflow(h.ctx, h.ws.SID, engine.WorkflowInsert{FriendlyName: "bad", Configuration: cfg})
		if didrouter.ErrorCode(err) != didrouter.EINVALID || !strings.Contains(didrouter.ErrorMessage(err), "filters[0].expression") {
			t.Fatalf("bad expression: %v", err)
		}
		_, err = h.eng.UpdateWorkflow(h.ctx, h.ws.SID, h.ws.DefaultWorkflowSID, engine.WorkflowUpdate{Configuration: &cfg})
		if didrouter.ErrorCode(err) != didrouter.EINVALID {
			t.Fatalf("UpdateWorkflow with a bad expression: %v", err)
		}
		if _, err := h.eng.CreateTask(h.ctx, engine.TaskInsert{WorkspaceSID: h.ws.SID, Attributes: `not json`}); didrouter.ErrorCode(err) != didrouter.EINVALID {
			t.Fatalf("CreateTask with bad attributes: %v", err)
		}
		if err := h.eng.DeleteTaskQueue(h.ctx, h.ws.SID, h.queue); didrouter.ErrorCode(err) != didrouter.ECONFLICT {
			t.Fatalf("deleting a queue the DID workflow uses: %v", err)
		}
		if err := h.eng.DeleteWorkflow(h.ctx, h.ws.SID, h.ws.DefaultWorkflowSID); didrouter.ErrorCode(err) != didrouter.ECONFLICT {
			t.Fatalf("deleting the default workflow: %v", err)
		}
	})
}

func TestFinalTargetTimeoutCancelsTask(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		wf, err := h.eng.CreateWorkflow(h.ctx, h.ws.SID, engine.WorkflowInsert{FriendlyName: "short",
			Configuration: `{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"` + h.queue + `","timeout":30}]}]}}`})
		if err != nil {
			t.Fatal(err)
		}
		res, err := h.eng.CreateTask(h.ctx, engine.TaskInsert{WorkspaceSID: h.ws.SID, WorkflowSID: wf.SID})
		if err != nil {
			t.Fatal(err)
		}
		h.advance(30 * time.Second)
		task := h.task(res.Task.SID)
		if task.AssignmentStatus != didrouter.TaskCanceled {
			t.Fatalf("task %s after its final target timed out, want canceled", task.AssignmentStatus)
		}
		wantContains(t, h.eventTypes(task.SID), didrouter.EventWorkflowTimeout, didrouter.EventTaskCanceled)
	})
}

func TestSeedIsIdempotent(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		again, err := engine.Seed(h.ctx, h.store, h.clock)
		if err != nil || again.SID != h.ws.SID {
			t.Fatalf("second Seed: %s, %v; want %s", again.SID, err, h.ws.SID)
		}
		if h.ws.FriendlyName != engine.SeedWorkspaceName || h.ws.DefaultWorkflowSID == "" ||
			h.ws.Greeting == "" || h.ws.HoldMessage == "" {
			t.Fatalf("seeded workspace %+v", h.ws)
		}
		flows, err := h.store.ListWorkflows(h.ctx, h.ws.SID)
		if err != nil || len(flows) != 1 || flows[0].FriendlyName != engine.SeedWorkflowName || flows[0].TaskReservationTimeout != 120 {
			t.Fatalf("workflows %+v, %v", flows, err)
		}
		acts, _ := h.store.ListActivities(h.ctx, h.ws.SID)
		if len(acts) != 3 || h.acts["Offline"] != h.ws.DefaultActivitySID {
			t.Fatalf("activities %+v", acts)
		}
	})
}
