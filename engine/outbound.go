package engine

import (
	"context"
	"fmt"

	"github.com/didrouter/didrouter"
)

// OutboundCall is the input of RecordOutboundCall.
type OutboundCall struct {
	WorkspaceSID string
	WorkerSID    string // the agent placing the call
	CallSID      string // required, because it makes recording idempotent per call
	// WorkflowSID is only for reports, as the workflow is never evaluated.
	// "" means the workspace's default workflow.
	WorkflowSID string
	Attributes  string // JSON object
}

// OutboundResult is a recorded outbound call.
type OutboundResult struct {
	Task    didrouter.Task
	Created bool // false when the CallSid already had a task, which is returned
	// Claimed reports whether the call took one unit of the worker's
	// capacity. An accepted reservation holds it until the task completes.
	// A worker who is unavailable or already busy places the call without
	// one, and their state is left as it is.
	Claimed bool
}

// RecordOutboundCall records a call an agent places as a task that is
// assigned to that agent from the start. It is never routed, so nobody
// else is offered it and nobody rings. When the worker is available with
// spare capacity, the task also gets an accepted reservation that holds
// the worker for the length of the call. So the engine does not offer them
// an inbound call meanwhile. CompleteTask at the call's end frees them as
// for any call. A CallSid that already has a task creates nothing.
func (e *Engine) RecordOutboundCall(ctx context.Context, o OutboundCall) (OutboundResult, error) {
	if o.CallSID == "" {
		return OutboundResult{}, didrouter.Errorf(didrouter.EINVALID, "call_sid is required to record an outbound call")
	}
	raw, _, err := parseTaskAttributes(o.Attributes)
	if err != nil {
		return OutboundResult{}, err
	}
	ws, err := e.Workspace(ctx, o.WorkspaceSID)
	if err != nil {
		return OutboundResult{}, fmt.Errorf("record outbound call: read workspace %s: %w", o.WorkspaceSID, err)
	}
	if t, err := e.store.TaskByCallSID(ctx, ws.SID, o.CallSID); err == nil {
		return OutboundResult{Task: t}, nil
	} else if didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
		return OutboundResult{}, fmt.Errorf("record outbound call: look up call %s: %w", o.CallSID, err)
	}
	wfSID := o.WorkflowSID
	if wfSID == "" {
		wfSID = ws.DefaultWorkflowSID
	}
	var out OutboundResult
	_, err = e.tx(ctx, func(tx didrouter.Tx, fx *effects) error {
		out = OutboundResult{}
		now := e.clock.Now()
		t := didrouter.Task{
			SID: didrouter.NewSID(didrouter.PrefixTask), WorkspaceSID: ws.SID, WorkflowSID: wfSID, Attributes: raw,
			AssignmentStatus: didrouter.TaskAssigned, Timeout: DefaultTaskTimeout, TaskChannel: DefaultTaskChannel,
			CallSID: o.CallSID, FilterIndex: -1, StepEnteredAt: now, RejectedWorkers: []string{},
			DateCreated: now, DateUpdated: now,
		}
		existing, created, err := tx.InsertTask(ctx, t)
		if err != nil {
			return fmt.Errorf("insert task: %w", err)
		}
		if !created {
			out.Task = existing // the same call raced us
			return nil
		}
		// Task before worker: the store's lock order.
		w, claimed, err := tx.ClaimWorker(ctx, ws.SID, o.WorkerSID, t.TaskChannel, now)
		if didrouter.ErrorCode(err) == didrouter.ENOTFOUND {
			return didrouter.Errorf(didrouter.EINVALID, "worker %s does not exist in workspace %s", o.WorkerSID, ws.SID)
		}
		if err != nil {
			return fmt.Errorf("claim worker %s: %w", o.WorkerSID, err)
		}
		if err := e.event(ctx, tx, taskEvent(t, didrouter.EventTaskCreated, fmt.Sprintf("Outbound task %s created", t.SID)),
			map[string]any{"workflow_sid": wfSID, "call_sid": o.CallSID, "direction": "outbound", "worker_sid": o.WorkerSID}); err != nil {
			return err
		}
		if claimed {
			r := didrouter.Reservation{
				SID: didrouter.NewSID(didrouter.PrefixReservation), WorkspaceSID: ws.SID, TaskSID: t.SID, WorkerSID: o.WorkerSID,
				Status: didrouter.ReservationAccepted, DateCreated: now, DateUpdated: now,
			}
			if err := tx.InsertReservation(ctx, r); err != nil {
				return fmt.Errorf("insert reservation: %w", err)
			}
			for _, ev := range []string{didrouter.EventReservationCreated, didrouter.EventReservationAccepted} {
				if err := e.event(ctx, tx, reservationEvent(r, ev,
					fmt.Sprintf("Reservation %s of outbound task %s", r.SID, t.SID)), map[string]any{"direction": "outbound"}); err != nil {
					return err
				}
			}
			fx.noteWorker(w)
		}
		if out.Task, err = tx.GetTask(ctx, ws.SID, t.SID); err != nil {
			return fmt.Errorf("read new task: %w", err)
		}
		out.Created, out.Claimed = true, claimed
		return nil
	})
	if err != nil {
		return OutboundResult{}, fmt.Errorf("record outbound call: %w", err)
	}
	return out, nil
}
