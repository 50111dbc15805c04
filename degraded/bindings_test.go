package degraded_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/degraded"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/store/storetest"
)

// world is a seeded store with an engine and an available activity.
type world struct {
	ctx       context.Context
	st        didrouter.Store
	eng       *engine.Engine
	ws        didrouter.Workspace
	available string
}

func newWorld(t *testing.T, ctx context.Context, st didrouter.Store) *world {
	t.Helper()
	ws, err := engine.Seed(ctx, st, didrouter.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{Store: st, Clock: didrouter.SystemClock{}, InstanceID: "i1"})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{ctx: ctx, st: st, eng: eng, ws: ws}
	acts, err := st.ListActivities(ctx, ws.SID)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range acts {
		if a.Available {
			w.available = a.SID
		}
	}
	return w
}

func (w *world) worker(t *testing.T, name, attrs string) didrouter.Worker {
	t.Helper()
	wk, err := w.eng.CreateWorker(w.ctx, w.ws.SID, engine.WorkerInsert{FriendlyName: name, ActivitySID: w.available, Attributes: attrs})
	if err != nil {
		t.Fatal(err)
	}
	return wk
}

// startMode runs a Mode on journal path until the test ends and waits
// until it is ready.
func (w *world) startMode(t *testing.T, path string, sw *outageSwitch, startWhen func() bool) (*degraded.Mode, *degraded.Journal) {
	t.Helper()
	j, err := degraded.OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	mode, err := degraded.New(degraded.Config{Engine: w.eng, Store: w.st, Down: sw.down, Journal: j,
		WorkspaceSID: w.ws.SID, SettleAfter: 100 * time.Millisecond, StartWhen: startWhen})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(w.ctx)
	done := make(chan struct{})
	go func() { mode.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; j.Close() })
	return mode, j
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
	}
}

// While the store is down, a number bound to another workflow is routed by
// that workflow, as the bindings were read while the store answered. Other
// numbers are routed by the default workflow. The import keeps the bound
// workflow.
func TestModeRoutesBoundNumbers(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		w := newWorld(t, ctx, st)
		// general is idle the longest, so the default workflow's Everyone
		// picks them.
		general := w.worker(t, "general", `{"contact_uri":"client:general"}`)
		time.Sleep(10 * time.Millisecond)
		sales := w.worker(t, "sales", `{"team":"sales","contact_uri":"client:sales"}`)
		q, err := w.eng.CreateTaskQueue(ctx, w.ws.SID, engine.TaskQueueInsert{FriendlyName: "Sales", TargetWorkers: `team == "sales"`})
		if err != nil {
			t.Fatal(err)
		}
		cfg, _ := json.Marshal(map[string]any{"task_routing": map[string]any{"default_filter": map[string]any{"queue": q.SID}}})
		flow, err := w.eng.CreateWorkflow(ctx, w.ws.SID, engine.WorkflowInsert{FriendlyName: "Sales line", Configuration: string(cfg)})
		if err != nil {
			t.Fatal(err)
		}
		const salesLine = "+15125557777"
		if err := st.Tx(ctx, func(tx didrouter.Tx) error {
			return tx.PutBinding(ctx, didrouter.PhoneNumberBinding{PhoneNumber: salesLine, WorkspaceSID: w.ws.SID, WorkflowSID: flow.SID})
		}); err != nil {
			t.Fatal(err)
		}

		sw := &outageSwitch{}
		mode, j := w.startMode(t, filepath.Join(t.TempDir(), "journal.jsonl"), sw, nil)
		waitFor(t, "degraded mode ready", mode.Ready)
		sw.set(true)
		if !mode.LoopsBack(w.ws.SID, salesLine) || mode.LoopsBack(w.ws.SID, "+15125550188") {
			t.Fatalf("LoopsBack: bound number %v, unknown number %v; want true, false",
				mode.LoopsBack(w.ws.SID, salesLine), mode.LoopsBack(w.ws.SID, "+15125550188"))
		}

		_, bound, err := mode.Incoming(ctx, salesLine, callTask("CAsales", salesLine))
		if err != nil {
			t.Fatal(err)
		}
		if bound.Task.WorkflowSID != flow.SID || bound.Task.TaskQueueSID != q.SID || bound.Reservation == nil || bound.Reservation.WorkerSID != sales.SID {
			t.Fatalf("call to the bound number: workflow %s queue %s reservation %+v; want workflow %s, queue %s, worker sales %s",
				bound.Task.WorkflowSID, bound.Task.TaskQueueSID, bound.Reservation, flow.SID, q.SID, sales.SID)
		}
		_, other, err := mode.Incoming(ctx, "+15125559999", callTask("CAother", "+15125559999"))
		if err != nil {
			t.Fatal(err)
		}
		if other.Task.WorkflowSID != w.ws.DefaultWorkflowSID || other.Reservation == nil || other.Reservation.WorkerSID != general.SID {
			t.Fatalf("call to an unbound number: workflow %s reservation %+v; want the default workflow %s and general",
				other.Task.WorkflowSID, other.Reservation, w.ws.DefaultWorkflowSID)
		}
		for _, c := range []string{"CAsales", "CAother"} {
			if err := mode.EndCall(ctx, w.ws.SID, c, "caller hung up"); err != nil {
				t.Fatal(err)
			}
		}
		sw.set(false)
		waitFor(t, "journal replayed", func() bool { return j.Len() == 0 })
		task, err := st.TaskByCallSID(ctx, w.ws.SID, "CAsales")
		if err != nil || task.WorkflowSID != flow.SID {
			t.Fatalf("imported call to the bound number: workflow %s %v, want %s", task.WorkflowSID, err, flow.SID)
		}
	})
}

// Run neither warms nor replays before StartWhen says so. Serve waits
// until the engine has loaded its index, so that warming does not load a
// second one beside it.
func TestModeWaitsForStartWhen(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := newWorld(t, ctx, storetest.Postgres(t))
	var ready atomic.Bool
	mode, _ := w.startMode(t, filepath.Join(t.TempDir(), "journal.jsonl"), &outageSwitch{}, ready.Load)
	time.Sleep(800 * time.Millisecond)
	if mode.Ready() {
		t.Fatal("degraded mode warmed before StartWhen")
	}
	ready.Store(true)
	waitFor(t, "degraded mode ready after StartWhen", mode.Ready)
}

// The instance stops during the outage, and the next run replays the
// journal it left once the store answers.
func TestModeReplaysJournalOfEarlierRun(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		path := filepath.Join(t.TempDir(), "journal.jsonl")
		w := newWorld(t, ctx, st)
		owner := w.worker(t, "owner", `{"phone_number":"+15125550100","contact_uri":"client:owner"}`)

		// The first run sees an outage and a call answered, then the
		// process stops.
		sw := &outageSwitch{}
		first := func() {
			runCtx, stop := context.WithCancel(ctx)
			defer stop()
			j, err := degraded.OpenJournal(path)
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			mode, err := degraded.New(degraded.Config{Engine: w.eng, Store: st, Down: sw.down, Journal: j, WorkspaceSID: w.ws.SID})
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { mode.Run(runCtx); close(done) }()
			defer func() { stop(); <-done }()
			waitFor(t, "first run ready", mode.Ready)
			sw.set(true)
			_, res, err := mode.Incoming(ctx, "+15125550100", callTask("CAearlier", "+15125550100"))
			if err != nil || res.Reservation == nil || res.Reservation.WorkerSID != owner.SID {
				t.Fatalf("call: %+v %v, want the owner", res.Reservation, err)
			}
			if err := mode.Accept(ctx, w.ws.SID, "CAearlier", res.Task.SID, res.Reservation.SID); err != nil {
				t.Fatal(err)
			}
		}
		first()
		if _, err := st.TaskByCallSID(ctx, w.ws.SID, "CAearlier"); didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
			t.Fatalf("the call reached the store during the outage: %v", err)
		}

		// The next run, on a fresh engine, with the store back.
		next := newWorld(t, ctx, st)
		_, j := next.startMode(t, path, &outageSwitch{}, nil)
		waitFor(t, "journal of the earlier run replayed", func() bool { return j.Len() == 0 })
		task, err := st.TaskByCallSID(ctx, w.ws.SID, "CAearlier")
		if err != nil || task.AssignmentStatus != didrouter.TaskAssigned {
			t.Fatalf("the earlier run's call: %q %v, want assigned", task.AssignmentStatus, err)
		}
	})
}
