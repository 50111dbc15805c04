package api_test

import (
	"fmt"
	"net/http"
	"sort"
	"testing"

	taskrouter "github.com/twilio/twilio-go/rest/taskrouter/v1"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

func sidsOf[T any](list []T, sid func(T) *string) []string {
	out := make([]string, 0, len(list))
	for _, v := range list {
		out = append(out, deref(sid(v)))
	}
	sort.Strings(out)
	return out
}

func workerNames(list []taskrouter.TaskrouterV1Worker) []string {
	return sidsOf(list, func(w taskrouter.TaskrouterV1Worker) *string { return w.FriendlyName })
}

func TestTRWorkersFiltersAndChannels(t *testing.T) {
	stores(t, func(t *testing.T, st engineStore) {
		e := newTREnv(t, st)
		for i, spec := range []struct{ name, attrs, act string }{
			{"alice", `{"skills":["sales","support"],"level":3}`, "Available"},
			{"bob", `{"skills":["support"],"level":1}`, "Available"},
			{"carol", `{"skills":["sales"],"level":5}`, "Offline"},
			{"dave", `{"skills":[],"level":2}`, "Unavailable"},
			{"erin", `{"skills":["sales"],"level":4}`, "Available"},
		} {
			e.worker(spec.name, fmt.Sprintf(`{"contact_uri":"client:%s","phone_number":"+1512555%04d",%s`, spec.name, i,
				spec.attrs[1:]), spec.act)
		}
		list := func(p *taskrouter.ListWorkerParams) []string {
			t.Helper()
			got, err := e.tr.ListWorker(e.ws.SID, p.SetPageSize(1)) // one per page: every filter pages
			if err != nil {
				t.Fatalf("list workers: %v", err)
			}
			return workerNames(got)
		}
		for what, c := range map[string]struct {
			params *taskrouter.ListWorkerParams
			want   string
		}{
			"ActivityName":            {(&taskrouter.ListWorkerParams{}).SetActivityName("Available"), "[alice bob erin]"},
			"Available":               {(&taskrouter.ListWorkerParams{}).SetAvailable("false"), "[carol dave]"},
			"FriendlyName":            {(&taskrouter.ListWorkerParams{}).SetFriendlyName("carol"), "[carol]"},
			"TargetWorkersExpression": {(&taskrouter.ListWorkerParams{}).SetTargetWorkersExpression(`skills HAS "sales" AND level > 3`), "[carol erin]"},
			"expression and activity": {(&taskrouter.ListWorkerParams{}).SetTargetWorkersExpression(`skills HAS "sales"`).SetAvailable("true"), "[alice erin]"},
			"worker fields":           {(&taskrouter.ListWorkerParams{}).SetTargetWorkersExpression(`worker.activity_name == "Unavailable"`), "[dave]"},
		} {
			if got := fmt.Sprint(list(c.params)); got != c.want {
				t.Errorf("%s: %s, want %s", what, got, c.want)
			}
		}
		q, err := e.tr.CreateTaskQueue(e.ws.SID, (&taskrouter.CreateTaskQueueParams{}).SetFriendlyName("Support").
			SetTargetWorkers(`skills HAS "support"`))
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(list((&taskrouter.ListWorkerParams{}).SetTaskQueueSid(deref(q.Sid)))); got != "[alice bob]" {
			t.Errorf("TaskQueueSid: %s", got)
		}
		if got := fmt.Sprint(list((&taskrouter.ListWorkerParams{}).SetTaskQueueName("Support"))); got != "[alice bob]" {
			t.Errorf("TaskQueueName: %s", got)
		}
		_, err = e.tr.ListWorker(e.ws.SID, (&taskrouter.ListWorkerParams{}).SetTargetWorkersExpression(`skills HAS`))
		restError(t, err, http.StatusBadRequest, 20001)
		// A DID another worker owns: 409 naming it.
		_, err = e.tr.CreateWorker(e.ws.SID, (&taskrouter.CreateWorkerParams{}).SetFriendlyName("mallory").
			SetAttributes(`{"phone_number":"(512) 555-0000"}`))
		restError(t, err, http.StatusConflict, 20409)

		// The worker's two channels: voice, and messages with a capacity of its own.
		ws, _ := e.tr.ListWorker(e.ws.SID, (&taskrouter.ListWorkerParams{}).SetFriendlyName("alice"))
		aliceSID := deref(ws[0].Sid)
		chans, err := e.tr.ListWorkerChannel(e.ws.SID, aliceSID, nil)
		if err != nil || len(chans) != 2 || deref(chans[0].TaskChannelUniqueName) != "voice" || chans[0].ConfiguredCapacity != 1 ||
			deref(chans[0].Sid)[:2] != "WC" || len(deref(chans[0].Sid)) != 34 || deref(chans[0].WorkerSid) != aliceSID {
			t.Fatalf("channels: %v %+v", err, chans)
		}
		msg := chans[1]
		if deref(msg.TaskChannelUniqueName) != didrouter.MessageChannel || msg.ConfiguredCapacity != engine.DefaultMessageCapacity ||
			deref(msg.Sid) == deref(chans[0].Sid) || msg.AvailableCapacityPercentage != 100 {
			t.Fatalf("message channel: %+v", msg)
		}
		ch, err := e.tr.UpdateWorkerChannel(e.ws.SID, aliceSID, deref(msg.Sid), (&taskrouter.UpdateWorkerChannelParams{}).SetCapacity(4))
		if err != nil || ch.ConfiguredCapacity != 4 || deref(ch.TaskChannelUniqueName) != didrouter.MessageChannel {
			t.Fatalf("set message capacity: %v %+v", err, ch)
		}
		if w, _ := e.store.GetWorker(e.ctx, e.ws.SID, aliceSID); w.Capacity != 1 || w.MessageCapacity != 4 {
			t.Errorf("stored capacities %d and %d, want 1 and 4", w.Capacity, w.MessageCapacity)
		}
		_, err = e.tr.UpdateWorkerChannel(e.ws.SID, aliceSID, didrouter.MessageChannel, (&taskrouter.UpdateWorkerChannelParams{}).SetCapacity(-1))
		restError(t, err, http.StatusBadRequest, 20001)
		ch, err = e.tr.UpdateWorkerChannel(e.ws.SID, aliceSID, "voice", (&taskrouter.UpdateWorkerChannelParams{}).SetCapacity(3))
		if err != nil || ch.ConfiguredCapacity != 3 || ch.AvailableCapacityPercentage != 100 {
			t.Fatalf("set capacity: %v %+v", err, ch)
		}
		ch, err = e.tr.FetchWorkerChannel(e.ws.SID, aliceSID, deref(chans[0].Sid))
		if err != nil || ch.ConfiguredCapacity != 3 {
			t.Fatalf("fetch channel by sid: %v %+v", err, ch)
		}
		if w, _ := e.store.GetWorker(e.ctx, e.ws.SID, aliceSID); w.Capacity != 3 {
			t.Errorf("stored capacity %d", w.Capacity)
		}
		evs, _ := e.store.ListEvents(e.ctx, e.ws.SID, didrouter.EventFilter{EventType: didrouter.EventWorkerCapacityUpdate, WorkerSID: aliceSID})
		if len(evs) != 2 {
			t.Errorf("capacity events %d", len(evs))
		}
		_, err = e.tr.UpdateWorkerChannel(e.ws.SID, aliceSID, "voice", (&taskrouter.UpdateWorkerChannelParams{}).SetAvailable(false))
		restError(t, err, http.StatusBadRequest, 20001)
		_, err = e.tr.UpdateWorkerChannel(e.ws.SID, aliceSID, "voice", (&taskrouter.UpdateWorkerChannelParams{}).SetCapacity(51))
		restError(t, err, http.StatusBadRequest, 20001)
		_, err = e.tr.FetchWorkerChannel(e.ws.SID, aliceSID, "sms")
		restError(t, err, http.StatusNotFound, 20404)
	})
}

func TestTRTaskQueuesAndWorkflows(t *testing.T) {
	stores(t, func(t *testing.T, st engineStore) {
		e := newTREnv(t, st)
		var created []string
		for _, c := range []struct {
			name, target, order string
			max                 int
		}{
			{"Sales", `skills HAS "sales"`, "FIFO", 1},
			{"Spanish", `languages HAS "es"`, "LIFO", 3},
			{"VIP", `level >= 4`, "", 0},
		} {
			p := (&taskrouter.CreateTaskQueueParams{}).SetFriendlyName(c.name).SetTargetWorkers(c.target)
			if c.order != "" {
				p.SetTaskOrder(c.order)
			}
			if c.max != 0 {
				p.SetMaxReservedWorkers(c.max)
			}
			q, err := e.tr.CreateTaskQueue(e.ws.SID, p)
			if err != nil {
				t.Fatalf("create queue %s: %v", c.name, err)
			}
			if deref(q.Sid)[:2] != "WQ" || deref(q.TargetWorkers) != c.target {
				t.Errorf("created queue %+v", q)
			}
			created = append(created, deref(q.Sid))
		}
		spanish, err := e.tr.FetchTaskQueue(e.ws.SID, created[1])
		if err != nil || deref(spanish.TaskOrder) != "LIFO" || spanish.MaxReservedWorkers != 3 {
			t.Fatalf("fetch queue: %v %+v", err, spanish)
		}
		all, err := e.tr.ListTaskQueue(e.ws.SID, (&taskrouter.ListTaskQueueParams{}).SetPageSize(2))
		if err != nil || len(all) != 4 {
			t.Fatalf("queues over pages of 2: %v %d", err, len(all))
		}
		byName, err := e.tr.ListTaskQueue(e.ws.SID, (&taskrouter.ListTaskQueueParams{}).SetFriendlyName("VIP"))
		if err != nil || len(byName) != 1 || deref(byName[0].Sid) != created[2] {
			t.Fatalf("queue by name: %v %+v", err, byName)
		}
		names := func(qs []taskrouter.TaskrouterV1TaskQueue) string {
			return fmt.Sprint(sidsOf(qs, func(q taskrouter.TaskrouterV1TaskQueue) *string { return q.FriendlyName }))
		}
		eval, err := e.tr.ListTaskQueue(e.ws.SID, (&taskrouter.ListTaskQueueParams{}).
			SetEvaluateWorkerAttributes(`{"skills":["sales"],"languages":["es"],"level":2}`))
		if err != nil || names(eval) != "[Everyone Sales Spanish]" {
			t.Fatalf("EvaluateWorkerAttributes: %v %s", err, names(eval))
		}
		w := e.worker("vera", `{"level":5}`, "Available")
		mine, err := e.tr.ListTaskQueue(e.ws.SID, (&taskrouter.ListTaskQueueParams{}).SetWorkerSid(deref(w.Sid)))
		if err != nil || names(mine) != "[Everyone VIP]" {
			t.Fatalf("WorkerSid: %v %s", err, names(mine))
		}
		up, err := e.tr.UpdateTaskQueue(e.ws.SID, created[0], (&taskrouter.UpdateTaskQueueParams{}).
			SetFriendlyName("Sales EMEA").SetTaskOrder("LIFO").SetMaxReservedWorkers(2))
		if err != nil || deref(up.FriendlyName) != "Sales EMEA" || deref(up.TaskOrder) != "LIFO" || up.MaxReservedWorkers != 2 {
			t.Fatalf("update queue: %v %+v", err, up)
		}
		_, err = e.tr.UpdateTaskQueue(e.ws.SID, created[0], (&taskrouter.UpdateTaskQueueParams{}).SetTaskOrder("RANDOM"))
		restError(t, err, http.StatusBadRequest, 20001)
		_, err = e.tr.CreateTaskQueue(e.ws.SID, (&taskrouter.CreateTaskQueueParams{}).SetFriendlyName("x").SetTargetWorkers("level >"))
		restError(t, err, http.StatusBadRequest, 20001)

		// Workflows: one routes to Sales with callbacks; the queue it uses
		// cannot be deleted while it does.
		cfg := fmt.Sprintf(`{"task_routing":{"filters":[{"expression":"type == \"sales\"","targets":[{"queue":"%s"}]}],"default_filter":{"queue":"%s"}}}`,
			created[0], e.queue("Everyone"))
		wf, err := e.tr.CreateWorkflow(e.ws.SID, (&taskrouter.CreateWorkflowParams{}).SetFriendlyName("Sales").SetConfiguration(cfg).
			SetTaskReservationTimeout(30).SetAssignmentCallbackUrl("https://example.com/assign").
			SetFallbackAssignmentCallbackUrl("https://backup.example.com/assign"))
		if err != nil {
			t.Fatalf("create workflow: %v", err)
		}
		if deref(wf.Sid)[:2] != "WW" || wf.TaskReservationTimeout != 30 || deref(wf.AssignmentCallbackUrl) != "https://example.com/assign" ||
			deref(wf.FallbackAssignmentCallbackUrl) != "https://backup.example.com/assign" {
			t.Errorf("created workflow %+v", wf)
		}
		_, err = e.tr.CreateWorkflow(e.ws.SID, (&taskrouter.CreateWorkflowParams{}).SetFriendlyName("bad").SetConfiguration(cfg).
			SetAssignmentCallbackUrl("not a url"))
		restError(t, err, http.StatusBadRequest, 20001)
		wf, err = e.tr.UpdateWorkflow(e.ws.SID, deref(wf.Sid), (&taskrouter.UpdateWorkflowParams{}).SetTaskReservationTimeout(45).
			SetAssignmentCallbackUrl(""))
		if err != nil || wf.TaskReservationTimeout != 45 || wf.AssignmentCallbackUrl != nil {
			t.Fatalf("update workflow: %v %+v", err, wf)
		}
		wfs, err := e.tr.ListWorkflow(e.ws.SID, (&taskrouter.ListWorkflowParams{}).SetPageSize(1))
		if err != nil || len(wfs) != 2 {
			t.Fatalf("workflows over pages of 1: %v %d", err, len(wfs))
		}
		restError(t, e.tr.DeleteTaskQueue(e.ws.SID, created[0]), http.StatusConflict, 20409)
		if err := e.tr.DeleteTaskQueue(e.ws.SID, created[1]); err != nil {
			t.Fatalf("delete unused queue: %v", err)
		}
		_, err = e.tr.FetchTaskQueue(e.ws.SID, created[1])
		restError(t, err, http.StatusNotFound, 20404)
		// The workspace's default workflow (calls use it) stays.
		restError(t, e.tr.DeleteWorkflow(e.ws.SID, e.ws.DefaultWorkflowSID), http.StatusConflict, 20409)
		if err := e.tr.DeleteWorkflow(e.ws.SID, deref(wf.Sid)); err != nil {
			t.Fatalf("delete workflow: %v", err)
		}
		_, err = e.tr.FetchWorkflow(e.ws.SID, deref(wf.Sid))
		restError(t, err, http.StatusNotFound, 20404)
		if err := e.tr.DeleteTaskQueue(e.ws.SID, created[0]); err != nil {
			t.Fatalf("delete the queue no workflow uses any more: %v", err)
		}
	})
}
