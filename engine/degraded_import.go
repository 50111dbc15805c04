package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/didrouter/didrouter"
)

// DegradedImport says what Degraded.Import did.
type DegradedImport struct {
	TaskSID string // the call's task in the store, imported or the one it already had
	// Imported is false when the call already had a task, because it was
	// imported before or routed by the store.
	Imported bool
	// Conflict is set when the degraded reservation could not be kept,
	// because its worker was taken in the store meanwhile. Another instance
	// gave them a call while this one could not tell it. The reservation is
	// stored canceled and the task waits.
	Conflict string
	// Waiting says the imported task is pending. The import does not route
	// it, because other instances may still have to import calls that hold
	// workers the store thinks are free. Call RouteImported once they had
	// the time. A worker who frees up may also take it meanwhile.
	Waiting bool
}

// Import writes a call routed by Degraded.Route into the store, in one
// transaction, with the sids and dates it was given. It writes the task,
// its events, its reservation and its timers. The reservation claims the
// worker, as a reservation made online would. Import is idempotent per
// call. A call that already has a task is left as it is, whether this
// import ran before or another instance routed the call through the
// store. Timers whose deadline passed during the outage fire
// DegradedImportGrace after the import at the earliest, so that what other
// instances journaled about the call can be replayed first.
func (dm Degraded) Import(ctx context.Context, dc DegradedCall) (DegradedImport, error) {
	e := dm.e
	t0 := dc.Task
	if t0.SID == "" || t0.WorkspaceSID == "" {
		return DegradedImport{}, didrouter.Errorf(didrouter.EINVALID, "degraded call without a task")
	}
	_, wf, err := e.workflow(ctx, t0.WorkspaceSID, t0.WorkflowSID)
	if err != nil {
		return DegradedImport{}, fmt.Errorf("import degraded call: %w", err)
	}
	var out DegradedImport
	fx, err := e.tx(ctx, func(tx didrouter.Tx, fx *effects) error {
		out = DegradedImport{TaskSID: t0.SID}
		now := e.clock.Now()
		existing, created, err := tx.InsertTask(ctx, t0)
		if err != nil {
			return fmt.Errorf("insert task: %w", err)
		}
		if !created {
			out.TaskSID = existing.SID
			if r := dc.Reservation; r != nil && existing.SID != t0.SID {
				return e.keepLostReservation(ctx, tx, existing, *r, t0.SID, now)
			}
			return nil
		}
		out.Imported = true
		t, err := tx.GetTask(ctx, t0.WorkspaceSID, t0.SID)
		if err != nil {
			return fmt.Errorf("read imported task: %w", err)
		}
		for _, ev := range dc.Events {
			if ev.SID == "" {
				ev.SID = didrouter.NewSID(didrouter.PrefixEvent)
			}
			if err := tx.InsertEvent(ctx, ev); err != nil {
				return fmt.Errorf("insert event %s: %w", ev.EventType, err)
			}
		}
		grace := now.Add(DegradedImportGrace)
		if err := tx.SetTimer(ctx, didrouter.Timer{
			SID: didrouter.NewSID(didrouter.PrefixTimer), WorkspaceSID: t.WorkspaceSID, Kind: didrouter.TimerTask, TaskSID: t.SID,
			TaskVersion: t.Version, FireAt: t.DateCreated.Add(time.Duration(t.Timeout) * time.Second),
		}); err != nil {
			return fmt.Errorf("set task timeout: %w", err)
		}
		if tgt, ok := targetAt(wf, t.FilterIndex, t.TargetIndex); ok && tgt.Timeout != nil && *tgt.Timeout > 0 {
			if err := tx.SetTimer(ctx, didrouter.Timer{
				SID: didrouter.NewSID(didrouter.PrefixTimer), WorkspaceSID: t.WorkspaceSID, Kind: didrouter.TimerStep, TaskSID: t.SID,
				TaskVersion: t.Version, FireAt: later(t.StepEnteredAt.Add(time.Duration(*tgt.Timeout)*time.Second), grace),
			}); err != nil {
				return fmt.Errorf("set step timer: %w", err)
			}
		}
		fx.timers = true
		if r := dc.Reservation; r != nil && t.AssignmentStatus == didrouter.TaskReserved {
			w, ok, err := tx.ClaimWorker(ctx, t.WorkspaceSID, r.WorkerSID, t.TaskChannel, now)
			if err != nil && didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
				return fmt.Errorf("claim worker %s: %w", r.WorkerSID, err)
			}
			res := *r
			if ok {
				if err := tx.InsertReservation(ctx, res); err != nil {
					return fmt.Errorf("insert reservation: %w", err)
				}
				fx.noteWorker(w)
				return tx.SetTimer(ctx, didrouter.Timer{
					SID: didrouter.NewSID(didrouter.PrefixTimer), WorkspaceSID: t.WorkspaceSID, Kind: didrouter.TimerReservation,
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
			res.Status, res.DateUpdated = didrouter.ReservationCanceled, now
			if err := tx.InsertReservation(ctx, res); err != nil {
				return fmt.Errorf("insert reservation: %w", err)
			}
			if err := e.event(ctx, tx, reservationEvent(res, didrouter.EventReservationCanceled,
				fmt.Sprintf("Reservation %s canceled on import: worker busy", res.SID)),
				map[string]any{"reason": out.Conflict, "degraded": true}); err != nil {
				return err
			}
			t.AssignmentStatus, t.DateUpdated = didrouter.TaskPending, now
			if t, err = tx.UpdateTask(ctx, t); err != nil {
				return fmt.Errorf("update task %s: %w", t.SID, err)
			}
		}
		out.Waiting = t.AssignmentStatus == didrouter.TaskPending
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

// RouteImported routes an imported task that DegradedImport.Waiting lists.
// It does nothing to a task that is no longer pending.
func (dm Degraded) RouteImported(ctx context.Context, workspaceSID, taskSID string) error {
	e := dm.e
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

// keepLostReservation stores the reservation of a degraded task that lost
// to another task of the same call (a webhook delivered twice, routed by
// two instances) on the kept task, canceled: its worker is not claimed,
// but an answer journaled for it can still find it (see
// AdoptAnsweredReservation). It does nothing when the reservation is
// stored already (the import ran before).
func (e *Engine) keepLostReservation(ctx context.Context, tx didrouter.Tx, kept didrouter.Task, r didrouter.Reservation, lostTaskSID string, now time.Time) error {
	if _, err := tx.GetReservation(ctx, kept.WorkspaceSID, r.SID); err == nil {
		return nil
	} else if didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
		return fmt.Errorf("read reservation %s: %w", r.SID, err)
	}
	r.WorkspaceSID, r.TaskSID = kept.WorkspaceSID, kept.SID
	r.Status, r.DateUpdated = didrouter.ReservationCanceled, now
	if err := tx.InsertReservation(ctx, r); err != nil {
		return fmt.Errorf("insert reservation %s of lost task %s: %w", r.SID, lostTaskSID, err)
	}
	// Its creation is history like any reservation's. It has no ending
	// event yet. It ends when its answer is adopted and the call is over,
	// or it was never live because no answer came.
	ev := reservationEvent(r, didrouter.EventReservationCreated,
		fmt.Sprintf("Reservation %s created while the store was down, for task %s of the same call, which lost to task %s; kept, not live, for its answer",
			r.SID, lostTaskSID, kept.SID))
	ev.Date = r.DateCreated
	return e.event(ctx, tx, ev, map[string]any{"degraded": true, "degraded_task_sid": lostTaskSID})
}

// hasEnded reports whether a reservation has an ending event: one canceled
// on import because its worker was busy has, one kept for a lost task has not.
func hasEnded(ctx context.Context, tx didrouter.Tx, workspaceSID, reservationSID string) (bool, error) {
	evs, err := tx.ListEvents(ctx, workspaceSID, didrouter.EventFilter{Page: didrouter.Page{Size: 100}, ReservationSID: reservationSID})
	if err != nil {
		return false, fmt.Errorf("list events of reservation %s: %w", reservationSID, err)
	}
	for _, ev := range evs {
		switch ev.EventType {
		case didrouter.EventReservationCanceled, didrouter.EventReservationRescinded, didrouter.EventReservationRejected,
			didrouter.EventReservationTimeout, didrouter.EventReservationCompleted:
			return true, nil
		}
	}
	return false, nil
}

// Adoption says what AdoptAnsweredReservation did.
type Adoption struct {
	Adopted  bool   // the reservation is now the task's accepted one
	TaskSID  string // the reservation's task
	Status   string // the reservation's status before, which says why when it was not adopted
	Conflict string // set when the worker is busy in the store, and then nothing changed
}

// errAdoptBusy rolls an adoption back when the worker cannot be claimed.
var errAdoptBusy = errors.New("the answered reservation's worker is busy in the store")

// AdoptAnsweredReservation applies an answer journaled while the store was
// down, for a reservation the store canceled on import. The import cancels
// it when its degraded task lost to another task of the same call, or when
// its worker was busy. The answered reservation wins, because the agent is
// on the call.
//
// When its task is still pending or reserved, so nobody accepted it, one
// transaction does the work. It rescinds the task's pending reservation,
// if there is one, and frees that worker. It claims the answered
// reservation's worker, accepts the reservation and assigns the task, as
// AcceptReservation does. When the worker is busy in the store nothing
// changes and Conflict says why, so no worker is booked twice. A
// reservation in any other state, or whose task no longer waits, is left
// as it is and Adopted is false.
func (dm Degraded) AdoptAnsweredReservation(ctx context.Context, workspaceSID, reservationSID string) (Adoption, error) {
	e := dm.e
	var (
		out       Adoption
		workerSID string
	)
	fx, err := e.tx(ctx, func(tx didrouter.Tx, fx *effects) error {
		now := e.clock.Now()
		t, r, err := tx.LockReservation(ctx, workspaceSID, reservationSID)
		if err != nil {
			return err
		}
		workerSID = r.WorkerSID
		out = Adoption{TaskSID: t.SID, Status: r.Status}
		if r.Status != didrouter.ReservationCanceled || (t.AssignmentStatus != didrouter.TaskPending && t.AssignmentStatus != didrouter.TaskReserved) {
			return nil
		}
		// Only a reservation kept for a lost task: one that ended (its
		// worker was busy at import) stays ended, as its events say.
		if ended, err := hasEnded(ctx, tx, workspaceSID, r.SID); err != nil || ended {
			return err
		}
		// The worker of the reservation rung in vain first: it may be the
		// answering one.
		if err := e.endPendingReservation(ctx, tx, fx, &t, didrouter.ReservationRescinded, false); err != nil {
			return err
		}
		w, ok, err := tx.ClaimWorker(ctx, workspaceSID, r.WorkerSID, t.TaskChannel, now)
		if err != nil && didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
			return fmt.Errorf("claim worker %s: %w", r.WorkerSID, err)
		}
		if !ok {
			return errAdoptBusy // rolls the rescinding back
		}
		fx.noteWorker(w)
		if _, err := e.acceptLocked(ctx, tx, t, r, now,
			fmt.Sprintf("Reservation %s accepted (answered while the store was down; it was %s)", r.SID, out.Status),
			map[string]any{"degraded": true}); err != nil {
			return err
		}
		out.Adopted = true
		return nil
	})
	if errors.Is(err, errAdoptBusy) {
		out.Adopted = false
		out.Conflict = fmt.Sprintf("worker %s was busy in the store when their answer of reservation %s of task %s was replayed",
			workerSID, reservationSID, out.TaskSID)
		return out, nil
	}
	if err != nil {
		return Adoption{}, fmt.Errorf("adopt answered reservation %s: %w", reservationSID, err)
	}
	if _, _, err := e.after(ctx, workspaceSID, fx, ""); err != nil {
		return out, fmt.Errorf("adopt answered reservation %s: adopted, routing failed: %w", reservationSID, err)
	}
	return out, nil
}
