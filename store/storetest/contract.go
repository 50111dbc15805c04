package storetest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
)

// Option adjusts RunContract.
type Option func(*contractOptions)

type contractOptions struct {
	peer func(t *testing.T, s didrouter.Store) didrouter.Store
}

// WithPeer declares that the store is shared by several instances: peer
// opens a second instance on the same database as s. RunContract then also
// checks cross-instance change delivery and runs the concurrency checks with
// transactions truly in flight at once (row locks, SKIP LOCKED).
func WithPeer(peer func(t *testing.T, s didrouter.Store) didrouter.Store) Option {
	return func(o *contractOptions) { o.peer = peer }
}

// RunContract checks that the stores open returns honour didrouter.Store.
// open must return a new, empty, migrated store each time it is called.
func RunContract(t *testing.T, open func(t *testing.T) didrouter.Store, opts ...Option) {
	var o contractOptions
	for _, opt := range opts {
		opt(&o)
	}
	c := &contract{open: open, opts: o}
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, f *fixture)
	}{
		{"Workspaces", c.workspaces},
		{"Activities", c.activities},
		{"Workers", c.workers},
		{"WorkerRows", c.workerRows},
		{"WorkerPhoneNumberConflict", c.workerPhoneConflict},
		{"WorkerFilters", c.workerFilters},
		{"ClaimAndReleaseWorker", c.claimRelease},
		{"ClaimWorkerConcurrently", c.claimConcurrently},
		{"ClaimWorkerChannels", c.claimChannels},
		{"TaskQueues", c.taskQueues},
		{"Workflows", c.workflows},
		{"Tasks", c.tasks},
		{"InsertTaskIdempotentByCallSID", c.insertTaskIdempotent},
		{"InsertTaskConcurrentlyByCallSID", c.insertTaskConcurrently},
		{"UpdateTaskVersion", c.updateTaskVersion},
		{"TxLocksRows", c.txLocksRows},
		{"ConfigurationReadsShared", c.configReadsShared},
		{"TaskFilters", c.taskFilters},
		{"WaitingTasks", c.waitingTasks},
		{"CountTasks", c.countTasks},
		{"DeleteTask", c.deleteTask},
		{"Reservations", c.reservations},
		{"Events", c.events},
		{"Timers", c.timers},
		{"ClaimDueTimers", c.claimDueTimers},
		{"ClaimDueTimersRollback", c.claimDueTimersRollback},
		{"ClaimDueTimersConcurrently", c.claimDueTimersConcurrently},
		{"Bindings", c.bindings},
		{"MissedCalls", c.missedCalls},
		{"AgentPages", c.agentPages},
		{"WorkerTimers", c.workerTimers},
		{"Pagination", c.pagination},
		{"TxRollback", c.txRollback},
		{"DeferredWrites", c.deferredWrites},
		{"EventsTogether", c.eventsTogether},
		{"TimersTogether", c.timersTogether},
		{"Subscribe", c.subscribe},
		{"SubscribeAcrossInstances", c.subscribeAcrossInstances},
		{"WebSessions", c.webSessions},
		{"SignInLinks", c.signInLinks},
		{"AgentRevocation", c.agentRevocation},
		{"CallSettings", c.callSettings},
		{"CallbackRequests", c.callbackRequests},
		{"PingClose", c.pingClose},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, c.fixture(t))
		})
	}
}

type contract struct {
	open func(t *testing.T) didrouter.Store
	opts contractOptions
}

// fixture is one store with one workspace.
type fixture struct {
	t   *testing.T
	ctx context.Context
	s   didrouter.Store
	now time.Time // has nanoseconds and a zone: stores keep UTC microseconds
	ws  didrouter.Workspace
	seq int // orders rows created one after another
}

func (c *contract) fixture(t *testing.T) *fixture {
	f := &fixture{
		t:   t,
		ctx: t.Context(),
		s:   c.open(t),
		now: time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.FixedZone("UTC+2", 2*3600)),
	}
	f.ws = f.workspace()
	return f
}

// utc is what a store gives back for a time it was given.
func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func (f *fixture) tx(fn func(tx didrouter.Tx) error) error { return f.s.Tx(f.ctx, fn) }

func (f *fixture) mustTx(fn func(tx didrouter.Tx) error) {
	f.t.Helper()
	if err := f.tx(fn); err != nil {
		f.t.Fatalf("transaction: %v", err)
	}
}

// txValue runs fn in a transaction that must commit and returns what fn
// read.
func txValue[T any](f *fixture, fn func(tx didrouter.Tx) (T, error)) T {
	f.t.Helper()
	var v T
	f.mustTx(func(tx didrouter.Tx) error {
		var err error
		v, err = fn(tx)
		return err
	})
	return v
}

func (f *fixture) at(d time.Duration) time.Time { return f.now.Add(d) }

func (f *fixture) workspace() didrouter.Workspace {
	f.t.Helper()
	ws := didrouter.Workspace{
		SID: didrouter.NewSID(didrouter.PrefixWorkspace), FriendlyName: "Support",
		Greeting: "Hello", HoldMessage: "Please hold", EventCallbackURL: "https://example.com/events",
		EventsFilter: "task.created,task.completed",
		DateCreated:  f.now, DateUpdated: f.now,
	}
	f.mustTx(func(tx didrouter.Tx) error { return tx.InsertWorkspace(f.ctx, ws) })
	ws.DateCreated, ws.DateUpdated = utc(ws.DateCreated), utc(ws.DateUpdated)
	return ws
}

func (f *fixture) activity(name string, available bool) didrouter.Activity {
	f.t.Helper()
	f.seq++
	a := didrouter.Activity{SID: didrouter.NewSID(didrouter.PrefixActivity), WorkspaceSID: f.ws.SID, FriendlyName: name,
		Available: available, DateCreated: f.at(time.Duration(f.seq) * time.Millisecond), DateUpdated: f.now}
	f.mustTx(func(tx didrouter.Tx) error { return tx.InsertActivity(f.ctx, a) })
	a.DateCreated, a.DateUpdated = utc(a.DateCreated), utc(a.DateUpdated)
	return a
}

// voiceChannel is the task channel of calls, engine.DefaultTaskChannel. It
// takes a worker's voice capacity. The store contract does not import the
// engine, so it names the channel itself.
const voiceChannel = "voice"

// newWorker returns an available capacity-1 worker (not stored).
func (f *fixture) newWorker(name, phone string) didrouter.Worker {
	return didrouter.Worker{
		SID: didrouter.NewSID(didrouter.PrefixWorker), WorkspaceSID: f.ws.SID, FriendlyName: name,
		Attributes: `{"contact_uri":"client:` + name + `", "skills": ["en"]}`, ActivitySID: "WAavailable",
		ActivityName: "Available", Available: true, Capacity: 1, PhoneNumber: phone,
		DateStatusChanged: f.now, DateCreated: f.now, DateUpdated: f.now, Version: 1,
	}
}

func (f *fixture) insertWorker(w didrouter.Worker) didrouter.Worker {
	f.t.Helper()
	f.mustTx(func(tx didrouter.Tx) error { return tx.InsertWorker(f.ctx, w) })
	return normWorker(w)
}

func normWorker(w didrouter.Worker) didrouter.Worker {
	w.DateStatusChanged, w.DateCreated, w.DateUpdated = utc(w.DateStatusChanged), utc(w.DateCreated), utc(w.DateUpdated)
	return w
}

func (f *fixture) worker(name, phone string) didrouter.Worker {
	f.t.Helper()
	return f.insertWorker(f.newWorker(name, phone))
}

// newTask returns a pending task (not stored).
func (f *fixture) newTask(callSID string) didrouter.Task {
	return didrouter.Task{
		SID: didrouter.NewSID(didrouter.PrefixTask), WorkspaceSID: f.ws.SID, WorkflowSID: "WWdefault",
		Attributes: `{"from":"+15125550000","to":"+15125550100"}`, AssignmentStatus: didrouter.TaskPending,
		Priority: 0, Timeout: 3600, TaskChannel: "voice", CallSID: callSID, FilterIndex: 0, TargetIndex: 0,
		TaskQueueSID: "WQeveryone", StepEnteredAt: f.now, DateCreated: f.now, DateUpdated: f.now, Version: 1,
	}
}

func normTask(t didrouter.Task) didrouter.Task {
	t.StepEnteredAt, t.DateCreated, t.DateUpdated = utc(t.StepEnteredAt), utc(t.DateCreated), utc(t.DateUpdated)
	if len(t.RejectedWorkers) == 0 {
		t.RejectedWorkers = nil
	}
	return t
}

func (f *fixture) insertTask(task didrouter.Task) didrouter.Task {
	f.t.Helper()
	var stored didrouter.Task
	f.mustTx(func(tx didrouter.Tx) error {
		var err error
		stored, _, err = tx.InsertTask(f.ctx, task)
		return err
	})
	return stored
}

func (f *fixture) task(callSID string) didrouter.Task {
	f.t.Helper()
	return f.insertTask(f.newTask(callSID))
}

// wantCode fails the test unless err carries code (and, if given, a message
// containing each of parts).
func wantCode(t *testing.T, err error, code string, parts ...string) {
	t.Helper()
	if got := didrouter.ErrorCode(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
	msg := didrouter.ErrorMessage(err)
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("error message %q does not mention %q", msg, p)
		}
	}
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// errSentinel is returned from transactions that must roll back.
const errSentinel = sentinelError("storetest: roll back")

type sentinelError string

func (e sentinelError) Error() string { return string(e) }

// instances returns the fixture's store and, when the store is shared
// between instances, a second instance on the same database.
func (c *contract) instances(t *testing.T, f *fixture) []didrouter.Store {
	stores := []didrouter.Store{f.s}
	if c.opts.peer != nil {
		stores = append(stores, c.opts.peer(t, f.s))
	}
	return stores
}

// concurrently starts fn(i, store) for i in [0, n) at once, handing the
// stores out in turn, and returns the errors by i.
func concurrently(stores []didrouter.Store, n int, fn func(i int, s didrouter.Store) error) []error {
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn(i, stores[i%len(stores)])
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// winners fails the test when one of the concurrent transactions failed,
// and counts those that won.
func winners(t *testing.T, errs []error, won []bool) int {
	t.Helper()
	n := 0
	for i, err := range errs {
		noErr(t, err)
		if won[i] {
			n++
		}
	}
	return n
}
