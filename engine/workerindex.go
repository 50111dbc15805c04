package engine

import (
	"context"
	"fmt"
	"sync"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/routing"
)

// wsIndex is one workspace's worker index. It caches the store's workers
// and queues to pick candidates. Decisions are never taken from it alone,
// because ClaimWorker in a store transaction has the last word.
type wsIndex struct {
	mu sync.RWMutex
	ix *routing.Index
}

func workerInfo(w didrouter.Worker) (routing.WorkerInfo, error) {
	attrs, err := routing.ParseAttributes([]byte(w.Attributes))
	if err != nil {
		return routing.WorkerInfo{}, fmt.Errorf("worker %s attributes: %w", w.SID, err)
	}
	return routing.WorkerInfo{
		SID:             w.SID,
		FriendlyName:    w.FriendlyName,
		Attributes:      attrs,
		Available:       w.Available,
		Capacity:        w.Capacity,
		Busy:            w.Busy,
		MessageCapacity: w.MessageCapacity,
		MessageBusy:     w.MessageBusy,
		IdleSince:       w.DateStatusChanged,
		Version:         w.Version,
		ActivitySID:     w.ActivitySID,
		ActivityName:    w.ActivityName,
	}, nil
}

// index returns the workspace's index, loading it from the store on first
// use. Callers arriving while a load of the workspace is under way (the
// start-up load, degraded mode warming up) wait for it instead of building
// a second index of their own: at a million workers each build costs
// seconds of CPU and a gigabyte of heap.
func (e *Engine) index(ctx context.Context, workspaceSID string) (*wsIndex, error) {
	for {
		e.mu.Lock()
		wi, loading := e.workspaces[workspaceSID], e.loading[workspaceSID]
		if wi == nil && loading == nil {
			done := e.startLoadLocked(workspaceSID)
			e.mu.Unlock()
			return e.finishLoad(ctx, workspaceSID, done)
		}
		e.mu.Unlock()
		if wi != nil {
			return wi, nil
		}
		select {
		case <-loading:
			// Loaded, or failed: look again (and load it ourselves then).
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// startLoadLocked registers a load of the workspace's index; e.mu is held.
func (e *Engine) startLoadLocked(workspaceSID string) chan struct{} {
	if e.loading == nil {
		e.loading = make(map[string]chan struct{})
	}
	done := make(chan struct{})
	e.loading[workspaceSID] = done
	return done
}

// buildIndex reads a workspace's queues and workers into a fresh index.
func (e *Engine) buildIndex(ctx context.Context, workspaceSID string) (*routing.Index, error) {
	ix := routing.NewIndex()
	queues, err := e.store.ListTaskQueues(ctx, workspaceSID)
	if err != nil {
		return nil, fmt.Errorf("list task queues of %s: %w", workspaceSID, err)
	}
	known := make(map[string]bool, len(queues))
	for _, q := range queues {
		expr, err := routing.Compile(q.TargetWorkers, routing.ScopeWorker)
		if err != nil {
			// A stored queue that no longer compiles matches nobody rather
			// than stopping the whole index.
			e.log.WarnContext(ctx, "task queue target_workers does not compile", "then", "it matches no worker",
				"workspace", workspaceSID, "queue", q.SID, "err", err)
			expr = nil
		}
		ix.SetQueue(q.SID, expr)
		known[q.SID] = true
	}
	e.warmPaths(ctx, ix, workspaceSID, known)
	// Size the tables for the fleet (a hint: workers added meanwhile only
	// make them grow).
	if n, err := e.store.CountWorkers(ctx, workspaceSID); err == nil {
		ix.Reserve(n)
	}
	if err := e.loadWorkers(ctx, ix, workspaceSID); err != nil {
		return nil, fmt.Errorf("read workers of %s: %w", workspaceSID, err)
	}
	return ix, nil
}

// reloadWorkspace rebuilds one workspace's index and swaps it in.
func (e *Engine) reloadWorkspace(ctx context.Context, workspaceSID string) (*wsIndex, error) {
	e.mu.Lock()
	done := e.startLoadLocked(workspaceSID)
	e.mu.Unlock()
	return e.finishLoad(ctx, workspaceSID, done)
}

// finishLoad builds the index of a load registered with startLoadLocked,
// swaps it in and releases the callers waiting for it.
func (e *Engine) finishLoad(ctx context.Context, workspaceSID string, done chan struct{}) (*wsIndex, error) {
	defer func() {
		e.mu.Lock()
		if e.loading[workspaceSID] == done {
			delete(e.loading, workspaceSID)
		}
		e.mu.Unlock()
		close(done)
	}()
	ix, err := e.buildIndex(ctx, workspaceSID)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	wi := e.workspaces[workspaceSID]
	if wi == nil {
		wi = &wsIndex{ix: ix}
		e.workspaces[workspaceSID] = wi
		return wi, nil
	}
	wi.mu.Lock()
	wi.ix = ix
	wi.mu.Unlock()
	return wi, nil
}

// reloadAll rebuilds the index of every workspace and forgets parsed workflows.
func (e *Engine) reloadAll(ctx context.Context) error {
	list, err := e.store.ListWorkspaces(ctx)
	if err != nil {
		return fmt.Errorf("list workspaces: %w", err)
	}
	e.forgetWorkflows()
	for _, ws := range list {
		if _, err := e.reloadWorkspace(ctx, ws.SID); err != nil {
			return err
		}
	}
	return nil
}

// noteWorker puts a freshly read worker row into the index (the index
// ignores it when it already holds a newer version).
func (e *Engine) noteWorker(ctx context.Context, w didrouter.Worker) {
	wi, err := e.index(ctx, w.WorkspaceSID)
	if err != nil {
		e.log.WarnContext(ctx, "worker change not cached", "reason", "index unavailable", "worker", w.SID, "err", err)
		return
	}
	info, err := workerInfo(w)
	if err != nil {
		e.log.WarnContext(ctx, "worker change not cached", "reason", "attributes do not parse", "worker", w.SID, "err", err)
		return
	}
	wi.mu.Lock()
	wi.ix.UpsertWorker(info)
	wi.mu.Unlock()
}

func (e *Engine) forgetWorker(ctx context.Context, workspaceSID, sid string) {
	wi, err := e.index(ctx, workspaceSID)
	if err != nil {
		return
	}
	wi.mu.Lock()
	wi.ix.RemoveWorker(sid)
	wi.mu.Unlock()
}

// refreshWorker re-reads a worker from the store into the index (after a
// failed claim showed the index was stale, or after another instance's change).
func (e *Engine) refreshWorker(ctx context.Context, workspaceSID, sid string) (didrouter.Worker, bool, error) {
	w, err := e.store.GetWorker(ctx, workspaceSID, sid)
	if didrouter.ErrorCode(err) == didrouter.ENOTFOUND {
		e.forgetWorker(ctx, workspaceSID, sid)
		return didrouter.Worker{}, false, nil
	}
	if err != nil {
		return didrouter.Worker{}, false, fmt.Errorf("read worker %s: %w", sid, err)
	}
	e.noteWorker(ctx, w)
	return w, true, nil
}

// setQueue compiles a queue's target_workers into the index.
func (e *Engine) setQueue(ctx context.Context, q didrouter.TaskQueue) error {
	expr, err := routing.Compile(q.TargetWorkers, routing.ScopeWorker)
	if err != nil {
		return didrouter.Errorf(didrouter.EINVALID, "target_workers: %v", err)
	}
	wi, err := e.index(ctx, q.WorkspaceSID)
	if err != nil {
		return err
	}
	wi.mu.Lock()
	wi.ix.SetQueue(q.SID, expr)
	wi.mu.Unlock()
	return nil
}

// applyChange brings the index up to date with one committed change, and
// serves waiting work the change may have made possible (another instance
// may have freed a worker or left a task pending that this instance's
// fresher index can place). It returns only errors that leave the index
// stale; routing failures here have no caller to report to and are logged.
func (e *Engine) applyChange(ctx context.Context, c didrouter.Change) error {
	switch c.Kind {
	case didrouter.ChangeResync:
		e.own.clear()
		if err := e.reloadAll(ctx); err != nil {
			return err
		}
		// Notifications were lost meanwhile: a worker freed or a task left
		// waiting by another instance may be placeable now.
		e.serveAllWaiting(ctx)
	case didrouter.ChangeWorker:
		if e.own.echo(c.SID) {
			return nil // this instance's own claim, already in its index
		}
		w, found, err := e.refreshWorker(ctx, c.WorkspaceSID, c.SID)
		if err != nil || !found {
			return err
		}
		if hasRoom(w) {
			if _, err := e.serveWorker(ctx, c.WorkspaceSID, c.SID); err != nil {
				e.log.WarnContext(ctx, "serving waiting tasks after a worker change failed",
					"worker", c.SID, "err", err)
			}
		}
	case didrouter.ChangeTaskQueue:
		q, err := e.store.GetTaskQueue(ctx, c.WorkspaceSID, c.SID)
		switch {
		case didrouter.ErrorCode(err) == didrouter.ENOTFOUND:
			wi, err := e.index(ctx, c.WorkspaceSID)
			if err != nil {
				return err
			}
			wi.mu.Lock()
			wi.ix.RemoveQueue(c.SID)
			wi.mu.Unlock()
		case err != nil:
			return fmt.Errorf("read task queue %s: %w", c.SID, err)
		default:
			if err := e.setQueue(ctx, q); err != nil {
				e.log.WarnContext(ctx, "stored task queue does not compile", "queue", q.SID, "err", err)
			}
		}
		e.serveWaitingLogged(ctx, c.WorkspaceSID)
	case didrouter.ChangeWorkflow:
		e.forgetWorkflow(c.SID)
	case didrouter.ChangeActivity:
		// An activity's availability may have changed under many workers.
		if _, err := e.reloadWorkspace(ctx, c.WorkspaceSID); err != nil {
			return err
		}
		e.serveWaitingLogged(ctx, c.WorkspaceSID)
	case didrouter.ChangeTask:
		if c.SID == "" || e.own.echo(c.SID) {
			return nil
		}
		if _, err := e.route(ctx, c.WorkspaceSID, c.SID); err != nil && didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
			e.log.WarnContext(ctx, "routing a task announced by the store failed", "task", c.SID, "err", err)
		}
	case didrouter.ChangeTimer:
		e.nudge()
	}
	return nil
}

// serveAllWaiting routes the waiting tasks of every workspace again, after
// the index was reloaded because changes may have been missed.
func (e *Engine) serveAllWaiting(ctx context.Context) {
	list, err := e.store.ListWorkspaces(ctx)
	if err != nil {
		e.log.WarnContext(ctx, "listing workspaces to serve waiting tasks failed", "err", err)
		return
	}
	for _, ws := range list {
		e.serveWaitingLogged(ctx, ws.SID)
	}
}

// IndexSize returns how many workers the in-memory routing index holds, over
// every loaded workspace (for metrics).
func (e *Engine) IndexSize() int {
	e.mu.Lock()
	idx := make([]*wsIndex, 0, len(e.workspaces))
	for _, wi := range e.workspaces {
		idx = append(idx, wi)
	}
	e.mu.Unlock()
	n := 0
	for _, wi := range idx {
		wi.mu.RLock()
		if wi.ix != nil {
			n += wi.ix.Len()
		}
		wi.mu.RUnlock()
	}
	return n
}
