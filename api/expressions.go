package api

import (
	"context"
	"strings"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/routing"
)

// Expressions in list filters (TargetWorkersExpression, EvaluateTaskAttributes,
// a queue's target_workers) are TaskRouter expressions, compiled and
// evaluated by the routing package exactly as routing does.

func compileFilter(param, src string, scope routing.Scope) (*routing.Expr, error) {
	e, err := routing.Compile(src, scope)
	if err != nil {
		return nil, didrouter.Errorf(didrouter.EINVALID, "%s: %v", param, err)
	}
	return e, nil
}

// workerInfo is what an expression over workers sees of w: its attributes
// and its sid, friendly name and activity. Unparseable attributes (never
// stored by the engine) read as none.
func workerInfo(w didrouter.Worker) *routing.WorkerInfo {
	attrs, err := routing.ParseAttributes([]byte(w.Attributes))
	if err != nil {
		attrs = routing.Attributes{}
	}
	return &routing.WorkerInfo{
		SID: w.SID, FriendlyName: w.FriendlyName, Attributes: attrs, Available: w.Available,
		Capacity: w.Capacity, Busy: w.Busy, MessageCapacity: w.MessageCapacity, MessageBusy: w.MessageBusy,
		ActivitySID: w.ActivitySID, ActivityName: w.ActivityName,
		Version: w.Version,
	}
}

// workerMatches reports whether w satisfies every expression.
func workerMatches(w didrouter.Worker, exprs []*routing.Expr) bool {
	if len(exprs) == 0 {
		return true
	}
	info := workerInfo(w)
	for _, e := range exprs {
		if !e.EvalWorker(nil, info) {
			return false
		}
	}
	return true
}

// queuesNamed returns the queues with the given friendly name (any case).
func (h *Handler) queuesNamed(ctx context.Context, ws, name string) ([]didrouter.TaskQueue, error) {
	all, err := h.store.ListTaskQueues(ctx, ws)
	if err != nil {
		return nil, err
	}
	var out []didrouter.TaskQueue
	for _, q := range all {
		if strings.EqualFold(q.FriendlyName, name) {
			out = append(out, q)
		}
	}
	return out, nil
}

// allWorkers reads every worker of a workspace.
func (h *Handler) allWorkers(ctx context.Context, ws string) ([]didrouter.Worker, error) {
	var out []didrouter.Worker
	err := h.store.EachWorker(ctx, ws, func(w didrouter.Worker) error {
		out = append(out, w)
		return nil
	})
	return out, err
}
