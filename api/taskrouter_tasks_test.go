package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	taskrouter "github.com/twilio/twilio-go/rest/taskrouter/v1"
)

// supportFlow adds a "Support" queue (skills HAS "support") and a workflow
// sending type=="callback" tasks there, everything else to Everyone.
func (e *trEnv) supportFlow() (queueSID, workflowSID string) {
	e.t.Helper()
	q, err := e.tr.CreateTaskQueue(e.ws.SID, (&taskrouter.CreateTaskQueueParams{}).SetFriendlyName("Support").
		SetTargetWorkers(`skills HAS "support"`))
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := fmt.Sprintf(`{"task_routing":{"filters":[{"filter_friendly_name":"callbacks","expression":"type == \"callback\"",`+
		`"targets":[{"queue":"%s"}]}],"default_filter":{"queue":"%s"}}}`, deref(q.Sid), e.queue("Everyone"))
	wf, err := e.tr.CreateWorkflow(e.ws.SID, (&taskrouter.CreateWorkflowParams{}).SetFriendlyName("Support").SetConfiguration(cfg))
	if err != nil {
		e.t.Fatal(err)
	}
	return deref(q.Sid), deref(wf.Sid)
}

func (e *trEnv) task(sid string) taskrouter.TaskrouterV1Task {
	e.t.Helper()
	t, err := e.tr.FetchTask(e.ws.SID, sid)
	if err != nil {
		e.t.Fatalf("fetch task %s: %v", sid, err)
	}
	return *t
}

func (e *trEnv) eventTypes(p *taskrouter.ListEventParams) []string {
	e.t.Helper()
	evs, err := e.tr.ListEvent(e.ws.SID, p)
	if err != nil {
		e.t.Fatalf("list events: %v", err)
	}
	out := make([]string, 0, len(evs))
	for _, ev := range evs {
		out = append(out, deref(ev.EventType))
	}
	return out
}

func hasAll(got []string, want ...string) bool {
	have := map[string]bool{}
	for _, g := range got {
		have[g] = true
	}
	for _, w := range want {
		if !have[w] {
			return false
		}
	}
	return true
}

// A task created over REST (a callback request) is reserved to the right
// worker, who accepts over REST and completes it; the events and the
// statistics show it.
func TestTRTaskLifecycleOverREST(t *testing.T) {
	stores(t, func(t *testing.T, st engineStore) {
		e := newTREnv(t, st)
		queueSID, wfSID := e.supportFlow()
		alice := e.worker("alice", `{"skills":["support"],"contact_uri":"client:alice"}`, "Available")
		e.worker("bob", `{"skills":["sales"],"contact_uri":"client:bob"}`, "Available")

		task, err := e.tr.CreateTask(e.ws.SID, (&taskrouter.CreateTaskParams{}).SetWorkflowSid(wfSID).
			SetAttributes(`{"type":"callback","customer":"+15125550100"}`).SetPriority(5).SetTimeout(3600).SetTaskChannel("chat"))
		if err != nil {
			t.Fatalf("create task: %v", err)
		}
		taskSID := deref(task.Sid)
		if taskSID[:2] != "WT" || len(taskSID) != 34 || deref(task.AssignmentStatus) != "reserved" || task.Priority != 5 ||
			task.Timeout != 3600 || deref(task.TaskChannelUniqueName) != "chat" || deref(task.TaskQueueSid) != queueSID ||
			deref(task.TaskQueueFriendlyName) != "Support" || deref(task.WorkflowFriendlyName) != "Support" ||
			task.DateCreated == nil || task.TaskQueueEnteredDate == nil {
			t.Fatalf("created task %+v", task)
		}
		// The reservation is alice's: the one worker of the Support queue.
		res, err := e.tr.ListWorkerReservation(e.ws.SID, deref(alice.Sid),
			(&taskrouter.ListWorkerReservationParams{}).SetReservationStatus("pending"))
		if err != nil || len(res) != 1 || deref(res[0].TaskSid) != taskSID || deref(res[0].WorkerName) != "alice" {
			t.Fatalf("alice's pending reservations: %v %+v", err, res)
		}
		resSID := deref(res[0].Sid)
		byTask, err := e.tr.ListTaskReservation(e.ws.SID, taskSID, nil)
		if err != nil || len(byTask) != 1 || deref(byTask[0].Sid) != resSID || deref(byTask[0].ReservationStatus) != "pending" {
			t.Fatalf("task reservations: %v %+v", err, byTask)
		}
		fetched, err := e.tr.FetchTaskReservation(e.ws.SID, taskSID, resSID)
		if err != nil || !strings.HasSuffix(deref(fetched.Url), "/Tasks/"+taskSID+"/Reservations/"+resSID) {
			t.Fatalf("fetch task reservation: %v %+v", err, fetched)
		}

		e.clock.Advance(30 * time.Second) // alice takes 30 s to accept
		acc, err := e.tr.UpdateWorkerReservation(e.ws.SID, deref(alice.Sid), resSID,
			(&taskrouter.UpdateWorkerReservationParams{}).SetReservationStatus("accepted"))
		if err != nil || deref(acc.ReservationStatus) != "accepted" {
			t.Fatalf("accept: %v %+v", err, acc)
		}
		if got := e.task(taskSID); deref(got.AssignmentStatus) != "assigned" {
			t.Fatalf("after accept the task is %s", deref(got.AssignmentStatus))
		}
		// Accepting twice is refused.
		_, err = e.tr.UpdateWorkerReservation(e.ws.SID, deref(alice.Sid), resSID,
			(&taskrouter.UpdateWorkerReservationParams{}).SetReservationStatus("accepted"))
		restError(t, err, http.StatusConflict, 20409)

		e.clock.Advance(90 * time.Second)
		done, err := e.tr.UpdateTask(e.ws.SID, taskSID, (&taskrouter.UpdateTaskParams{}).SetAssignmentStatus("completed").
			SetReason("called back"))
		if err != nil || deref(done.AssignmentStatus) != "completed" || deref(done.Reason) != "called back" {
			t.Fatalf("complete: %v %+v", err, done)
		}
		if r, _ := e.tr.FetchWorkerReservation(e.ws.SID, deref(alice.Sid), resSID); deref(r.ReservationStatus) != "completed" {
			t.Errorf("reservation after completion: %+v", r)
		}
		if w, _ := e.store.GetWorker(e.ctx, e.ws.SID, deref(alice.Sid)); w.Busy != 0 {
			t.Errorf("alice still busy: %+v", w)
		}

		// Events.
		types := e.eventTypes((&taskrouter.ListEventParams{}).SetTaskSid(taskSID).SetPageSize(2))
		if !hasAll(types, "task.created", "task-queue.entered", "reservation.created", "reservation.accepted",
			"reservation.completed", "task.completed") {
			t.Errorf("task events %v", types)
		}
		types = e.eventTypes((&taskrouter.ListEventParams{}).SetEventType("reservation.accepted").SetWorkerSid(deref(alice.Sid)))
		if len(types) != 1 {
			t.Errorf("alice's acceptances %v", types)
		}
		types = e.eventTypes((&taskrouter.ListEventParams{}).SetReservationSid(resSID))
		if !hasAll(types, "reservation.created", "reservation.accepted", "reservation.completed") {
			t.Errorf("reservation events %v", types)
		}
		types = e.eventTypes((&taskrouter.ListEventParams{}).SetMinutes(1))
		if !hasAll(types, "task.completed") || hasAll(types, "task.created") {
			t.Errorf("events of the last minute: %v", types)
		}
		types = e.eventTypes((&taskrouter.ListEventParams{}).SetTaskSid(taskSID).
			SetStartDate(e.origin.Add(time.Minute)).SetEndDate(e.origin.Add(3 * time.Minute)))
		if len(types) != 2 || !hasAll(types, "task.completed", "reservation.completed") {
			t.Errorf("events of the 2nd minute on: %v", types)
		}

		// Statistics over the hour around it.
		window := func() *taskrouter.FetchWorkspaceCumulativeStatisticsParams {
			return (&taskrouter.FetchWorkspaceCumulativeStatisticsParams{}).SetStartDate(e.origin.Add(-time.Hour)).
				SetEndDate(e.origin.Add(time.Hour)).SetSplitByWaitTime("10,60")
		}
		cu, err := e.tr.FetchWorkspaceCumulativeStatistics(e.ws.SID, window())
		if err != nil {
			t.Fatalf("cumulative statistics: %v", err)
		}
		if cu.TasksCreated != 1 || cu.TasksCompleted != 1 || cu.ReservationsCreated != 1 || cu.ReservationsAccepted != 1 ||
			cu.AvgTaskAcceptanceTime != 30 || cu.TasksCanceled != 0 {
			t.Errorf("cumulative statistics %+v", cu)
		}
		wait := fmt.Sprint(deref(cu.WaitDurationUntilAccepted))
		if wait != "map[avg:30 max:30 min:30 total:30]" {
			t.Errorf("wait until accepted %s", wait)
		}
		split := fmt.Sprint(deref(cu.SplitByWaitTime))
		if !strings.Contains(split, "10:map[above:map[reservations_accepted:1") ||
			!strings.Contains(split, "60:map[above:map[reservations_accepted:0 tasks_canceled:0] below:map[reservations_accepted:1") {
			t.Errorf("split by wait time %s", split)
		}
		rt, err := e.tr.FetchWorkspaceRealTimeStatistics(e.ws.SID, nil)
		if err != nil || rt.TotalTasks != 1 || rt.TotalWorkers != 2 ||
			fmt.Sprint(deref(rt.TasksByStatus)) != "map[assigned:0 canceled:0 completed:1 pending:0 reserved:0 wrapping:0]" {
			t.Fatalf("real-time statistics: %v %+v", err, rt)
		}
		if acts := fmt.Sprint(deref(rt.ActivityStatistics)); !strings.Contains(acts, "friendly_name:Available") ||
			!strings.Contains(acts, "workers:2") {
			t.Errorf("activity statistics %s", acts)
		}
		qcu, err := e.tr.FetchTaskQueueCumulativeStatistics(e.ws.SID, queueSID,
			(&taskrouter.FetchTaskQueueCumulativeStatisticsParams{}).SetStartDate(e.origin.Add(-time.Hour)).SetEndDate(e.origin.Add(time.Hour)))
		if err != nil || qcu.TasksEntered != 1 || qcu.ReservationsAccepted != 1 || qcu.TasksCompleted != 1 || qcu.AvgTaskAcceptanceTime != 30 {
			t.Fatalf("queue cumulative: %v %+v", err, qcu)
		}
		everyone, _ := e.tr.FetchTaskQueueCumulativeStatistics(e.ws.SID, e.queue("Everyone"),
			(&taskrouter.FetchTaskQueueCumulativeStatisticsParams{}).SetStartDate(e.origin.Add(-time.Hour)).SetEndDate(e.origin.Add(time.Hour)))
		if everyone.TasksEntered != 0 || everyone.ReservationsAccepted != 0 {
			t.Errorf("Everyone counted the Support task: %+v", everyone)
		}
		qrt, err := e.tr.FetchTaskQueueRealTimeStatistics(e.ws.SID, queueSID, nil)
		if err != nil || qrt.TotalEligibleWorkers != 1 || qrt.TotalAvailableWorkers != 1 || qrt.TotalTasks != 1 {
			t.Fatalf("queue real time: %v %+v", err, qrt)
		}
		both, err := e.tr.FetchWorkspaceStatistics(e.ws.SID, (&taskrouter.FetchWorkspaceStatisticsParams{}).SetMinutes(60))
		if err != nil || both.Realtime == nil || both.Cumulative == nil ||
			!strings.Contains(fmt.Sprint(*both.Cumulative), "tasks_created:1") {
			t.Fatalf("workspace statistics: %v %+v", err, both)
		}
		qs, err := e.tr.ListTaskQueuesStatistics(e.ws.SID, (&taskrouter.ListTaskQueuesStatisticsParams{}).SetMinutes(60).SetPageSize(1))
		if err != nil || len(qs) != 2 {
			t.Fatalf("queues statistics: %v %d", err, len(qs))
		}
		_, err = e.tr.FetchWorkspaceCumulativeStatistics(e.ws.SID, (&taskrouter.FetchWorkspaceCumulativeStatisticsParams{}).
			SetMinutes(5).SetStartDate(e.origin))
		restError(t, err, http.StatusBadRequest, 20001)
	})
}

// Rejecting, re-routing, changing, canceling and deleting tasks over REST.
func TestTRTaskChangesOverREST(t *testing.T) {
	stores(t, func(t *testing.T, st engineStore) {
		e := newTREnv(t, st)
		_, wfSID := e.supportFlow()
		alice := e.worker("alice", `{"skills":["support"],"contact_uri":"client:alice"}`, "Available")
		bob := e.worker("bob", `{"skills":["support"],"contact_uri":"client:bob"}`, "Offline")

		task, err := e.tr.CreateTask(e.ws.SID, (&taskrouter.CreateTaskParams{}).SetWorkflowSid(wfSID).SetAttributes(`{"type":"callback"}`))
		if err != nil {
			t.Fatal(err)
		}
		taskSID := deref(task.Sid)
		rs, _ := e.tr.ListTaskReservation(e.ws.SID, taskSID, (&taskrouter.ListTaskReservationParams{}).SetReservationStatus("pending"))
		if len(rs) != 1 || deref(rs[0].WorkerSid) != deref(alice.Sid) {
			t.Fatalf("pending reservations %+v", rs)
		}
		// Alice declines over the task's reservation and goes on a break.
		rej, err := e.tr.UpdateTaskReservation(e.ws.SID, taskSID, deref(rs[0].Sid), (&taskrouter.UpdateTaskReservationParams{}).
			SetReservationStatus("rejected").SetWorkerActivitySid(e.activity("Unavailable")))
		if err != nil || deref(rej.ReservationStatus) != "rejected" {
			t.Fatalf("reject: %v %+v", err, rej)
		}
		if w, _ := e.tr.FetchWorker(e.ws.SID, deref(alice.Sid)); deref(w.ActivityName) != "Unavailable" {
			t.Errorf("alice after rejecting: %s", deref(w.ActivityName))
		}
		if got := e.task(taskSID); deref(got.AssignmentStatus) != "pending" {
			t.Fatalf("after the rejection the task is %s", deref(got.AssignmentStatus))
		}
		// Priority and attributes change while it waits.
		up, err := e.tr.UpdateTask(e.ws.SID, taskSID, (&taskrouter.UpdateTaskParams{}).SetPriority(7).
			SetAttributes(`{"type":"callback","note":"urgent"}`))
		if err != nil || up.Priority != 7 || !strings.Contains(deref(up.Attributes), "urgent") {
			t.Fatalf("update pending task: %v %+v", err, up)
		}
		// Bob comes online and gets it.
		if _, err := e.tr.UpdateWorker(e.ws.SID, deref(bob.Sid), (&taskrouter.UpdateWorkerParams{}).SetActivitySid(e.activity("Available"))); err != nil {
			t.Fatal(err)
		}
		e.eventually("bob is reserved", func() bool {
			rs, _ := e.tr.ListWorkerReservation(e.ws.SID, deref(bob.Sid), (&taskrouter.ListWorkerReservationParams{}).SetReservationStatus("pending"))
			return len(rs) == 1 && deref(rs[0].TaskSid) == taskSID
		})
		// The caller gives up: canceled, bob's reservation canceled, bob free.
		c, err := e.tr.UpdateTask(e.ws.SID, taskSID, (&taskrouter.UpdateTaskParams{}).SetAssignmentStatus("canceled").SetReason("hung up"))
		if err != nil || deref(c.AssignmentStatus) != "canceled" || deref(c.Reason) != "hung up" {
			t.Fatalf("cancel: %v %+v", err, c)
		}
		if w, _ := e.store.GetWorker(e.ctx, e.ws.SID, deref(bob.Sid)); w.Busy != 0 {
			t.Errorf("bob still busy after the cancellation")
		}
		_, err = e.tr.UpdateTask(e.ws.SID, taskSID, (&taskrouter.UpdateTaskParams{}).SetAssignmentStatus("completed"))
		restError(t, err, http.StatusConflict, 20409)
		_, err = e.tr.UpdateTask(e.ws.SID, taskSID, (&taskrouter.UpdateTaskParams{}).SetAttributes(`{"x":1}`))
		restError(t, err, http.StatusConflict, 20409)

		// A task whose attributes make it reservable once they change: the
		// target matches a worker's language.
		lang, err := e.tr.CreateTaskQueue(e.ws.SID, (&taskrouter.CreateTaskQueueParams{}).SetFriendlyName("Languages").SetTargetWorkers("1==1"))
		if err != nil {
			t.Fatal(err)
		}
		cfg := fmt.Sprintf(`{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"%[1]s",`+
			`"expression":"worker.language == task.language"}]}],"default_filter":{"queue":"%[1]s"}}}`, deref(lang.Sid))
		wf2, err := e.tr.CreateWorkflow(e.ws.SID, (&taskrouter.CreateWorkflowParams{}).SetFriendlyName("Languages").SetConfiguration(cfg))
		if err != nil {
			t.Fatalf("languages workflow: %v", err)
		}
		carmen := e.worker("carmen", `{"language":"es","contact_uri":"client:carmen"}`, "Available")
		t2, err := e.tr.CreateTask(e.ws.SID, (&taskrouter.CreateTaskParams{}).SetWorkflowSid(deref(wf2.Sid)).SetAttributes(`{"language":"fr"}`))
		if err != nil || deref(t2.AssignmentStatus) != "pending" {
			t.Fatalf("French task: %v %+v", err, t2)
		}
		if _, err := e.tr.UpdateTask(e.ws.SID, deref(t2.Sid), (&taskrouter.UpdateTaskParams{}).SetAttributes(`{"language":"es"}`)); err != nil {
			t.Fatal(err)
		}
		e.eventually("the task, now Spanish, is reserved to carmen", func() bool {
			rs, _ := e.tr.ListTaskReservation(e.ws.SID, deref(t2.Sid), nil)
			return len(rs) == 1 && deref(rs[0].WorkerSid) == deref(carmen.Sid)
		})
		// Carmen accepts by instruction, wraps up, and the task is deleted:
		// she is free again and the task is gone.
		rs, _ = e.tr.ListTaskReservation(e.ws.SID, deref(t2.Sid), nil)
		if _, err := e.tr.UpdateTaskReservation(e.ws.SID, deref(t2.Sid), deref(rs[0].Sid), (&taskrouter.UpdateTaskReservationParams{}).
			SetInstruction("accept")); err != nil {
			t.Fatalf("accept instruction: %v", err)
		}
		if w, err := e.tr.UpdateTask(e.ws.SID, deref(t2.Sid), (&taskrouter.UpdateTaskParams{}).SetAssignmentStatus("wrapping")); err != nil ||
			deref(w.AssignmentStatus) != "wrapping" {
			t.Fatalf("wrapping: %v %+v", err, w)
		}
		if r, _ := e.tr.FetchTaskReservation(e.ws.SID, deref(t2.Sid), deref(rs[0].Sid)); deref(r.ReservationStatus) != "wrapping" {
			t.Errorf("reservation while wrapping: %s", deref(r.ReservationStatus))
		}
		if err := e.tr.DeleteTask(e.ws.SID, deref(t2.Sid), nil); err != nil {
			t.Fatalf("delete: %v", err)
		}
		_, err = e.tr.FetchTask(e.ws.SID, deref(t2.Sid))
		restError(t, err, http.StatusNotFound, 20404)
		if w, _ := e.store.GetWorker(e.ctx, e.ws.SID, deref(carmen.Sid)); w.Busy != 0 {
			t.Errorf("carmen still busy after the task was deleted")
		}
		types := e.eventTypes((&taskrouter.ListEventParams{}).SetTaskSid(deref(t2.Sid)))
		if !hasAll(types, "task.updated", "task.wrapup", "reservation.completed", "task.deleted") {
			t.Errorf("events of the deleted task %v", types)
		}
		restError(t, e.tr.DeleteTask(e.ws.SID, deref(t2.Sid), nil), http.StatusNotFound, 20404)

		// Bad input.
		for what, p := range map[string]*taskrouter.CreateTaskParams{
			"unknown workflow": (&taskrouter.CreateTaskParams{}).SetWorkflowSid("WW00000000000000000000000000000000"),
			"attributes":       (&taskrouter.CreateTaskParams{}).SetAttributes(`[1,2]`),
			"timeout":          (&taskrouter.CreateTaskParams{}).SetTimeout(0),
			"priority":         (&taskrouter.CreateTaskParams{}).SetPriority(-1),
			"routing target":   (&taskrouter.CreateTaskParams{}).SetRoutingTarget(deref(bob.Sid)),
			"channel":          (&taskrouter.CreateTaskParams{}).SetTaskChannel("no spaces please"),
		} {
			_, err := e.tr.CreateTask(e.ws.SID, p)
			if re := restError(t, err, http.StatusBadRequest, 20001); re == nil {
				t.Errorf("%s accepted", what)
			}
		}
		_, err = e.tr.FetchTaskReservation(e.ws.SID, taskSID, deref(rs[0].Sid)) // another task's reservation
		restError(t, err, http.StatusNotFound, 20404)
		_, err = e.tr.UpdateTaskReservation(e.ws.SID, taskSID, "WR00000000000000000000000000000000",
			(&taskrouter.UpdateTaskReservationParams{}).SetInstruction("call"))
		restError(t, err, http.StatusBadRequest, 20001)
	})
}

// List filters over tasks, paging one task at a time.
func TestTRTaskListFilters(t *testing.T) {
	stores(t, func(t *testing.T, st engineStore) {
		e := newTREnv(t, st)
		queueSID, wfSID := e.supportFlow()
		made := map[string]string{}
		for i, attrs := range []string{`{"type":"callback","n":1}`, `{"type":"chat","n":2}`, `{"type":"callback","n":3}`, `{"type":"email","n":4}`} {
			e.clock.Advance(time.Second)
			task, err := e.tr.CreateTask(e.ws.SID, (&taskrouter.CreateTaskParams{}).SetWorkflowSid(wfSID).SetAttributes(attrs).SetPriority(i%2))
			if err != nil {
				t.Fatal(err)
			}
			made[deref(task.Sid)] = attrs
		}
		// The seeded DID workflow's task, for WorkflowSid.
		if _, err := e.tr.CreateTask(e.ws.SID, (&taskrouter.CreateTaskParams{}).SetAttributes(`{"type":"call"}`)); err != nil {
			t.Fatal(err)
		}
		count := func(p *taskrouter.ListTaskParams) int {
			t.Helper()
			got, err := e.tr.ListTask(e.ws.SID, p.SetPageSize(1))
			if err != nil {
				t.Fatalf("list tasks: %v", err)
			}
			return len(got)
		}
		for what, c := range map[string]struct {
			p    *taskrouter.ListTaskParams
			want int
		}{
			"all":                    {&taskrouter.ListTaskParams{}, 5},
			"WorkflowSid":            {(&taskrouter.ListTaskParams{}).SetWorkflowSid(wfSID), 4},
			"WorkflowName":           {(&taskrouter.ListTaskParams{}).SetWorkflowName("Direct Inward Dial"), 1},
			"TaskQueueSid":           {(&taskrouter.ListTaskParams{}).SetTaskQueueSid(queueSID), 2},
			"TaskQueueName":          {(&taskrouter.ListTaskParams{}).SetTaskQueueName("Everyone"), 3},
			"AssignmentStatus":       {(&taskrouter.ListTaskParams{}).SetAssignmentStatus([]string{"pending", "reserved"}), 5},
			"AssignmentStatus none":  {(&taskrouter.ListTaskParams{}).SetAssignmentStatus([]string{"completed"}), 0},
			"EvaluateTaskAttributes": {(&taskrouter.ListTaskParams{}).SetEvaluateTaskAttributes(`type == "callback" AND n > 1`), 1},
			"Priority":               {(&taskrouter.ListTaskParams{}).SetPriority(1), 2},
			"expression and queue":   {(&taskrouter.ListTaskParams{}).SetEvaluateTaskAttributes(`n >= 2`).SetTaskQueueSid(queueSID), 1},
		} {
			if got := count(c.p); got != c.want {
				t.Errorf("%s: %d tasks, want %d", what, got, c.want)
			}
		}
		newest, err := e.tr.ListTask(e.ws.SID, (&taskrouter.ListTaskParams{}).SetWorkflowSid(wfSID).SetOrdering("DateCreated:desc").SetPageSize(1))
		if err != nil || len(newest) != 4 || !strings.Contains(made[deref(newest[0].Sid)], `"n":4`) ||
			!strings.Contains(made[deref(newest[3].Sid)], `"n":1`) {
			t.Fatalf("newest first: %v", err)
		}
		_, err = e.tr.ListTask(e.ws.SID, (&taskrouter.ListTaskParams{}).SetOrdering("Priority:desc"))
		restError(t, err, http.StatusBadRequest, 20001)
		_, err = e.tr.ListTask(e.ws.SID, (&taskrouter.ListTaskParams{}).SetEvaluateTaskAttributes(`type ==`))
		restError(t, err, http.StatusBadRequest, 20001)
		// Nobody is there to take them: all five wait; the first is the oldest.
		var first string
		for sid, attrs := range made {
			if strings.Contains(attrs, `"n":1`) {
				first = sid
			}
		}
		rt, err := e.tr.FetchWorkspaceRealTimeStatistics(e.ws.SID, nil)
		if err != nil || deref(rt.LongestTaskWaitingSid) != first || rt.LongestTaskWaitingAge != 3 ||
			fmt.Sprint(deref(rt.TasksByPriority)) != "map[0:3 1:2]" || rt.TotalTasks != 5 {
			t.Fatalf("real-time statistics: %v %+v (first %s)", err, rt, first)
		}
		qrt, err := e.tr.FetchTaskQueueRealTimeStatistics(e.ws.SID, queueSID, nil)
		if err != nil || deref(qrt.LongestTaskWaitingSid) != first || qrt.TotalTasks != 2 || qrt.TotalEligibleWorkers != 0 ||
			fmt.Sprint(deref(qrt.TasksByStatus)) != "map[assigned:0 canceled:0 completed:0 pending:2 reserved:0 wrapping:0]" {
			t.Fatalf("queue real-time statistics: %v %+v", err, qrt)
		}
	})
}
