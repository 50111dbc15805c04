package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/didrouter/didrouter"
)

// serviceOrder applies each queue's TaskOrder to waiting tasks listed in
// the store's service order, which is priority descending, then oldest
// first. A LIFO queue's tasks of one priority are served newest first.
// The places they hold in the list are refilled with the same tasks in
// reverse, so tasks of other queues and of other priorities keep their
// places. FIFO queues, the default, keep the store's order. Only the
// waitingScan tasks the caller scanned are reordered, so in a LIFO queue
// with more waiting tasks than that, the newest may lie beyond the scan.
// Within one priority, messagesLast puts voicemail messages after the
// calls and call-back requests, so a caller on the line does not wait
// behind a recording.
func (e *Engine) serviceOrder(ctx context.Context, workspaceSID string, tasks []didrouter.Task) ([]didrouter.Task, error) {
	if len(tasks) < 2 {
		return tasks, nil
	}
	messagesLast(tasks)
	queues, err := e.store.ListTaskQueues(ctx, workspaceSID)
	if err != nil {
		return nil, fmt.Errorf("list task queues: %w", err)
	}
	lifo := map[string]bool{}
	for _, q := range queues {
		if q.TaskOrder == didrouter.TaskOrderLIFO {
			lifo[q.SID] = true
		}
	}
	if len(lifo) == 0 {
		return tasks, nil
	}
	type run struct {
		queue    string
		priority int
	}
	places := map[run][]int{}
	for i, t := range tasks {
		if lifo[t.TaskQueueSID] {
			k := run{t.TaskQueueSID, t.Priority}
			places[k] = append(places[k], i)
		}
	}
	for _, idx := range places {
		picked := make([]didrouter.Task, len(idx))
		for j, i := range idx {
			picked[j] = tasks[i]
		}
		slices.Reverse(picked)
		for j, i := range idx {
			tasks[i] = picked[j]
		}
	}
	return tasks, nil
}

// messagesLast moves the voicemail tasks of each priority after that
// priority's other tasks, keeping every other order.
func messagesLast(tasks []didrouter.Task) {
	if !slices.ContainsFunc(tasks, isMessage) {
		return
	}
	slices.SortStableFunc(tasks, func(a, b didrouter.Task) int {
		if a.Priority != b.Priority {
			return b.Priority - a.Priority
		}
		ma, mb := isMessage(a), isMessage(b)
		switch {
		case ma == mb:
			return 0
		case ma:
			return 1
		default:
			return -1
		}
	})
}

// isMessage reports whether t is a voicemail message (see ringsPhone).
func isMessage(t didrouter.Task) bool {
	return strings.Contains(t.Attributes, didrouter.TaskTypeVoicemail) && didrouter.TaskType(t) == didrouter.TaskTypeVoicemail
}
