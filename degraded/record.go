package degraded

// While the store is down, what happens to calls is decided from memory
// and written to the journal.

import (
	"context"
	"errors"
	"fmt"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

// Incoming routes a new call to the E.164 number dialed without the store,
// and journals it. n needs no workspace or workflow. Incoming uses those of
// dialed's binding as last read while the store answered, else the default
// workspace and its default workflow.
func (m *Mode) Incoming(ctx context.Context, dialed string, n engine.TaskInsert) (didrouter.Workspace, engine.TaskResult, error) {
	w := m.ws.Load()
	if w == nil {
		return didrouter.Workspace{}, engine.TaskResult{}, errors.New("degraded: the workspace was never read")
	}
	to := w.def
	if b, ok := w.bound[dialed]; ok {
		to = b
	}
	ws := to.ws
	n.WorkspaceSID, n.WorkflowSID = ws.SID, to.flow.SID
	var mayReserve func(string) bool
	if m.cfg.Members != nil {
		since := m.cfg.Down()
		if since.IsZero() {
			since = m.now()
		}
		mayReserve = func(worker string) bool { return m.cfg.Members.Mine(worker, since) }
	}
	dc, err := m.router.Route(ctx, ws, to.flow, n, mayReserve)
	if err != nil {
		return ws, engine.TaskResult{}, err
	}
	if _, err := m.journal(Entry{Op: OpCall, WS: ws.SID, Task: dc.Task.SID, CallSID: dc.Task.CallSID, Call: &dc}); err != nil {
		if dc.Reservation != nil {
			m.router.Release(ws.SID, dc.Reservation.WorkerSID)
		}
		return ws, engine.TaskResult{}, err
	}
	m.calls.Add(1)
	res := engine.TaskResult{Task: dc.Task, Created: true}
	if dc.Reservation != nil {
		m.reserved.Add(1)
		m.mu.Lock()
		m.own[dc.Reservation.SID] = ownRes{ws: ws.SID, worker: dc.Reservation.WorkerSID, call: dc.Task.CallSID}
		m.mu.Unlock()
		res.Reservation, res.Worker = dc.Reservation, dc.Worker
	}
	return ws, res, nil
}

// LoopsBack reports whether ringing the phone number e164 from memory
// could call into didrouter again. It is the check the webhooks make with
// the store before ringing a contact number, made from memory. The answer
// is yes for the DID of a worker in the workspace's index and for a number
// bound to a workflow as last read. Until the bindings have been read it
// is always yes.
func (m *Mode) LoopsBack(workspaceSID, e164 string) bool {
	w := m.ws.Load()
	if w == nil || !w.boundRead {
		return true
	}
	if _, ok := w.bound[e164]; ok {
		return true
	}
	return m.router.IsDID(workspaceSID, e164)
}

// Accept journals that the agent of a reservation picked up.
func (m *Mode) Accept(ctx context.Context, ws, callSID, taskSID, reservationSID string) error {
	_, err := m.journal(Entry{Op: OpAccept, WS: ws, CallSID: callSID, Task: taskSID, Reservation: reservationSID})
	return err
}

// Reject journals that a reservation's agent did not answer or refused,
// with status timeout or rejected. If this instance reserved the agent, it
// frees them here.
func (m *Mode) Reject(ctx context.Context, ws, callSID, taskSID, reservationSID, status string) error {
	m.release(reservationSID)
	_, err := m.journal(Entry{Op: OpReject, WS: ws, CallSID: callSID, Task: taskSID, Reservation: reservationSID, Status: status})
	return err
}

// EndTask journals that the answered call of a task ended.
func (m *Mode) EndTask(ctx context.Context, ws, callSID, taskSID, reservationSID, reason string) error {
	m.release(reservationSID)
	_, err := m.journal(Entry{Op: OpEndTask, WS: ws, CallSID: callSID, Task: taskSID, Reservation: reservationSID, Status: reason})
	return err
}

// Voicemail journals a recorded message whose task the store could not
// take.
func (m *Mode) Voicemail(ctx context.Context, n engine.TaskInsert) error {
	_, err := m.journal(Entry{Op: OpVoicemail, WS: n.WorkspaceSID, CallSID: n.CallSID, NewTask: &n})
	return err
}

// EndCall journals that a caller hung up.
func (m *Mode) EndCall(ctx context.Context, ws, callSID, reason string) error {
	m.mu.Lock()
	for sid, o := range m.own {
		if o.call == callSID {
			delete(m.own, sid)
			m.router.Release(o.ws, o.worker)
		}
	}
	m.mu.Unlock()
	_, err := m.journal(Entry{Op: OpEndCall, WS: ws, CallSID: callSID, Status: reason})
	return err
}

func (m *Mode) release(reservationSID string) {
	m.mu.Lock()
	o, ok := m.own[reservationSID]
	delete(m.own, reservationSID)
	m.mu.Unlock()
	if ok {
		m.router.Release(o.ws, o.worker)
	}
}

func (m *Mode) journal(e Entry) (Entry, error) {
	e.At = m.now()
	e, err := m.cfg.Journal.Append(e)
	if err != nil {
		m.log.Error("journaling failed", "op", e.Op, "call_sid", e.CallSID, "task_sid", e.Task, "err", err)
		return e, fmt.Errorf("degraded: %w", err)
	}
	m.journaled.Add(1)
	return e, nil
}
