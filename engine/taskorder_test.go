package engine_test

import (
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

// A worker who becomes available takes the newest waiting task of a LIFO
// queue (within the highest priority waiting), the oldest of a FIFO queue.
func TestTaskOrderLIFO(t *testing.T) {
	for _, c := range []struct {
		order string
		want  int // index of the task the worker takes, among the same-priority ones
	}{
		{didrouter.TaskOrderLIFO, 1},
		{didrouter.TaskOrderFIFO, 0},
	} {
		t.Run(c.order, func(t *testing.T) {
			eachStore(t, func(t *testing.T, h *harness) {
				order := c.order
				if _, err := h.eng.UpdateTaskQueue(h.ctx, h.ws.SID, h.queue, engine.TaskQueueUpdate{TaskOrder: &order}); err != nil {
					t.Fatal(err)
				}
				// Nobody is available: two calls to a number nobody owns
				// wait in Everyone, the second a minute younger.
				var waiting []engine.TaskResult
				for range 2 {
					res := h.call("+15125550199", 0)
					if res.Reservation != nil {
						t.Fatalf("task reserved with nobody available: %+v", res)
					}
					waiting = append(waiting, res)
					h.clock.Advance(time.Minute)
				}
				for _, res := range waiting {
					if got := h.task(res.Task.SID); got.TaskQueueSID != h.queue || got.AssignmentStatus != didrouter.TaskPending {
						t.Fatalf("task %s: queue %s status %s, want pending in Everyone", got.SID, got.TaskQueueSID, got.AssignmentStatus)
					}
				}
				w := h.worker("bob", "", "Available")
				took := -1
				for i, res := range waiting {
					if r := h.live(res.Task.SID); r != nil {
						if r.WorkerSID != w.SID || took != -1 {
							t.Fatalf("task %d reserved to %s (took %d)", i, r.WorkerSID, took)
						}
						took = i
					}
				}
				if took != c.want {
					t.Errorf("%s queue: bob took waiting task %d, want %d", c.order, took, c.want)
				}
			})
		})
	}
}

// Priority still comes first in a LIFO queue: an older task of higher
// priority is served before newer ones; among equal priorities the newest.
func TestTaskOrderLIFOKeepsPriorityFirst(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		order := didrouter.TaskOrderLIFO
		if _, err := h.eng.UpdateTaskQueue(h.ctx, h.ws.SID, h.queue, engine.TaskQueueUpdate{TaskOrder: &order}); err != nil {
			t.Fatal(err)
		}
		urgent := h.call("+15125550199", 5)
		h.clock.Advance(time.Minute)
		older := h.call("+15125550198", 0)
		h.clock.Advance(time.Minute)
		newer := h.call("+15125550197", 0)
		h.clock.Advance(time.Minute)
		for _, want := range []engine.TaskResult{urgent, newer, older} {
			w := h.worker("w"+want.Task.SID[2:8], "", "Available")
			r := h.live(want.Task.SID)
			if r == nil || r.WorkerSID != w.SID {
				t.Fatalf("worker %s did not take task %s (priority %d): %+v", w.FriendlyName, want.Task.SID, want.Task.Priority, r)
			}
		}
	})
}
