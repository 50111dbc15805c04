package engine

import (
	"context"
	"runtime"
	"sync"

	"github.com/didrouter/didrouter/routing"
)

// warmPaths builds, on the still-empty index, the attribute indexes that
// the workspace's workflow targets query (such as worker.phone_number for
// the DID workflow's owner step). Workers loaded afterwards are indexed by
// them as they are inserted; without this the first call after a (re)load
// built them over the whole fleet while holding the index lock (about 6 s
// at a million workers). Workflows that do not parse are skipped: routing
// reports them when a task needs them.
func (e *Engine) warmPaths(ctx context.Context, ix *routing.Index, workspaceSID string, queues map[string]bool) {
	flows, err := e.store.ListWorkflows(ctx, workspaceSID)
	if err != nil {
		e.log.WarnContext(ctx, "listing workflows to prepare the index failed; indexes are built on first use",
			"workspace", workspaceSID, "err", err)
		return
	}
	none := routing.Attributes{}
	for _, row := range flows {
		wf, err := routing.ParseWorkflow([]byte(row.Configuration), func(sid string) bool { return queues[sid] })
		if err != nil {
			continue
		}
		for _, f := range wf.Filters {
			for i := range f.Targets {
				ix.Matches(&f.Targets[i], none)
			}
		}
		if wf.Default != nil {
			ix.Matches(wf.Default, none)
		}
	}
}

// loadWorkers streams the workspace's workers into ix, parsing their
// attributes on every CPU while the store's rows are read.
func (e *Engine) loadWorkers(ctx context.Context, ix *routing.Index, workspaceSID string) error {
	rows := make(chan Worker, 1024)
	parsed := make(chan routing.WorkerInfo, 1024)
	var parsers sync.WaitGroup
	for range max(runtime.GOMAXPROCS(0), 1) {
		parsers.Add(1)
		go func() {
			defer parsers.Done()
			for w := range rows {
				info, err := workerInfo(w)
				if err != nil {
					e.log.WarnContext(ctx, "worker attributes do not parse; indexed without attributes",
						"workspace", workspaceSID, "worker", w.SID, "err", err)
					info, _ = workerInfo(Worker{SID: w.SID, FriendlyName: w.FriendlyName, Available: w.Available,
						Capacity: w.Capacity, Busy: w.Busy, DateStatusChanged: w.DateStatusChanged, Version: w.Version})
				}
				parsed <- info
			}
		}()
	}
	inserted := make(chan struct{})
	go func() {
		defer close(inserted)
		for info := range parsed {
			ix.UpsertWorker(info)
		}
	}()
	err := e.store.EachWorker(ctx, workspaceSID, func(w Worker) error {
		select {
		case rows <- w:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(rows)
	parsers.Wait()
	close(parsed)
	<-inserted
	return err
}
