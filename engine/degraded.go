package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/routing"
)

// Degraded mode: routing a call while the store cannot be reached.
//
// Degraded.Route takes the decision CreateTask would take, from what this
// instance holds in memory only. That is the cached workflow and the worker
// index. The task enters its workflow and the owner step is tried, skipped
// or not. The task is then reserved for the best eligible worker that
// mayReserve allows, else it waits. Nothing is written. The caller keeps
// the DegradedCall in a durable journal and hands it to Degraded.Import
// once the store answers.
//
// The worker index is the only guard against offering one worker two calls
// at once, and it is local. The reserved worker is counted busy here, but
// other instances do not hear of it until the import. mayReserve is how a
// caller bounds that risk. For example, each instance only reserves its own
// share of the workers while the store is down.

// Degraded is the engine's surface for degraded mode (package degraded):
// routing calls from memory while the store cannot be reached, importing
// them once it answers, and holding routing in between. Obtain it with
// Engine.Degraded.
type Degraded struct{ e *Engine }

// Degraded returns the engine's degraded-mode surface.
func (e *Engine) Degraded() Degraded { return Degraded{e} }

// DegradedCall is one call routed without the store. It holds the task as
// created, the reservation made from the index, the worker as the index
// knew it, and the events, dated when they happened. The reservation is
// nil when the caller waits.
type DegradedCall struct {
	Task        didrouter.Task
	Reservation *didrouter.Reservation `json:",omitempty"`
	Worker      *didrouter.Worker      `json:",omitempty"`
	Events      []didrouter.Event
	// WaitIfBusy makes Degraded.Import fail with ErrDegradedWorkerBusy,
	// writing nothing, when the reservation's worker has no spare capacity
	// in the store, rather than storing the reservation canceled: right
	// after an outage the end of that worker's previous call may be in
	// another instance's journal not replayed yet. Not journaled.
	WaitIfBusy bool `json:"-"`
}

// ErrDegradedWorkerBusy is Degraded.Import's error for a call with
// WaitIfBusy whose worker the store shows busy.
var ErrDegradedWorkerBusy = errors.New("the degraded reservation's worker is busy in the store")

// DegradedImportGrace is the least time an imported call's step and
// reservation timers still run after the import, so that the other
// instances can replay what they journaled about the same call (its answer,
// its end) before a timer moves it on.
const DegradedImportGrace = 10 * time.Second

// Route routes a new call without reading or writing the store.
// ws and flow are the workspace and the call's workflow as last read (the
// engine's workflow cache is used when it holds the same version: a
// change-feed resync empties it, and an outage may follow at once). It
// fails with EUNAVAILABLE when the workspace's index is not in memory.
func (dm Degraded) Route(ctx context.Context, ws didrouter.Workspace, flow didrouter.Workflow, n TaskInsert, mayReserve func(workerSID string) bool) (DegradedCall, error) {
	e := dm.e
	wfRow, wf, ok := e.cachedFlow(ws.SID, flow.SID)
	if !ok || !wfRow.DateUpdated.Equal(flow.DateUpdated) {
		parsed, err := routing.ParseWorkflow([]byte(flow.Configuration), func(string) bool { return true })
		if err != nil {
			return DegradedCall{}, didrouter.Errorf(didrouter.EUNAVAILABLE, "workflow %s: %v", flow.SID, err)
		}
		wfRow, wf = flow, parsed
	}
	e.mu.Lock()
	wi := e.workspaces[ws.SID]
	e.mu.Unlock()
	if wi == nil {
		return DegradedCall{}, didrouter.Errorf(didrouter.EUNAVAILABLE, "the worker index of workspace %s is not loaded", ws.SID)
	}
	d, err := draftTask(ws.SID, wfRow, wf, n)
	if err != nil {
		return DegradedCall{}, err
	}
	now := e.clock.Now()
	w := &memWalk{wfRow: wfRow, wf: wf, attrs: d.attrs, wi: wi, t: d.task(now), now: now}
	w.t.Version = 1
	if err := emitTaskCreated(w.emit, w.t, true); err != nil {
		return DegradedCall{}, err
	}
	// Same position and time as drafted: this only adds the events.
	if _, err := enterPosition(w.emit, wf, &w.t, d.filter, 0, now); err != nil {
		return DegradedCall{}, err
	}
	var exclude func(string) bool
	if mayReserve != nil {
		exclude = func(sid string) bool { return !mayReserve(sid) }
	}
	r, err := walk(ctx, w, exclude)
	if err != nil && !errors.Is(err, errLongWalk) {
		return DegradedCall{}, err
	}
	dc := DegradedCall{Task: w.t, Events: w.events}
	if r != nil {
		dc.Reservation, dc.Worker = &r.reservation, &r.worker
	}
	return dc, nil
}

// memWalk walks a new call's task in memory only. A claim counts the worker
// busy in the index, the local stand-in for Tx.ClaimWorker, and the events
// are kept for the journal.
type memWalk struct {
	wfRow  didrouter.Workflow
	wf     *routing.Workflow
	attrs  routing.Attributes
	wi     *wsIndex
	t      didrouter.Task
	now    time.Time
	events []didrouter.Event
}

func (w *memWalk) emit(ev didrouter.Event, data map[string]any) error {
	ev, err := newEvent(ev, data, w.now)
	if err != nil {
		return err
	}
	w.events = append(w.events, ev)
	return nil
}

func (w *memWalk) current(context.Context) (walkStep, bool, error) {
	return walkStep{t: w.t, wfRow: w.wfRow, wf: w.wf, attrs: w.attrs, wi: w.wi}, false, nil
}

func (w *memWalk) claim(_ context.Context, s walkStep, c routing.WorkerInfo) (*reserved, error) {
	// The candidate was read under the read lock. Another call may have
	// counted the worker busy since, so it is checked again under the
	// write lock.
	w.wi.mu.Lock()
	cur, ok := w.wi.ix.Worker(c.SID)
	ch := capacityOf(s.t.TaskChannel)
	if !ok || cur.Version != c.Version || cur.Busy != c.Busy || cur.MessageBusy != c.MessageBusy || !cur.FreeOn(ch) {
		w.wi.mu.Unlock()
		return nil, nil
	}
	cur.Hold(ch, 1)
	w.wi.ix.UpsertWorker(cur) // same version: applied, and the queue counts follow
	w.wi.mu.Unlock()
	t := s.t
	t.AssignmentStatus = didrouter.TaskReserved
	r := newReservation(s.wfRow, t, c.SID, w.now)
	if err := emitReservationCreated(w.emit, r, t, c.FriendlyName, true); err != nil {
		return nil, err
	}
	w.t = t
	return &reserved{reservation: r, worker: degradedWorker(t.WorkspaceSID, cur), task: t}, nil
}

func (w *memWalk) skip(_ context.Context, s walkStep) error {
	t := s.t
	filter, target, ok := nextPosition(s.wf, t.FilterIndex, t.TargetIndex, s.attrs, true)
	if !ok {
		return errTaskMoved // the walk checked; nothing to do
	}
	from := t.TaskQueueSID
	if err := emitLeft(w.emit, t, moveSkip); err != nil {
		return err
	}
	if _, err := enterPosition(w.emit, s.wf, &t, filter, target, w.now); err != nil {
		return err
	}
	if err := emitMoved(w.emit, t, from, moveSkip.String()); err != nil {
		return err
	}
	w.t = t
	return nil
}

// lost cannot happen to a task placed from the same workflow just now.
func (w *memWalk) lost(context.Context, walkStep) (bool, error) { return true, nil }

// degradedWorker is the Worker row as far as the index knows it (enough to
// ring the worker: sid, name, attributes with contact_uri). It includes the
// claim just counted.
func degradedWorker(workspaceSID string, w routing.WorkerInfo) didrouter.Worker {
	attrs, err := json.Marshal(w.Attributes)
	if err != nil {
		attrs = []byte("{}")
	}
	phone, _ := w.Attributes["phone_number"].(string)
	return didrouter.Worker{
		SID: w.SID, WorkspaceSID: workspaceSID, FriendlyName: w.FriendlyName, Attributes: string(attrs),
		ActivitySID: w.ActivitySID, ActivityName: w.ActivityName, Available: w.Available,
		Capacity: w.Capacity, Busy: w.Busy, MessageCapacity: w.MessageCapacity, MessageBusy: w.MessageBusy,
		PhoneNumber: phone, DateStatusChanged: w.IdleSince, Version: w.Version,
	}
}

// Release gives back, in this instance's index, a worker that a
// degraded reservation of this instance counted busy, once that call is
// over (still without the store). The next index reload from the store
// replaces the count with the stored one.
func (dm Degraded) Release(workspaceSID, workerSID string) {
	e := dm.e
	e.mu.Lock()
	wi := e.workspaces[workspaceSID]
	e.mu.Unlock()
	if wi == nil {
		return
	}
	wi.mu.Lock()
	defer wi.mu.Unlock()
	w, ok := wi.ix.Worker(workerSID)
	if !ok || w.Busy == 0 {
		return
	}
	w.Busy--
	if w.Busy == 0 {
		w.IdleSince = e.clock.Now()
	}
	wi.ix.UpsertWorker(w)
}

// cachedFlow returns a workflow from the cache without reading the store.
func (e *Engine) cachedFlow(workspaceSID, sid string) (didrouter.Workflow, *routing.Workflow, bool) {
	e.wfMu.Lock()
	defer e.wfMu.Unlock()
	c, ok := e.flows[sid]
	if !ok || c.row.WorkspaceSID != workspaceSID {
		return didrouter.Workflow{}, nil, false
	}
	return c.row, c.parsed, true
}

// Warm makes sure what Degraded.Route needs is in memory (the
// workspace's index, the parsed workflow), reading the store while it
// answers, and returns the workflow row to hand to Degraded.Route.
func (dm Degraded) Warm(ctx context.Context, workspaceSID, workflowSID string) (didrouter.Workflow, error) {
	e := dm.e
	if _, err := e.index(ctx, workspaceSID); err != nil {
		return didrouter.Workflow{}, err
	}
	row, _, err := e.workflow(ctx, workspaceSID, workflowSID)
	return row, err
}

// IsDID reports whether e164 is the phone_number, the DID, of a worker of
// the workspace, as this instance's index knows them. Without the store,
// ringing such a number from degraded mode would call into didrouter again
// in a loop. An index that is not loaded says yes, to be safe.
//
// It asks a queue that holds every worker, such as the seeded Everyone
// queue, when one of the cached workflows has one. Else it asks the
// index's every-worker queue, built on first use. Building it takes about
// half a second under the index lock at a million workers, so it is
// avoided when it can be.
func (dm Degraded) IsDID(workspaceSID, e164 string) bool {
	e := dm.e
	e.mu.Lock()
	wi := e.workspaces[workspaceSID]
	e.mu.Unlock()
	if wi == nil || e164 == "" {
		return true
	}
	match, err := routing.Compile("worker.phone_number == task.phone_number", routing.ScopeTarget)
	if err != nil {
		return true
	}
	wi.mu.RLock()
	ix := wi.ix
	wi.mu.RUnlock()
	task := routing.Attributes{"phone_number": e164}
	queues := append(e.cachedQueues(workspaceSID), everyoneQueue)
	total := ix.Len()
	for _, q := range queues {
		if st, ok := ix.QueueStats(q); ok && st.Available+st.Unavailable == total {
			return len(ix.Matches(&routing.Target{Queue: q, Expr: match}, task)) > 0
		}
	}
	everyone, err := routing.Compile("1==1", routing.ScopeWorker)
	if err != nil {
		return true
	}
	wi.mu.Lock()
	ix = wi.ix
	if !ix.HasQueue(everyoneQueue) { // a reload builds a fresh index without it
		ix.SetQueue(everyoneQueue, everyone)
	}
	wi.mu.Unlock()
	return len(ix.Matches(&routing.Target{Queue: everyoneQueue, Expr: match}, task)) > 0
}

// cachedQueues lists the queues the cached workflows of a workspace target.
func (e *Engine) cachedQueues(workspaceSID string) []string {
	e.wfMu.Lock()
	defer e.wfMu.Unlock()
	seen := map[string]bool{}
	var out []string
	add := func(q string) {
		if q != "" && !seen[q] {
			seen[q] = true
			out = append(out, q)
		}
	}
	for _, c := range e.flows {
		if c.row.WorkspaceSID != workspaceSID || c.parsed == nil {
			continue
		}
		for _, f := range c.parsed.Filters {
			for _, t := range f.Targets {
				add(t.Queue)
			}
		}
		if c.parsed.Default != nil {
			add(c.parsed.Default.Queue)
		}
	}
	return out
}

// PauseRouting stops this instance from reserving workers. New and moved
// tasks wait where they are, stored and pending. Degraded mode holds
// routing from the moment it sees the store go away until every instance
// had the time to import the calls it routed from memory. Until then the
// store thinks the workers those calls hold are free, and a reservation
// made here could ring one of them while their phone already rings.
func (dm Degraded) PauseRouting() { dm.e.paused.Store(true) }

// RoutingPaused reports whether PauseRouting is in effect.
func (dm Degraded) RoutingPaused() bool { return dm.e.paused.Load() }

// ResumeRouting lets this instance reserve workers again and routes every
// waiting task of the loaded workspaces, in service order.
func (dm Degraded) ResumeRouting(ctx context.Context) error {
	e := dm.e
	if !e.paused.Swap(false) {
		return nil
	}
	e.mu.Lock()
	workspaces := make([]string, 0, len(e.workspaces))
	for sid := range e.workspaces {
		workspaces = append(workspaces, sid)
	}
	e.mu.Unlock()
	var firstErr error
	for _, ws := range workspaces {
		if err := e.serveWaiting(ctx, ws); err != nil {
			firstErr = keepFirst(firstErr, fmt.Errorf("resume routing in %s: %w", ws, err))
		}
	}
	return firstErr
}
