package engine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/didrouter/didrouter"
)

// Reasons the engine gives, in a worker.activity.update event's "reason",
// when it moved the worker on its own. An event without one was a person's
// choice (the API, the agent's desktop).
const (
	ReasonMissedCalls = "missed_calls" // Config.MissedCallsUnavailable misses in a row (this file)
	ReasonAway        = "away"         // no agent desktop page for Config.AgentAway (presence.go)
)

// Default settings of the presence rules (cmd/didrouter's defaults; the
// engine's zero values turn the rules off).
const (
	DefaultMissedCallsUnavailable = 3
	DefaultAgentAway              = 2 * time.Minute
)

// UnavailableActivityName names the activity a worker who keeps missing
// calls is moved to (the seeded workspace has it).
const UnavailableActivityName = "Unavailable"

// noteMissed counts a call the worker let ring out or declined. It runs in
// the transaction that ended the reservation, where the worker's row is
// locked because it was just released, so instances sharing the store
// count together. On reaching Config.MissedCallsUnavailable the count
// starts again, and a worker still available is moved to the
// "Unavailable" activity. A caller should not ring an agent who is not
// there for a whole step. The callers do not count calls that ended
// without the worker's answer, such as a caller who hung up, a worker who
// left for another activity or another agent who was faster. acceptLocked
// clears the count when a call is accepted.
func (e *Engine) noteMissed(ctx context.Context, tx didrouter.Tx, fx *effects, workspaceSID, workerSID string, now time.Time) error {
	if e.missedLimit <= 0 {
		return nil
	}
	n, err := tx.CountMissedCall(ctx, workspaceSID, workerSID)
	if didrouter.ErrorCode(err) == didrouter.ENOTFOUND {
		return nil // deleted meanwhile
	}
	if err != nil {
		return fmt.Errorf("count a missed call of worker %s: %w", workerSID, err)
	}
	if n < e.missedLimit {
		return nil
	}
	// Starting again even when the worker is not moved: a workspace
	// without the activity then logs once per run, not on every miss.
	if err := tx.ClearMissedCalls(ctx, workspaceSID, workerSID); err != nil {
		return fmt.Errorf("clear missed calls of worker %s: %w", workerSID, err)
	}
	w, err := tx.GetWorker(ctx, workspaceSID, workerSID)
	if err != nil {
		return fmt.Errorf("read worker %s: %w", workerSID, err)
	}
	if !w.Available {
		return nil // already out of routing (the timeout activity, or moved meanwhile)
	}
	a, ok, err := activityNamed(ctx, tx, workspaceSID, UnavailableActivityName)
	if err != nil {
		return err
	}
	if !ok || a.Available {
		e.log.WarnContext(ctx, "worker kept its activity after missed calls",
			"reason", "the workspace has no unavailable activity named "+UnavailableActivityName,
			"workspace", workspaceSID, "worker", workerSID, "missed_calls", n)
		return nil
	}
	fx.leaveWorker(w.SID)
	if err := e.setActivity(ctx, tx, fx, w, a, now, &activityCause{
		reason: ReasonMissedCalls,
		why:    fmt.Sprintf("after %d missed calls in a row", n),
		data:   map[string]any{"missed_calls": n},
	}); err != nil {
		return err
	}
	// Logged before commit: a store retry may log it twice, never zero times.
	e.log.InfoContext(ctx, "worker moved after missed calls", "activity", a.FriendlyName,
		"workspace", workspaceSID, "worker", w.SID, "missed_calls", n)
	return nil
}

// activityNamed finds the workspace's activity with that name, in any case
// (the API keeps names unique regardless of case).
func activityNamed(ctx context.Context, tx didrouter.Tx, workspaceSID, name string) (didrouter.Activity, bool, error) {
	acts, err := tx.ListActivities(ctx, workspaceSID)
	if err != nil {
		return didrouter.Activity{}, false, fmt.Errorf("list activities of workspace %s: %w", workspaceSID, err)
	}
	for _, a := range acts {
		if strings.EqualFold(a.FriendlyName, name) {
			return a, true, nil
		}
	}
	return didrouter.Activity{}, false, nil
}

// ringsPhone reports whether offering t rings the worker's phone: every
// task but a voicemail or a call-back request (attribute "type").
func ringsPhone(t didrouter.Task) bool {
	if !strings.Contains(t.Attributes, didrouter.TaskTypeVoicemail) && !strings.Contains(t.Attributes, didrouter.TaskTypeCallback) {
		return true // the common case, without decoding the attributes
	}
	typ := didrouter.TaskType(t)
	return typ != didrouter.TaskTypeVoicemail && typ != didrouter.TaskTypeCallback
}
