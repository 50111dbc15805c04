package engine

import (
	"context"
	"fmt"
	"time"
)

// DegradedImport says what ImportDegraded did.
type DegradedImport struct {
	TaskSID  string // the call's task in the store (the imported one, or the one it already had)
	Imported bool   // false: the call already had a task (imported before, or routed by the store)
	// Conflict is set when the degraded reservation could not be kept: its
	// worker was taken in the store meanwhile (another instance gave them a
	// call while this one could not tell it). The reservation is stored
	// canceled and the task waits.
	Conflict string
	// Waiting says the imported task is pending. It is not routed by the
	// import: other instances may still have to import calls that hold
	// workers the store thinks are free; call RouteImported once they had
	// the time (a freed worker may also take it meanwhile).
	Waiting bool
}

// ImportDegraded writes a call routed by RouteDegraded into the store, in
// one transaction, with the sids and dates it was given: the task, its
// events, its reservation (claiming the worker, as a reservation made
// online would) and its timers. It is idempotent per call: a call that
// already has a task (this import ran before, or another instance routed
// the call through the store) is left as it is. Timers whose deadline
// passed during the outage fire DegradedImportGrace after the import at
// the earliest, so that what other instances journaled about the call can
// be replayed first.
func (e *Engine) ImportDegraded(ctx context.Context, dc DegradedCall) (DegradedImport, error) {
	t0 := dc.Task
	if t0.SID == "" || t0.WorkspaceSID == "" {
		return DegradedImport{}, Errorf(EINVALID, "degraded call without a task")
	}
	_, wf, err := e.workflow(ctx, t0.WorkspaceSID, t0.WorkflowSID)
	if err != nil {
		return DegradedImport{}, fmt.Errorf("import degraded call: %w", err)
	}
	var out DegradedImport
	fx, err := e.tx(ctx, func(tx Tx, fx *effects) error {
		out = DegradedImport{TaskSID: t0.SID}
		now := e.clock.Now()
		existing, created, err := tx.InsertTask(ctx, t0)
		if err != nil {
			return fmt.Errorf("insert task: %w", err)
		}
		if !created {
			out.TaskSID = existing.SID
			return nil
		}
		out.Imported = true
		t, err := tx.GetTask(ctx, t0.WorkspaceSID, t0.SID)
		if err != nil {
			return fmt.Errorf("read imported task: %w", err)
		}
		for _, ev := range dc.Events {
			if ev.SID == "" {
				ev.SID = NewSID(PrefixEvent)
			}
			if err := tx.InsertEvent(ctx, ev); err != nil {
				return fmt.Errorf("insert event %s: %w", ev.EventType, err)
			}
		}
		grace := now.Add(DegradedImportGrace)
		if err := tx.SetTimer(ctx, Timer{
			SID: NewSID(PrefixTimer), WorkspaceSID: t.WorkspaceSID, Kind: TimerTask, TaskSID: t.SID,
			TaskVersion: t.Version, FireAt: t.DateCreated.Add(time.Duration(t.Timeout) * time.Second),
		}); err != nil {
			return fmt.Errorf("set task timeout: %w", err)
		}
		if tgt, ok := targetAt(wf, t.FilterIndex, t.TargetIndex); ok && tgt.Timeout != nil && *tgt.Timeout > 0 {
			if err := tx.SetTimer(ctx, Timer{
				SID: NewSID(PrefixTimer), WorkspaceSID: t.WorkspaceSID, Kind: TimerStep, TaskSID: t.SID,
				TaskVersion: t.Version, FireAt: later(t.StepEnteredAt.Add(time.Duration(*tgt.Timeout)*time.Second), grace),
			}); err != nil {
				return fmt.Errorf("set step timer: %w", err)
			}
		}
		fx.timers = true
		if r := dc.Reservation; r != nil && t.AssignmentStatus == TaskReserved {
			ok, err := tx.ClaimWorker(ctx, t.WorkspaceSID, r.WorkerSID, now)
			if err != nil && ErrorCode(err) != ENOTFOUND {
				return fmt.Errorf("claim worker %s: %w", r.WorkerSID, err)
			}
			res := *r
			if ok {
				if err := tx.InsertReservation(ctx, res); err != nil {
					return fmt.Errorf("insert reservation: %w", err)
				}
				w, err := tx.GetWorker(ctx, t.WorkspaceSID, r.WorkerSID)
				if err != nil {
					return fmt.Errorf("read worker %s: %w", r.WorkerSID, err)
				}
				fx.noteWorker(w)
				return tx.SetTimer(ctx, Timer{
					SID: NewSID(PrefixTimer), WorkspaceSID: t.WorkspaceSID, Kind: TimerReservation,
					TaskSID: t.SID, ReservationSID: res.SID, WorkerSID: res.WorkerSID, TaskVersion: t.Version,
					FireAt: later(res.DateCreated.Add(time.Duration(res.Timeout)*time.Second), grace),
				})
			}
			if dc.WaitIfBusy {
				return ErrDegradedWorkerBusy // rolls the import back
			}
			// The worker was given another call meanwhile: keep the
			// reservation as history, and route the task afresh.
			out.Conflict = fmt.Sprintf("worker %s was busy in the store when reservation %s of task %s was imported", r.WorkerSID, r.SID, t.SID)
			res.Status, res.DateUpdated = ReservationCanceled, now
			if err := tx.InsertReservation(ctx, res); err != nil {
				return fmt.Errorf("insert reservation: %w", err)
			}
			if err := e.event(ctx, tx, reservationEvent(res, EventReservationCanceled,
				fmt.Sprintf("Reservation %s canceled on import: worker busy", res.SID)),
				map[string]any{"reason": out.Conflict, "degraded": true}); err != nil {
				return err
			}
			t.AssignmentStatus, t.DateUpdated = TaskPending, now
			if t, err = tx.UpdateTask(ctx, t); err != nil {
				return fmt.Errorf("update task %s: %w", t.SID, err)
			}
		}
		out.Waiting = t.AssignmentStatus == TaskPending
		return nil
	})
	if err != nil {
		return DegradedImport{}, fmt.Errorf("import degraded call %s: %w", t0.CallSID, err)
	}
	if _, _, err := e.after(ctx, t0.WorkspaceSID, fx, ""); err != nil {
		return out, fmt.Errorf("import degraded call %s: imported, routing failed: %w", t0.CallSID, err)
	}
	return out, nil
}

// RouteImported routes an imported task that is waiting (see
// DegradedImport.Waiting); it does nothing to a task no longer pending.
func (e *Engine) RouteImported(ctx context.Context, workspaceSID, taskSID string) error {
	if _, err := e.route(ctx, workspaceSID, taskSID); err != nil {
		return fmt.Errorf("route imported task %s: %w", taskSID, err)
	}
	return nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
