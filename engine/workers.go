package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/routing"
)

// WorkerInsert is the input of CreateWorker.
type WorkerInsert struct {
	FriendlyName string
	Attributes   string // JSON object; "" = {}
	ActivitySID  string // "" = the workspace's default activity
}

// WorkerUpdate is the input of UpdateWorker; nil fields are unchanged.
type WorkerUpdate struct {
	FriendlyName *string
	Attributes   *string
	ActivitySID  *string
	Capacity     *int // voice capacity, 0..MaxWorkerCapacity
	// MessageCapacity is the capacity on MessageChannel, 0..MaxWorkerCapacity.
	MessageCapacity *int
}

// MaxWorkerCapacity bounds a worker's capacity on each channel.
const MaxWorkerCapacity = 50

// normalizeAttributes checks a worker's attributes JSON and normalizes its
// "phone_number", the worker's DID, to E.164. It returns the attributes to
// store, whose text is unchanged unless the number was rewritten. It also
// returns the DID, which is "" when the number is missing, null or empty.
func (e *Engine) normalizeAttributes(raw string) (string, string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		raw = "{}"
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &fields); err != nil || fields == nil {
		return "", "", didrouter.Errorf(didrouter.EINVALID, "attributes must be a JSON object")
	}
	if _, err := routing.ParseAttributes([]byte(raw)); err != nil {
		return "", "", didrouter.Errorf(didrouter.EINVALID, "attributes: %v", err)
	}
	pn, ok := fields["phone_number"]
	if !ok || string(pn) == "null" {
		return raw, "", nil
	}
	var s string
	if err := json.Unmarshal(pn, &s); err != nil {
		return "", "", didrouter.Errorf(didrouter.EINVALID, "attributes.phone_number must be a string such as \"+12345678900\", not %s", pn)
	}
	if strings.TrimSpace(s) == "" {
		return raw, "", nil
	}
	num, err := e.norm.Normalize(s)
	if err != nil {
		return "", "", didrouter.Errorf(didrouter.EINVALID, "attributes.phone_number %q is not a valid phone number: %v", s, err)
	}
	if num.E164 == s {
		return raw, num.E164, nil
	}
	b, err := json.Marshal(num.E164)
	if err != nil {
		return "", "", fmt.Errorf("encode phone number: %w", err)
	}
	fields["phone_number"] = b
	out, err := json.Marshal(fields)
	if err != nil {
		return "", "", fmt.Errorf("encode attributes: %w", err)
	}
	return string(out), num.E164, nil
}

// checkDID fails with ECONFLICT, naming the owner, when did belongs to a
// worker other than self. The store's unique index still decides races;
// didConflict words its answer.
func checkDID(ctx context.Context, tx didrouter.Tx, workspaceSID, did, self string) error {
	if did == "" {
		return nil
	}
	owner, err := tx.WorkerByPhoneNumber(ctx, workspaceSID, did)
	switch {
	case didrouter.ErrorCode(err) == didrouter.ENOTFOUND:
		return nil
	case err != nil:
		return fmt.Errorf("look up the owner of %s: %w", did, err)
	case owner.SID != self:
		return didrouter.Errorf(didrouter.ECONFLICT, "phone_number %s already belongs to worker %s (%s)", did, owner.SID, owner.FriendlyName)
	}
	return nil
}

// didConflict words the store's ECONFLICT on a write that set did.
func didConflict(err error, did string) error {
	if didrouter.ErrorCode(err) == didrouter.ECONFLICT && did != "" {
		return didrouter.Errorf(didrouter.ECONFLICT, "phone_number %s already belongs to another worker", did)
	}
	return err
}

// CreateWorker creates a worker (capacity 1) in the given or the workspace's
// default activity. Its "phone_number" attribute is normalized to E.164 and
// must not belong to another worker.
func (e *Engine) CreateWorker(ctx context.Context, workspaceSID string, n WorkerInsert) (didrouter.Worker, error) {
	name := strings.TrimSpace(n.FriendlyName)
	if name == "" {
		return didrouter.Worker{}, didrouter.Errorf(didrouter.EINVALID, "friendly_name is required")
	}
	attrs, did, err := e.normalizeAttributes(n.Attributes)
	if err != nil {
		return didrouter.Worker{}, err
	}
	// Read outside the transaction: locking the workspace row here would
	// order it before worker rows, the reverse of a reservation timeout.
	ws, err := e.store.GetWorkspace(ctx, workspaceSID)
	if err != nil {
		return didrouter.Worker{}, fmt.Errorf("create worker: read workspace %s: %w", workspaceSID, err)
	}
	var out didrouter.Worker
	fx, err := e.tx(ctx, func(tx didrouter.Tx, fx *effects) error {
		now := e.clock.Now()
		actSID := n.ActivitySID
		if actSID == "" {
			actSID = ws.DefaultActivitySID
		}
		act, err := tx.GetActivity(ctx, workspaceSID, actSID)
		if didrouter.ErrorCode(err) == didrouter.ENOTFOUND {
			return didrouter.Errorf(didrouter.EINVALID, "activity_sid %s is not an activity of workspace %s", actSID, workspaceSID)
		}
		if err != nil {
			return fmt.Errorf("read activity %s: %w", actSID, err)
		}
		w := didrouter.Worker{
			SID: didrouter.NewSID(didrouter.PrefixWorker), WorkspaceSID: workspaceSID, FriendlyName: name, Attributes: attrs,
			ActivitySID: act.SID, ActivityName: act.FriendlyName, Available: act.Available, Capacity: 1,
			MessageCapacity: DefaultMessageCapacity,
			PhoneNumber:     did, DateStatusChanged: now, DateCreated: now, DateUpdated: now,
		}
		if err := checkDID(ctx, tx, workspaceSID, did, w.SID); err != nil {
			return err
		}
		if err := tx.InsertWorker(ctx, w); err != nil {
			return didConflict(fmt.Errorf("insert worker: %w", err), did)
		}
		if out, err = tx.GetWorker(ctx, workspaceSID, w.SID); err != nil {
			return fmt.Errorf("read new worker: %w", err)
		}
		fx.noteWorker(out)
		if out.Available {
			fx.serveWorker(out.SID)
		}
		return e.event(ctx, tx, workerEvent(out, didrouter.EventWorkerCreated, fmt.Sprintf("Worker %s created", name)),
			map[string]any{"worker_activity_sid": act.SID, "worker_activity_name": act.FriendlyName})
	})
	if err != nil {
		return didrouter.Worker{}, fmt.Errorf("create worker: %w", err)
	}
	if _, _, err := e.after(ctx, workspaceSID, fx, ""); err != nil {
		return out, fmt.Errorf("create worker: serve waiting tasks: %w", err)
	}
	return e.fresh(ctx, out)
}

// fresh re-reads a worker after follow-up routing may have reserved it.
func (e *Engine) fresh(ctx context.Context, w didrouter.Worker) (didrouter.Worker, error) {
	got, err := e.store.GetWorker(ctx, w.WorkspaceSID, w.SID)
	if err != nil {
		return w, fmt.Errorf("re-read worker %s: %w", w.SID, err)
	}
	return got, nil
}

// UpdateWorker changes a worker's name, attributes or activity. A worker
// moving to an unavailable activity gives up its pending reservations
// (rejected, so each task moves on at once). A worker that becomes available,
// or whose attributes change, serves waiting tasks.
func (e *Engine) UpdateWorker(ctx context.Context, workspaceSID, sid string, u WorkerUpdate) (didrouter.Worker, error) {
	var attrs, did string
	if u.Attributes != nil {
		var err error
		if attrs, did, err = e.normalizeAttributes(*u.Attributes); err != nil {
			return didrouter.Worker{}, err
		}
	}
	if u.FriendlyName != nil && strings.TrimSpace(*u.FriendlyName) == "" {
		return didrouter.Worker{}, didrouter.Errorf(didrouter.EINVALID, "friendly_name must not be empty")
	}
	if u.Capacity != nil && (*u.Capacity < 0 || *u.Capacity > MaxWorkerCapacity) {
		return didrouter.Worker{}, didrouter.Errorf(didrouter.EINVALID, "capacity must be between 0 and %d", MaxWorkerCapacity)
	}
	if u.MessageCapacity != nil && (*u.MessageCapacity < 0 || *u.MessageCapacity > MaxWorkerCapacity) {
		return didrouter.Worker{}, didrouter.Errorf(didrouter.EINVALID, "capacity of the %s channel must be between 0 and %d", didrouter.MessageChannel, MaxWorkerCapacity)
	}
	var out didrouter.Worker
	fx, err := e.tx(ctx, func(tx didrouter.Tx, fx *effects) error {
		now := e.clock.Now()
		w, err := tx.GetWorker(ctx, workspaceSID, sid)
		if err != nil {
			return fmt.Errorf("read worker %s: %w", sid, err)
		}
		var (
			events  []didrouter.Event
			capData []map[string]any // one per capacity event, in order
		)
		changed := false
		if u.FriendlyName != nil && strings.TrimSpace(*u.FriendlyName) != w.FriendlyName {
			w.FriendlyName = strings.TrimSpace(*u.FriendlyName)
			changed = true
		}
		if u.Attributes != nil && (attrs != w.Attributes || did != w.PhoneNumber) {
			w.Attributes, w.PhoneNumber = attrs, did
			changed = true
			events = append(events, workerEvent(w, didrouter.EventWorkerAttributesUpdate,
				fmt.Sprintf("Worker %s attributes updated", w.FriendlyName)))
		}
		if u.Capacity != nil && *u.Capacity != w.Capacity {
			// Lowering it below Busy rescinds nothing: the worker just
			// takes no new task until Busy drops under it.
			events = append(events, workerEvent(w, didrouter.EventWorkerCapacityUpdate,
				fmt.Sprintf("Worker %s capacity %d -> %d", w.FriendlyName, w.Capacity, *u.Capacity)))
			capData = append(capData, map[string]any{"capacity": *u.Capacity, "previous": w.Capacity, "task_channel": DefaultTaskChannel})
			w.Capacity = *u.Capacity
			changed = true
		}
		if u.MessageCapacity != nil && *u.MessageCapacity != w.MessageCapacity {
			events = append(events, workerEvent(w, didrouter.EventWorkerCapacityUpdate,
				fmt.Sprintf("Worker %s %s capacity %d -> %d", w.FriendlyName, didrouter.MessageChannel, w.MessageCapacity, *u.MessageCapacity)))
			capData = append(capData, map[string]any{"capacity": *u.MessageCapacity, "previous": w.MessageCapacity, "task_channel": didrouter.MessageChannel})
			w.MessageCapacity = *u.MessageCapacity
			changed = true
		}
		var act *didrouter.Activity
		if u.ActivitySID != nil && *u.ActivitySID != w.ActivitySID {
			a, err := tx.GetActivity(ctx, workspaceSID, *u.ActivitySID)
			if didrouter.ErrorCode(err) == didrouter.ENOTFOUND {
				return didrouter.Errorf(didrouter.EINVALID, "activity_sid %s is not an activity of workspace %s", *u.ActivitySID, workspaceSID)
			}
			if err != nil {
				return fmt.Errorf("read activity %s: %w", *u.ActivitySID, err)
			}
			act = &a
		}
		if changed {
			if err := checkDID(ctx, tx, workspaceSID, w.PhoneNumber, sid); err != nil {
				return err
			}
			w.DateUpdated = now
			if err := tx.UpdateWorker(ctx, w); err != nil {
				return didConflict(fmt.Errorf("update worker %s: %w", sid, err), w.PhoneNumber)
			}
		}
		for _, ev := range events {
			var data map[string]any
			if ev.EventType == didrouter.EventWorkerCapacityUpdate {
				data, capData = capData[0], capData[1:]
			}
			if err := e.event(ctx, tx, ev, data); err != nil {
				return err
			}
		}
		if act != nil {
			if err := e.setActivity(ctx, tx, fx, w, *act, now, nil); err != nil {
				return err
			}
		}
		if out, err = tx.GetWorker(ctx, workspaceSID, sid); err != nil {
			return fmt.Errorf("read worker %s: %w", sid, err)
		}
		fx.noteWorker(out)
		if changed && out.Available { // a no-op when it has no spare capacity
			fx.serveWorker(sid)
		}
		return nil
	})
	if err != nil {
		return didrouter.Worker{}, fmt.Errorf("update worker: %w", err)
	}
	var errs []error
	if !out.Available {
		if err := e.rejectPendingOf(ctx, workspaceSID, sid); err != nil {
			errs = append(errs, err)
		}
	}
	if _, _, err := e.after(ctx, workspaceSID, fx, ""); err != nil {
		errs = append(errs, fmt.Errorf("serve waiting tasks: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return out, fmt.Errorf("update worker: %w", err)
	}
	return e.fresh(ctx, out)
}

// rejectPendingOf rejects the worker's pending reservations (it has become
// unavailable, or is being deleted): each task moves on at once.
func (e *Engine) rejectPendingOf(ctx context.Context, workspaceSID, workerSID string) error {
	list, err := e.store.ListReservations(ctx, workspaceSID, didrouter.ReservationFilter{Page: didrouter.Page{Size: 1000},
		WorkerSID: workerSID, Status: didrouter.ReservationPending})
	if err != nil {
		return fmt.Errorf("list pending reservations of worker %s: %w", workerSID, err)
	}
	var errs []error
	for _, r := range list {
		// Not the worker's answer to the call: not counted as declined.
		_, err := e.rejectReservation(ctx, workspaceSID, r.SID, didrouter.ReservationRejected, false)
		if err != nil && didrouter.ErrorCode(err) != didrouter.EUNAVAILABLE { // EUNAVAILABLE: it ended meanwhile
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// DeleteWorker deletes a worker that holds no accepted task; its pending
// reservations are rejected first, so their tasks move on.
func (e *Engine) DeleteWorker(ctx context.Context, workspaceSID, sid string) error {
	if _, err := e.store.GetWorker(ctx, workspaceSID, sid); err != nil {
		return fmt.Errorf("delete worker: %w", err)
	}
	if err := e.rejectPendingOf(ctx, workspaceSID, sid); err != nil {
		return fmt.Errorf("delete worker: %w", err)
	}
	_, err := e.tx(ctx, func(tx didrouter.Tx, fx *effects) error {
		w, err := tx.GetWorker(ctx, workspaceSID, sid)
		if err != nil {
			return fmt.Errorf("read worker %s: %w", sid, err)
		}
		if HoldsWork(w) {
			return didrouter.Errorf(didrouter.EUNAVAILABLE, "worker %s is on a task; complete or cancel it before deleting the worker", sid)
		}
		if err := e.event(ctx, tx, workerEvent(w, didrouter.EventWorkerDeleted, fmt.Sprintf("Worker %s deleted", w.FriendlyName)), nil); err != nil {
			return err
		}
		if err := tx.DeleteWorker(ctx, workspaceSID, sid); err != nil {
			return fmt.Errorf("delete worker %s: %w", sid, err)
		}
		fx.gone = append(fx.gone, w)
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete worker: %w", err)
	}
	return nil
}
