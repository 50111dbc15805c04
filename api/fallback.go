package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/routing"
)

// Writes the engine has no method for yet (requested in the team's
// REQUESTS.md). Each goes through one store transaction and records the
// event TaskRouter would; the routing consequences reach every engine
// through the store's change feed (a worker or task change makes the engine
// re-read it and route), and state transitions with routing effects
// (cancel, complete) still go through the engine.

// noWriter is the answer of an endpoint that needs the store's Tx.
func noWriter(what string) error {
	return engine.Errorf(engine.EINVALID, "%s is not available: the API was configured with a read-only store", what)
}

// event builds an event dated now with data encoded as its JSON.
func (h *Handler) event(ws, typ, resourceType, resourceSID, desc string, data map[string]any) engine.Event {
	ev := engine.Event{
		SID: engine.NewSID(engine.PrefixEvent), WorkspaceSID: ws, EventType: typ, ResourceType: resourceType,
		ResourceSID: resourceSID, Description: desc, Data: "{}", Date: h.clock.Now(),
	}
	if data != nil {
		if b, err := json.Marshal(data); err == nil {
			ev.Data = string(b)
		}
	}
	return ev
}

// WorkspaceUpdate is what POST /Workspaces/{WS} may change; nil = unchanged.
type workspaceUpdate struct {
	FriendlyName       *string
	DefaultActivitySID *string
	TimeoutActivitySID *string // "" clears it
	EventCallbackURL   *string // "" clears it
}

func (h *Handler) writeWorkspace(ctx context.Context, sid string, u workspaceUpdate) (engine.Workspace, error) {
	if h.writer == nil {
		return engine.Workspace{}, noWriter("updating a workspace")
	}
	if u.EventCallbackURL != nil && *u.EventCallbackURL != "" {
		if err := checkCallbackURL("EventCallbackUrl", *u.EventCallbackURL); err != nil {
			return engine.Workspace{}, err
		}
	}
	err := h.writer.Tx(ctx, func(tx engine.Tx) error {
		ws, err := tx.GetWorkspace(ctx, sid)
		if err != nil {
			return err
		}
		if u.FriendlyName != nil {
			name := strings.TrimSpace(*u.FriendlyName)
			if name == "" {
				return engine.Errorf(engine.EINVALID, "FriendlyName must not be empty")
			}
			ws.FriendlyName = name
		}
		for _, a := range []struct {
			param string
			sid   *string
			dst   *string
			may   bool // may be cleared
		}{
			{"DefaultActivitySid", u.DefaultActivitySID, &ws.DefaultActivitySID, false},
			{"TimeoutActivitySid", u.TimeoutActivitySID, &ws.TimeoutActivitySID, true},
		} {
			if a.sid == nil {
				continue
			}
			if *a.sid == "" && a.may {
				*a.dst = ""
				continue
			}
			if _, err := tx.GetActivity(ctx, sid, *a.sid); err != nil {
				if engine.ErrorCode(err) == engine.ENOTFOUND {
					return engine.Errorf(engine.EINVALID, "%s %q is not an activity of workspace %s", a.param, *a.sid, sid)
				}
				return err
			}
			*a.dst = *a.sid
		}
		if u.EventCallbackURL != nil {
			ws.EventCallbackURL = *u.EventCallbackURL
		}
		ws.DateUpdated = h.clock.Now()
		if err := tx.UpdateWorkspace(ctx, ws); err != nil {
			return fmt.Errorf("update workspace %s: %w", sid, err)
		}
		return nil
	})
	if err != nil {
		return engine.Workspace{}, err
	}
	return h.store.GetWorkspace(ctx, sid)
}

// checkCallbackURL accepts an absolute http or https URL.
func checkCallbackURL(param, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return engine.Errorf(engine.EINVALID, "%s must be an absolute http or https URL, not %q", param, raw)
	}
	return nil
}

func (h *Handler) insertActivity(ctx context.Context, ws, name string, available bool) (engine.Activity, error) {
	if h.writer == nil {
		return engine.Activity{}, noWriter("creating an activity")
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return engine.Activity{}, engine.Errorf(engine.EINVALID, "FriendlyName is required")
	}
	now := h.clock.Now()
	a := engine.Activity{SID: engine.NewSID(engine.PrefixActivity), WorkspaceSID: ws, FriendlyName: name,
		Available: available, DateCreated: now, DateUpdated: now}
	err := h.writer.Tx(ctx, func(tx engine.Tx) error {
		if err := uniqueActivityName(ctx, tx, ws, name, ""); err != nil {
			return err
		}
		return tx.InsertActivity(ctx, a)
	})
	if err != nil {
		return engine.Activity{}, err
	}
	return h.store.GetActivity(ctx, ws, a.SID)
}

// uniqueActivityName refuses a name another activity of the workspace has:
// workers and skip_if expressions name activities by their friendly name.
func uniqueActivityName(ctx context.Context, tx engine.Tx, ws, name, self string) error {
	acts, err := tx.ListActivities(ctx, ws)
	if err != nil {
		return err
	}
	for _, a := range acts {
		if a.SID != self && strings.EqualFold(a.FriendlyName, name) {
			return engine.Errorf(engine.ECONFLICT, "activity %s is already named %q", a.SID, a.FriendlyName)
		}
	}
	return nil
}

func (h *Handler) renameActivity(ctx context.Context, ws, sid, name string) (engine.Activity, error) {
	if h.writer == nil {
		return engine.Activity{}, noWriter("updating an activity")
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return engine.Activity{}, engine.Errorf(engine.EINVALID, "FriendlyName must not be empty")
	}
	err := h.writer.Tx(ctx, func(tx engine.Tx) error {
		a, err := tx.GetActivity(ctx, ws, sid)
		if err != nil {
			return err
		}
		if a.FriendlyName == name {
			return nil
		}
		if err := uniqueActivityName(ctx, tx, ws, name, sid); err != nil {
			return err
		}
		a.FriendlyName, a.DateUpdated = name, h.clock.Now()
		// The store rewrites the activity name its workers carry, and the
		// change feed has every engine reload them.
		return tx.UpdateActivity(ctx, a)
	})
	if err != nil {
		return engine.Activity{}, err
	}
	return h.store.GetActivity(ctx, ws, sid)
}

func (h *Handler) removeActivity(ctx context.Context, ws, sid string) error {
	if h.writer == nil {
		return noWriter("deleting an activity")
	}
	return h.writer.Tx(ctx, func(tx engine.Tx) error {
		if _, err := tx.GetActivity(ctx, ws, sid); err != nil {
			return err
		}
		return tx.DeleteActivity(ctx, ws, sid) // ECONFLICT while a worker or the workspace uses it
	})
}

// setCapacity changes a worker's capacity. The store announces the worker
// change; every engine re-reads the worker and, when it can now take more,
// gives it a waiting task.
func (h *Handler) setCapacity(ctx context.Context, ws, sid string, capacity int) (engine.Worker, error) {
	if h.writer == nil {
		return engine.Worker{}, noWriter("updating a worker channel")
	}
	if capacity < 0 || capacity > maxCapacity {
		return engine.Worker{}, engine.Errorf(engine.EINVALID, "Capacity must be between 0 and %d, not %d", maxCapacity, capacity)
	}
	err := h.writer.Tx(ctx, func(tx engine.Tx) error {
		w, err := tx.GetWorker(ctx, ws, sid)
		if err != nil {
			return err
		}
		if w.Capacity == capacity {
			return nil
		}
		prev := w.Capacity
		w.Capacity, w.DateUpdated = capacity, h.clock.Now()
		if err := tx.UpdateWorker(ctx, w); err != nil {
			return err
		}
		ev := h.event(ws, engine.EventWorkerCapacityUpdate, "worker", w.SID,
			fmt.Sprintf("Worker %s capacity updated to %d", w.FriendlyName, capacity),
			map[string]any{"worker_channel_capacity": capacity, "worker_channel_previous_capacity": prev,
				"task_channel_unique_name": voiceChannel})
		ev.WorkerSID = w.SID
		return tx.InsertEvent(ctx, ev)
	})
	if err != nil {
		return engine.Worker{}, err
	}
	return h.store.GetWorker(ctx, ws, sid)
}

// updateTaskFields changes a live task's attributes and priority. A pending
// task is announced, so that the engines route it again with them.
func (h *Handler) updateTaskFields(ctx context.Context, ws, sid string, attrs *string, priority *int) (engine.Task, error) {
	if h.writer == nil {
		return engine.Task{}, noWriter("updating a task's attributes or priority")
	}
	if attrs != nil {
		raw := strings.TrimSpace(*attrs)
		if raw == "" {
			raw = "{}"
		}
		if _, err := routing.ParseAttributes([]byte(raw)); err != nil {
			return engine.Task{}, engine.Errorf(engine.EINVALID, "Attributes: %v", err)
		}
		attrs = &raw
	}
	if priority != nil && *priority < 0 {
		return engine.Task{}, engine.Errorf(engine.EINVALID, "Priority must not be negative, not %d", *priority)
	}
	var out engine.Task
	err := h.writer.Tx(ctx, func(tx engine.Tx) error {
		t, err := tx.GetTask(ctx, ws, sid)
		if err != nil {
			return err
		}
		if t.AssignmentStatus == engine.TaskCompleted || t.AssignmentStatus == engine.TaskCanceled {
			return engine.Errorf(engine.EUNAVAILABLE, "task %s is %s; its attributes and priority can no longer change", sid, t.AssignmentStatus)
		}
		changed := false
		if attrs != nil && *attrs != t.Attributes {
			t.Attributes, changed = *attrs, true
		}
		if priority != nil && *priority != t.Priority {
			t.Priority, changed = *priority, true
		}
		if !changed {
			out = t
			return nil
		}
		t.DateUpdated = h.clock.Now()
		if out, err = tx.UpdateTask(ctx, t); err != nil {
			return err
		}
		ev := h.event(ws, engine.EventTaskUpdated, "task", t.SID, fmt.Sprintf("Task %s updated", t.SID),
			map[string]any{"task_priority": t.Priority, "task_queue_sid": t.TaskQueueSID})
		ev.TaskSID = t.SID
		if err := tx.InsertEvent(ctx, ev); err != nil {
			return err
		}
		if t.AssignmentStatus == engine.TaskPending {
			return tx.Notify(ctx, engine.Change{Kind: engine.ChangeTask, WorkspaceSID: ws, SID: t.SID})
		}
		return nil
	})
	return out, err
}

// wrapUpTask moves an assigned task and its accepted reservation to
// wrapping. The worker stays busy until the task is completed.
func (h *Handler) wrapUpTask(ctx context.Context, ws, sid, reason string) (engine.Task, error) {
	if h.writer == nil {
		return engine.Task{}, noWriter("wrapping up a task")
	}
	var out engine.Task
	err := h.writer.Tx(ctx, func(tx engine.Tx) error {
		t, err := tx.GetTask(ctx, ws, sid)
		if err != nil {
			return err
		}
		switch t.AssignmentStatus {
		case engine.TaskWrapping:
			out = t
			return nil
		case engine.TaskAssigned:
		default:
			return engine.Errorf(engine.EUNAVAILABLE, "task %s is %s; only an assigned task can go to wrapping", sid, t.AssignmentStatus)
		}
		now := h.clock.Now()
		rs, err := tx.ListReservations(ctx, ws, engine.ReservationFilter{Page: engine.Page{Size: 1000}, TaskSID: sid,
			Status: engine.ReservationAccepted})
		if err != nil {
			return err
		}
		for _, r0 := range rs {
			r, err := tx.GetReservation(ctx, ws, r0.SID)
			if err != nil {
				return err
			}
			r.Status, r.DateUpdated = engine.ReservationWrapping, now
			if err := tx.UpdateReservation(ctx, r); err != nil {
				return err
			}
			ev := h.event(ws, engine.EventReservationWrapup, "reservation", r.SID,
				fmt.Sprintf("Reservation %s wrapping up", r.SID), map[string]any{"task_queue_sid": t.TaskQueueSID})
			ev.TaskSID, ev.WorkerSID, ev.ReservationSID = t.SID, r.WorkerSID, r.SID
			if err := tx.InsertEvent(ctx, ev); err != nil {
				return err
			}
		}
		if reason != "" {
			t.Reason = reason
		}
		t.AssignmentStatus, t.DateUpdated = engine.TaskWrapping, now
		if out, err = tx.UpdateTask(ctx, t); err != nil {
			return err
		}
		ev := h.event(ws, engine.EventTaskWrapup, "task", t.SID, fmt.Sprintf("Task %s wrapping up", t.SID),
			map[string]any{"reason": t.Reason, "task_queue_sid": t.TaskQueueSID})
		ev.TaskSID = t.SID
		return tx.InsertEvent(ctx, ev)
	})
	return out, err
}

// deleteTask ends a task through the engine (canceled, or completed when a
// worker holds it: either frees the worker, who then serves the next task)
// and then deletes it with its reservations. Its events stay.
func (h *Handler) deleteTask(ctx context.Context, ws, sid string) error {
	if h.writer == nil {
		return noWriter("deleting a task")
	}
	t, err := h.store.GetTask(ctx, ws, sid)
	if err != nil {
		return err
	}
	// Two rounds: a completion may go through wrapping first.
	for range 3 {
		switch t.AssignmentStatus {
		case engine.TaskPending, engine.TaskReserved:
			t, err = h.eng.CancelTask(ctx, ws, sid, "Task deleted")
		case engine.TaskAssigned, engine.TaskWrapping:
			t, err = h.eng.CompleteTask(ctx, ws, sid, "Task deleted")
		}
		if err != nil && engine.ErrorCode(err) != engine.EUNAVAILABLE {
			return err
		}
		if err != nil { // its state moved meanwhile: look again
			if t, err = h.store.GetTask(ctx, ws, sid); err != nil {
				return err
			}
		}
		if t.AssignmentStatus == engine.TaskCompleted || t.AssignmentStatus == engine.TaskCanceled {
			break
		}
	}
	return h.writer.Tx(ctx, func(tx engine.Tx) error {
		t, err := tx.GetTask(ctx, ws, sid)
		if err != nil {
			return err
		}
		if t.AssignmentStatus != engine.TaskCompleted && t.AssignmentStatus != engine.TaskCanceled {
			return engine.Errorf(engine.ECONFLICT, "task %s changed meanwhile (it is %s); try again", sid, t.AssignmentStatus)
		}
		ev := h.event(ws, engine.EventTaskDeleted, "task", t.SID, fmt.Sprintf("Task %s deleted", t.SID),
			map[string]any{"task_queue_sid": t.TaskQueueSID, "workflow_sid": t.WorkflowSID})
		ev.TaskSID = t.SID
		if err := tx.InsertEvent(ctx, ev); err != nil {
			return err
		}
		return tx.DeleteTask(ctx, ws, sid)
	})
}
