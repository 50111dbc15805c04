package engine

import (
	"context"
	"fmt"
	"slices"

	"github.com/didrouter/didrouter"
)

// AnyoneAvailable reports whether a waiting task can still be answered by
// someone. It looks at the queues of the task's current target and of the
// targets after it, which are the rest of its filter and then the default
// filter. It is true when one of them has a member in an available
// activity, busy or not. A caller for whom it is false waits for nobody,
// so the webhooks send them to voicemail. A task whose workflow cannot be
// read is taken as answerable, and the caller keeps waiting.
func (e *Engine) AnyoneAvailable(ctx context.Context, t didrouter.Task) (bool, error) {
	_, wf, err := e.workflow(ctx, t.WorkspaceSID, t.WorkflowSID)
	if err != nil {
		return true, fmt.Errorf("anyone available for task %s: %w", t.SID, err)
	}
	var queues []string
	if ts := targetsOf(wf, t.FilterIndex); t.TargetIndex >= 0 && t.TargetIndex < len(ts) {
		for _, tgt := range ts[t.TargetIndex:] {
			queues = append(queues, tgt.Queue)
		}
	}
	if t.FilterIndex != defaultFilter && wf.Default != nil {
		queues = append(queues, wf.Default.Queue)
	}
	if t.TaskQueueSID != "" && !slices.Contains(queues, t.TaskQueueSID) {
		queues = append(queues, t.TaskQueueSID)
	}
	wi, err := e.index(ctx, t.WorkspaceSID)
	if err != nil {
		return true, fmt.Errorf("anyone available for task %s: %w", t.SID, err)
	}
	wi.mu.RLock()
	defer wi.mu.RUnlock()
	known := false
	for _, q := range queues {
		stats, ok := wi.ix.QueueStats(q)
		if !ok {
			continue
		}
		known = true
		if stats.Available > 0 {
			return true, nil
		}
	}
	return !known, nil
}

// QueuePosition is a waiting task's place among the tasks waiting in its
// queue for the same capacity, in service order, and how many wait there in
// all. Position 1 is next, and 0 means the task does not wait. A caller is
// not behind the messages of the queue, which wait for another capacity.
func (e *Engine) QueuePosition(ctx context.Context, t didrouter.Task) (position, waiting int, err error) {
	list, err := e.store.WaitingTasks(ctx, t.WorkspaceSID, waitingScan)
	if err != nil {
		return 0, 0, fmt.Errorf("queue position of task %s: %w", t.SID, err)
	}
	if list, err = e.serviceOrder(ctx, t.WorkspaceSID, list); err != nil {
		return 0, 0, fmt.Errorf("queue position of task %s: %w", t.SID, err)
	}
	for _, w := range list {
		if w.TaskQueueSID != t.TaskQueueSID || !sameCapacity(w.TaskChannel, t.TaskChannel) {
			continue
		}
		waiting++
		if w.SID == t.SID {
			position = waiting
		}
	}
	return position, waiting, nil
}
