package degraded

// Once the store is back, the journal is applied to it in order, with one
// function per kind of entry.

import (
	"context"
	"errors"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

// replay applies the journal in order. An entry that cannot be applied
// yet stays for the next round. Its call may be in another instance's
// journal, or the store may have gone away again.
func (m *Mode) replay(ctx context.Context) {
	m.mu.Lock()
	upFor := m.upForLocked()
	m.mu.Unlock()
	m.replayWith(ctx, replayOpts{settled: upFor >= m.cfg.SettleAfter, giveUp: upFor >= giveUpAfter, resync: true,
		entrySettle: m.cfg.SettleAfter})
}

// replayOpts says how far a replay round may go.
type replayOpts struct {
	settled bool // the other instances have had the time to replay their journals
	giveUp  bool // entries that still cannot be applied are logged and dropped
	resync  bool // reload the engine's index once the journal is empty
	// entrySettle is how old an entry must be before it counts as settled
	// too. This instance may journal an entry while it sees no outage,
	// after a brief restart or for an end of call the store could not take
	// right after an outage. Such an entry must leave the other instances
	// that time to replay what they journaled before it.
	entrySettle time.Duration
}

// ReplayPending applies every pending entry of the journal once, in order,
// with the same steps as an instance replaying its own journal after an
// outage. `didrouter journal replay` uses it for the journal of an instance
// that is not running. That outage is over, so the entries are finished at
// once, as well as they can be.
//
// An entry whose call is in no task of the store stays in the journal,
// because its task may be in yet another journal not replayed. With giveUp
// such an entry is logged and dropped. An earlier run may have stopped
// before marking entries done, and those apply again as no-ops.
//
// As on an instance, the engine's routing is held while the entries are
// applied, so that a worker freed by one entry is not given a call that a
// later entry ends. Routing resumes after, which routes the imported calls
// still waiting. The engine's index is not reloaded at the end.
// ReplayPending returns how many entries are left.
func (m *Mode) ReplayPending(ctx context.Context, giveUp bool) int {
	if !m.Active() {
		m.router.PauseRouting()
		m.replayWith(ctx, replayOpts{settled: true, giveUp: giveUp})
		if err := m.router.ResumeRouting(ctx); err != nil {
			m.log.WarnContext(ctx, "routing the waiting calls after the replay failed", "then", "they wait for a free worker", "err", err)
		}
	}
	return m.cfg.Journal.Len()
}

func (m *Mode) replayWith(ctx context.Context, o replayOpts) {
	// A call's entries apply in order. Once one is left for a later round,
	// after a store error or while an import is not there yet, the call's
	// later entries wait too. Otherwise the end of an answered call could
	// apply before its answer and cancel a call that was completed.
	held := map[string]bool{}
	hold := func(e Entry) {
		for _, k := range []string{e.CallSID, e.Task} {
			if k != "" {
				held[k] = true
			}
		}
	}
	for _, e := range m.cfg.Journal.Pending() {
		if ctx.Err() != nil || m.Active() {
			return
		}
		if (e.CallSID != "" && held[e.CallSID]) || (e.Task != "" && held[e.Task]) {
			continue
		}
		// Journal order matters across calls too. An end that freed a
		// worker comes before the call this instance then gave that worker.
		done, err := m.apply(ctx, e, o.settled && m.now().Sub(e.At) >= o.entrySettle)
		switch {
		case errors.Is(err, errNotYet) && e.Op == OpEndCall && o.giveUp:
			m.log.InfoContext(ctx, "hung-up call never had a task", "then", "nothing to end", "call_sid", e.CallSID)
			done = true
		case err != nil && o.giveUp:
			m.dropped.Add(1)
			m.log.ErrorContext(ctx, "giving up on a journal entry", "op", e.Op, "seq", e.Seq,
				"call_sid", e.CallSID, "task_sid", e.Task, "reservation_sid", e.Reservation, "err", err)
			done = true
		case err != nil:
			m.log.DebugContext(ctx, "journal entry not applied yet", "op", e.Op, "seq", e.Seq, "err", err)
			hold(e)
			continue
		}
		if !done {
			hold(e)
			continue
		}
		if err := m.cfg.Journal.Done(e.Seq); err != nil {
			m.log.ErrorContext(ctx, "marking a journal entry done failed",
				"then", "the next round applies it again, as a no-op", "seq", e.Seq, "err", err)
			return
		}
		m.replayed.Add(1)
	}
	if o.settled {
		m.routeWaiting(ctx)
	}
	if m.cfg.Journal.Len() == 0 && o.resync {
		m.mu.Lock()
		clear(m.own)
		m.mu.Unlock()
		// The index counted the reservations made while degraded, and
		// the store now has them all.
		if err := m.cfg.Engine.Sync(ctx); err != nil {
			m.log.WarnContext(ctx, "reloading the worker index after the replay failed", "err", err)
		}
		m.log.InfoContext(ctx, "journal replayed", "replayed", m.replayed.Load(), "conflicts", m.conflicts.Load())
	}
}

// routeWaiting routes the calls imported waiting, once the other instances
// have had the time to import theirs.
func (m *Mode) routeWaiting(ctx context.Context) {
	m.mu.Lock()
	waiting := m.waiting
	m.waiting = nil
	m.mu.Unlock()
	for _, w := range waiting {
		if err := m.router.RouteImported(ctx, w.ws, w.task); err != nil {
			m.log.WarnContext(ctx, "routing an imported call failed", "then", "it waits for a free worker", "task_sid", w.task, "err", err)
		}
	}
}

// errNotYet says an entry waits for other instances' entries.
var errNotYet = errors.New("waiting for the call to reach the store")

// apply applies one entry and reports whether it is finished with.
// settled says the other instances have had time to replay theirs.
func (m *Mode) apply(ctx context.Context, e Entry, settled bool) (bool, error) {
	switch e.Op {
	case OpCall:
		return m.applyCall(ctx, e, settled)
	case OpAccept:
		return m.applyAccept(ctx, e)
	case OpReject:
		return m.applyReject(ctx, e)
	case OpEndTask:
		return m.applyEndTask(ctx, e, settled)
	case OpEndCall:
		return m.applyEndCall(ctx, e, settled)
	case OpVoicemail:
		return m.applyVoicemail(ctx, e)
	default:
		m.log.WarnContext(ctx, "unknown journal entry", "then", "dropped", "op", e.Op, "seq", e.Seq)
		return true, nil
	}
}

// applyVoicemail creates a message's task. CreateTask finds the task a
// first attempt stored for the same recording, so applying it twice makes
// one.
func (m *Mode) applyVoicemail(ctx context.Context, e Entry) (bool, error) {
	if e.NewTask == nil {
		return true, nil
	}
	if res, err := m.cfg.Engine.CreateTask(ctx, *e.NewTask); err != nil && res.Task.SID == "" {
		return false, err
	}
	return true, nil
}

// applyCall imports a call routed from memory.
func (m *Mode) applyCall(ctx context.Context, e Entry, settled bool) (bool, error) {
	if e.Call == nil {
		return true, nil
	}
	dc := *e.Call
	// Until settled, a worker the store shows busy may be freed by an
	// end of call in another instance's journal. Import later rather
	// than cancel the reservation, whose answer may be journaled.
	dc.WaitIfBusy = !settled
	got, err := m.router.Import(ctx, dc)
	if errors.Is(err, engine.ErrDegradedWorkerBusy) {
		return false, errNotYet
	}
	if err != nil {
		return false, err
	}
	if got.Conflict != "" {
		m.conflicts.Add(1)
		m.log.WarnContext(ctx, "imported call conflicted", "call_sid", e.CallSID, "task_sid", got.TaskSID, "conflict", got.Conflict)
	}
	if got.Waiting {
		m.mu.Lock()
		m.waiting = append(m.waiting, importedTask{ws: e.WS, task: got.TaskSID})
		m.mu.Unlock()
	}
	if !got.Imported && got.TaskSID != e.Task {
		m.conflicts.Add(1)
		m.log.WarnContext(ctx, "call already had another task, degraded task dropped",
			"then", "its reservation is kept on that task, canceled, in case it was answered",
			"call_sid", e.CallSID, "task_sid", got.TaskSID, "degraded_task_sid", e.Task)
	}
	return true, nil
}

// applyAccept applies an agent's answer.
func (m *Mode) applyAccept(ctx context.Context, e Entry) (bool, error) {
	_, err := m.cfg.Engine.AcceptReservation(ctx, e.WS, e.Reservation)
	switch didrouter.ErrorCode(err) {
	case "":
		return true, nil
	case didrouter.ENOTFOUND:
		return m.superseded(ctx, e)
	case didrouter.EUNAVAILABLE:
		return m.acceptEnded(ctx, e)
	default:
		return false, err
	}
}

// acceptEnded applies an answer to a reservation that is no longer
// pending. The import may have canceled it, because its task lost to
// another of the same call or its worker was busy. Such a reservation is
// adopted, because the answered one wins. Any other end is logged as a
// conflict.
func (m *Mode) acceptEnded(ctx context.Context, e Entry) (bool, error) {
	r, err := m.cfg.Store.GetReservation(ctx, e.WS, e.Reservation)
	if err != nil {
		return false, err
	}
	if r.Status == didrouter.ReservationCanceled {
		got, err := m.router.AdoptAnsweredReservation(ctx, e.WS, e.Reservation)
		if err != nil {
			return false, err
		}
		switch {
		case got.Adopted:
			m.log.InfoContext(ctx, "answer replayed for a canceled reservation", "then", "the call's task takes it",
				"call_sid", e.CallSID, "task_sid", got.TaskSID, "reservation_sid", e.Reservation, "worker_sid", r.WorkerSID)
			return true, nil
		case got.Conflict != "":
			m.conflicts.Add(1)
			m.log.WarnContext(ctx, "answered reservation not kept", "call_sid", e.CallSID,
				"task_sid", got.TaskSID, "reservation_sid", e.Reservation, "conflict", got.Conflict)
			return true, nil
		}
		r.Status = got.Status
	}
	if r.Status != didrouter.ReservationAccepted && r.Status != didrouter.ReservationWrapping && r.Status != didrouter.ReservationCompleted {
		m.conflicts.Add(1)
		m.log.WarnContext(ctx, "agent answered a reservation that had ended",
			"reservation_sid", e.Reservation, "status", r.Status)
	}
	return true, nil
}

// applyReject applies a reservation that was refused or not answered.
func (m *Mode) applyReject(ctx context.Context, e Entry) (bool, error) {
	_, err := m.cfg.Engine.RejectReservation(ctx, e.WS, e.Reservation, e.Status)
	switch didrouter.ErrorCode(err) {
	case "", didrouter.EUNAVAILABLE:
		return true, nil
	case didrouter.ENOTFOUND:
		return m.superseded(ctx, e)
	default:
		return false, err
	}
}

// applyEndTask applies the end of an answered call.
func (m *Mode) applyEndTask(ctx context.Context, e Entry, settled bool) (bool, error) {
	t, err := m.cfg.Store.GetTask(ctx, e.WS, e.Task)
	if didrouter.ErrorCode(err) == didrouter.ENOTFOUND && e.CallSID != "" {
		// The call's degraded task may have lost to another task of the
		// same call, when a retried webhook was routed twice. End that one.
		t, err = m.cfg.Store.TaskByCallSID(ctx, e.WS, e.CallSID)
	}
	if didrouter.ErrorCode(err) == didrouter.ENOTFOUND {
		return false, errNotYet
	}
	if err != nil {
		return false, err
	}
	return m.end(ctx, t, e.Status, settled)
}

// applyEndCall applies a caller's hang-up.
func (m *Mode) applyEndCall(ctx context.Context, e Entry, settled bool) (bool, error) {
	t, err := m.cfg.Store.TaskByCallSID(ctx, e.WS, e.CallSID)
	if didrouter.ErrorCode(err) == didrouter.ENOTFOUND {
		// The call's task may be in the journal of an instance that is
		// not back yet, so wait for it. After giveUpAfter the call counts
		// as never having had a task, and there is nothing to end.
		return false, errNotYet
	}
	if err != nil {
		return false, err
	}
	return m.end(ctx, t, e.Status, settled)
}

// superseded finishes an answer or a rejection of a reservation the store
// does not have. When the call has another task than the entry's, its
// degraded task lost to that one, so the reservation never reached the
// store and there is nothing to apply. Otherwise the call may still be in
// another instance's journal.
func (m *Mode) superseded(ctx context.Context, e Entry) (bool, error) {
	if e.CallSID == "" {
		return false, errNotYet
	}
	t, err := m.cfg.Store.TaskByCallSID(ctx, e.WS, e.CallSID)
	switch {
	case didrouter.ErrorCode(err) == didrouter.ENOTFOUND:
		return false, errNotYet
	case err != nil:
		return false, err
	case t.SID != e.Task && m.callPending(e):
		// The import of the entry's task is still to come, and
		// engine.Degraded.Import stores the reservation on the kept task.
		return false, errNotYet
	case t.SID != e.Task:
		m.log.InfoContext(ctx, "journal entry dropped", "reason", "its task lost to another task of the same call",
			"op", e.Op, "call_sid", e.CallSID, "task_sid", e.Task, "kept_task_sid", t.SID)
		return true, nil
	default:
		return false, errNotYet
	}
}

// callPending says whether this journal still holds the import of e's
// task, before e.
func (m *Mode) callPending(e Entry) bool {
	for _, p := range m.cfg.Journal.Pending() {
		if p.Seq < e.Seq && p.Op == OpCall && p.Task == e.Task {
			return true
		}
	}
	return false
}

// end ends a task whose call is over. An answered one completes. One still
// waiting or ringing is canceled once the other instances have had time to
// replay an answer they may have journaled. A call-back request is left
// alone. Its caller hung up to be called back, so the end of the call is
// expected and the request must wait for an agent.
func (m *Mode) end(ctx context.Context, t didrouter.Task, reason string, settled bool) (bool, error) {
	if didrouter.IsCallbackRequest(t) {
		m.log.InfoContext(ctx, "call-back request left waiting", "reason", "its caller hung up to be called back",
			"call_sid", t.CallSID, "task_sid", t.SID, "status", t.AssignmentStatus)
		return true, nil
	}
	eng := m.cfg.Engine
	switch t.AssignmentStatus {
	case didrouter.TaskCompleted, didrouter.TaskCanceled, didrouter.TaskWrapping:
		return true, nil
	case didrouter.TaskAssigned:
		if _, err := eng.EndCall(ctx, t.WorkspaceSID, t.SID, reason); err != nil && didrouter.ErrorCode(err) != didrouter.EUNAVAILABLE {
			return false, err
		}
		return true, nil
	default:
		if !settled {
			return false, nil
		}
		if _, err := eng.CancelTask(ctx, t.WorkspaceSID, t.SID, reason); err != nil && didrouter.ErrorCode(err) != didrouter.EUNAVAILABLE {
			return false, err
		}
		return true, nil
	}
}
