package engine

import (
	"context"
	"fmt"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/routing"
)

// Explain says how a stored task's workflow routes it, step by step, with
// the workspace's workers and queues as the index holds them now. It is
// the walk of `didrouter explain`, routing.Explain, on live data, and it
// answers "why did this call go there". focus names a worker by sid or
// friendly name who is always listed, such as the one who answered.
func (e *Engine) Explain(ctx context.Context, t didrouter.Task, focus string) (*routing.Explanation, error) {
	_, wf, err := e.workflow(ctx, t.WorkspaceSID, t.WorkflowSID)
	if err != nil {
		return nil, fmt.Errorf("explain task %s: %w", t.SID, err)
	}
	attrs, err := routing.ParseAttributes([]byte(t.Attributes))
	if err != nil {
		return nil, didrouter.Errorf(didrouter.EINVALID, "task %s attributes: %v", t.SID, err)
	}
	queues, err := e.store.ListTaskQueues(ctx, t.WorkspaceSID)
	if err != nil {
		return nil, fmt.Errorf("explain task %s: list task queues: %w", t.SID, err)
	}
	opt := routing.ExplainOptions{QueueNames: make(map[string]string, len(queues)), Focus: focus, Capacity: capacityOf(t.TaskChannel)}
	for _, q := range queues {
		opt.QueueNames[q.SID] = q.FriendlyName
	}
	wi, err := e.index(ctx, t.WorkspaceSID)
	if err != nil {
		return nil, fmt.Errorf("explain task %s: %w", t.SID, err)
	}
	wi.mu.RLock()
	defer wi.mu.RUnlock()
	return routing.Explain(wf, wi.ix, attrs, opt), nil
}
