package engine

import (
	"context"
	"runtime"
	"sync"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/routing"
)

// warmPaths builds, on the still-empty index, the attribute indexes that
// the workspace's workflow targets query, such as worker.phone_number for
// the DID workflow's owner step. Workers loaded afterwards are indexed by
// them as they are inserted. Without this, the first call after a load
// would build them over the whole fleet while holding the index lock,
// which takes about 6 s at a million workers. Workflows that do not parse
// are skipped, and routing reports them when a task needs them.
func (e *Engine) warmPaths(ctx context.Context, ix *routing.Index, workspaceSID string, queues map[string]bool) {
	flows, err := e.store.ListWorkflows(ctx, workspaceSID)
	if err != nil {
		e.log.WarnContext(ctx, "listing workflows to prepare the index failed", "then", "indexes are built on first use",
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

// loadBatchSize is how many workers travel together through loadWorkers.
const loadBatchSize = 512

// loadBatch is a run of worker rows on their way into the index: the rows
// without their attributes, and the attribute documents back to back.
type loadBatch struct {
	infos    []routing.WorkerInfo
	docs     []byte
	ends     []int // end of each row's document in docs
	prepared []routing.PreparedWorker
}

// loadWorkers streams the workspace's workers into ix: the store's rows
// are copied into batches (the sid and name of a worker share one string,
// activity sids and names one string for all), their attributes parsed on
// every CPU, and the batches inserted under one lock each.
func (e *Engine) loadWorkers(ctx context.Context, ix *routing.Index, workspaceSID string) error {
	parsers := max(runtime.GOMAXPROCS(0), 1)
	free := make(chan *loadBatch, 2*parsers+4)
	rows := make(chan *loadBatch, parsers)
	parsed := make(chan *loadBatch, parsers)
	var wg sync.WaitGroup
	for range parsers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var p routing.AttributeParser
			for b := range rows {
				e.parseBatch(ctx, &p, b, workspaceSID)
				parsed <- b
			}
		}()
	}
	ix.BeginLoad()
	defer ix.EndLoad()
	inserted := make(chan struct{})
	go func() {
		defer close(inserted)
		for b := range parsed {
			ix.UpsertPrepared(b.prepared)
			clear(b.infos) // drop the references before the batch is reused
			clear(b.prepared)
			b.infos, b.docs, b.ends, b.prepared = b.infos[:0], b.docs[:0], b.ends[:0], b.prepared[:0]
			select {
			case free <- b:
			default:
			}
		}
	}()
	shared := make(map[string]string) // activity sids and names
	intern := func(b []byte) string {
		if s, ok := shared[string(b)]; ok {
			return s
		}
		s := string(b)
		if len(shared) < 1024 {
			shared[s] = s
		}
		return s
	}
	var cur *loadBatch
	var scratch []byte
	send := func() error {
		select {
		case rows <- cur:
			cur = nil
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	err := e.store.EachWorkerRow(ctx, workspaceSID, func(w *didrouter.WorkerRow) error {
		if cur == nil {
			select {
			case cur = <-free:
			default:
				cur = &loadBatch{infos: make([]routing.WorkerInfo, 0, loadBatchSize)}
			}
		}
		scratch = append(append(scratch[:0], w.SID...), w.FriendlyName...)
		sidName := string(scratch)
		cur.infos = append(cur.infos, routing.WorkerInfo{
			SID:             sidName[:len(w.SID)],
			FriendlyName:    sidName[len(w.SID):],
			Available:       w.Available,
			Capacity:        w.Capacity,
			Busy:            w.Busy,
			MessageCapacity: w.MessageCapacity,
			MessageBusy:     w.MessageBusy,
			IdleSince:       w.DateStatusChanged,
			Version:         w.Version,
			ActivitySID:     intern(w.ActivitySID),
			ActivityName:    intern(w.ActivityName),
		})
		cur.docs = append(cur.docs, w.Attributes...)
		cur.ends = append(cur.ends, len(cur.docs))
		if len(cur.infos) == loadBatchSize {
			return send()
		}
		return nil
	})
	if err == nil && cur != nil {
		err = send()
	}
	close(rows)
	wg.Wait()
	close(parsed)
	<-inserted
	return err
}

// parseBatch parses the attributes of a batch's rows for the index. A
// document that does not parse leaves its worker without attributes.
func (e *Engine) parseBatch(ctx context.Context, p *routing.AttributeParser, b *loadBatch, workspaceSID string) {
	start := 0
	for i := range b.infos {
		doc := b.docs[start:b.ends[i]]
		start = b.ends[i]
		w, err := p.Prepare(b.infos[i], doc)
		if err != nil {
			e.log.WarnContext(ctx, "worker attributes do not parse", "then", "indexed without attributes",
				"workspace", workspaceSID, "worker", b.infos[i].SID, "err", err)
		}
		b.prepared = append(b.prepared, w)
	}
}
