package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/didrouter/didrouter"
)

// OfflineActivityName names the activity a worker without a desktop page is
// moved to; a workspace without it uses its default activity when that one
// is unavailable.
const OfflineActivityName = "Offline"

// maxPageID bounds a page id: the desktop makes a random one per tab.
const maxPageID = 64

// DefaultHeartbeat is how often a page reports itself while open.
const DefaultHeartbeat = 20 * time.Second

// PresenceTracker is what the agent desktop's event stream reports about
// its pages, so that an agent whose laptop closed is moved to Offline
// instead of making callers ring them. *Engine implements it; the web
// layer depends on this interface only.
//
// A page is one open browser tab of the desktop, named by an id the page
// makes (letters, digits, '-' and '_', at most 64). Open when its event
// stream connects, Heartbeat every AgentPageHeartbeatEvery while it stays
// connected, Closed when it disconnects. An unknown page on Heartbeat is
// taken as opened. All three do nothing when Config.AgentAway is 0.
type PresenceTracker interface {
	AgentPageOpen(ctx context.Context, workspaceSID, workerSID, pageID string) error
	AgentPageHeartbeat(ctx context.Context, workspaceSID, workerSID, pageID string) error
	AgentPageClosed(ctx context.Context, workspaceSID, workerSID, pageID string) error
	// AgentPageHeartbeatEvery is how often an open page should report
	// itself; 0 when presence is off (nothing needs reporting).
	AgentPageHeartbeatEvery() time.Duration
}

var _ PresenceTracker = (*Engine)(nil)

// The pages live in the store's agent_pages, not in this instance's
// memory. The page's event stream may reach any instance behind a load
// balancer, and the instance that heard it last may be gone when the time
// is up. Each worker has one away timer, stored and claimed like the other
// timers, set when a page opens or closes. When it fires it looks at every
// page of the worker. A page heard of within Config.AgentAway re-arms it.
// Otherwise the pages are forgotten and the worker goes Offline. So a
// heartbeat is a single UPDATE, and a worker who never opened the desktop,
// such as one on a SIP phone, has no timer and is never moved. A page
// reopened within the away time simply makes the timer re-arm.

// AgentPageHeartbeatEvery is DefaultHeartbeat, or a quarter of
// Config.AgentAway when that is shorter (a short away time in a test), so
// that a few heartbeats may be late before an open page counts as gone.
func (e *Engine) AgentPageHeartbeatEvery() time.Duration {
	if e.away <= 0 {
		return 0
	}
	return min(DefaultHeartbeat, e.away/4)
}

// AgentPageOpen records that a page of the worker's desktop is open.
func (e *Engine) AgentPageOpen(ctx context.Context, workspaceSID, workerSID, pageID string) error {
	return e.pageReport(pageID, "agent page open", func() error {
		return e.touchPage(ctx, workspaceSID, workerSID, pageID, true)
	})
}

// AgentPageHeartbeat records that the page is still open.
func (e *Engine) AgentPageHeartbeat(ctx context.Context, workspaceSID, workerSID, pageID string) error {
	return e.pageReport(pageID, "agent page heartbeat", func() error {
		return e.touchPage(ctx, workspaceSID, workerSID, pageID, false)
	})
}

// AgentPageClosed records that the page has gone: when no other page of
// the worker is heard of for Config.AgentAway, the worker goes Offline.
func (e *Engine) AgentPageClosed(ctx context.Context, workspaceSID, workerSID, pageID string) error {
	return e.pageReport(pageID, "agent page closed", func() error {
		_, err := e.tx(ctx, func(tx didrouter.Tx, fx *effects) error {
			// The timer first, then the page: the order the away timer's
			// handler locks them in.
			if err := e.armAway(ctx, tx, fx, workspaceSID, workerSID, e.clock.Now()); err != nil {
				return err
			}
			return tx.DeleteAgentPage(ctx, workspaceSID, workerSID, pageID)
		})
		return err
	})
}

// pageReport checks the page id of a report, then records the report with
// record unless presence is off. A bad id is refused even when it is off.
func (e *Engine) pageReport(pageID, what string, record func() error) error {
	if err := checkPageID(pageID); err != nil {
		return err
	}
	if e.away <= 0 {
		return nil
	}
	if err := record(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// touchPage stores the page as heard of now. A page not stored yet (opened,
// or a heartbeat after the page was forgotten) arms the worker's away timer.
func (e *Engine) touchPage(ctx context.Context, workspaceSID, workerSID, pageID string, opened bool) error {
	if opened {
		// Only a new page is checked against the workspace (a heartbeat
		// of a stored page matches it by workspace already).
		if _, err := e.store.GetWorker(ctx, workspaceSID, workerSID); err != nil {
			return fmt.Errorf("read worker %s: %w", workerSID, err)
		}
	}
	_, err := e.tx(ctx, func(tx didrouter.Tx, fx *effects) error {
		now := e.clock.Now()
		if opened {
			if err := e.armAway(ctx, tx, fx, workspaceSID, workerSID, now); err != nil {
				return err
			}
		}
		created, err := tx.TouchAgentPage(ctx, didrouter.AgentPage{WorkspaceSID: workspaceSID, WorkerSID: workerSID,
			PageID: pageID, OpenedAt: now, LastSeen: now})
		if err != nil {
			return fmt.Errorf("store page %s: %w", pageID, err)
		}
		if created && !opened {
			if _, err := tx.GetWorker(ctx, workspaceSID, workerSID); err != nil {
				return fmt.Errorf("read worker %s: %w", workerSID, err) // another workspace's worker: rolled back
			}
			return e.armAway(ctx, tx, fx, workspaceSID, workerSID, now)
		}
		return nil
	})
	return err
}

// armAway (re)sets the worker's away timer to Config.AgentAway from now.
func (e *Engine) armAway(ctx context.Context, tx didrouter.Tx, fx *effects, workspaceSID, workerSID string, now time.Time) error {
	if err := tx.SetTimer(ctx, didrouter.Timer{SID: didrouter.NewSID(didrouter.PrefixTimer), WorkspaceSID: workspaceSID, Kind: didrouter.TimerAway,
		WorkerSID: workerSID, FireAt: now.Add(e.away)}); err != nil {
		return fmt.Errorf("set away timer of worker %s: %w", workerSID, err)
	}
	fx.timers = true
	return nil
}

// fireAway moves a worker none of whose pages was heard of within
// Config.AgentAway to Offline, or re-arms the timer for when the freshest
// page would be that old. A worker already Offline is left there; its
// stale pages are forgotten either way, so that it is not moved again
// until it opens the desktop again.
func (e *Engine) fireAway(ctx context.Context, tx didrouter.Tx, fx *effects, tm didrouter.Timer, now time.Time) error {
	if e.away <= 0 {
		return nil // turned off since the timer was set
	}
	w, err := tx.GetWorker(ctx, tm.WorkspaceSID, tm.WorkerSID)
	if didrouter.ErrorCode(err) == didrouter.ENOTFOUND {
		return nil // deleted: its pages went with it
	}
	if err != nil {
		return fmt.Errorf("read worker %s: %w", tm.WorkerSID, err)
	}
	pages, err := tx.AgentPages(ctx, w.WorkspaceSID, w.SID)
	if err != nil {
		return fmt.Errorf("read pages of worker %s: %w", w.SID, err)
	}
	var latest time.Time
	for _, p := range pages {
		if p.LastSeen.After(latest) {
			latest = p.LastSeen
		}
	}
	if due := latest.Add(e.away); len(pages) > 0 && now.Before(due) {
		return e.rearm(ctx, tx, fx, tm, due)
	}
	if len(pages) > 0 {
		if err := tx.DeleteAgentPages(ctx, w.WorkspaceSID, w.SID); err != nil {
			return fmt.Errorf("forget pages of worker %s: %w", w.SID, err)
		}
	}
	off, ok, err := e.offlineActivity(ctx, tx, w.WorkspaceSID)
	if err != nil {
		return err
	}
	if !ok {
		e.log.WarnContext(ctx, "worker without a desktop kept its activity",
			"reason", "the workspace has no unavailable activity named "+OfflineActivityName+" nor an unavailable default activity",
			"workspace", w.WorkspaceSID, "worker", w.SID)
		return nil
	}
	if w.ActivitySID == off.SID {
		return nil
	}
	fx.leaveWorker(w.SID)
	if err := e.setActivity(ctx, tx, fx, w, off, now, &activityCause{
		reason: ReasonAway,
		why:    fmt.Sprintf("after %s without an agent desktop page", e.away),
		data:   map[string]any{"away_seconds": int(e.away / time.Second)},
	}); err != nil {
		return err
	}
	// Logged before commit: a store retry may log it twice, never zero times.
	e.log.InfoContext(ctx, "worker without a desktop moved", "activity", off.FriendlyName,
		"reason", "no agent desktop page heard of", "workspace", w.WorkspaceSID, "worker", w.SID, "away", e.away)
	return nil
}

// offlineActivity is the activity a worker without a desktop goes to: the
// unavailable one named Offline, else the workspace's default activity
// when it is unavailable.
func (e *Engine) offlineActivity(ctx context.Context, tx didrouter.Tx, workspaceSID string) (didrouter.Activity, bool, error) {
	a, ok, err := activityNamed(ctx, tx, workspaceSID, OfflineActivityName)
	if err != nil || (ok && !a.Available) {
		return a, ok, err
	}
	ws, err := tx.GetWorkspace(ctx, workspaceSID)
	if err != nil {
		return didrouter.Activity{}, false, fmt.Errorf("read workspace %s: %w", workspaceSID, err)
	}
	if ws.DefaultActivitySID == "" {
		return didrouter.Activity{}, false, nil
	}
	a, err = tx.GetActivity(ctx, workspaceSID, ws.DefaultActivitySID)
	if didrouter.ErrorCode(err) == didrouter.ENOTFOUND {
		return didrouter.Activity{}, false, nil
	}
	if err != nil {
		return didrouter.Activity{}, false, fmt.Errorf("read default activity %s: %w", ws.DefaultActivitySID, err)
	}
	return a, !a.Available, nil
}

// checkPageID refuses a page id that is empty, long or not plain text: it
// is stored and logged.
func checkPageID(id string) error {
	if id == "" || len(id) > maxPageID {
		return didrouter.Errorf(didrouter.EINVALID, "page id must be 1 to %d characters long", maxPageID)
	}
	if strings.IndexFunc(id, func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '-' && r != '_'
	}) >= 0 {
		return didrouter.Errorf(didrouter.EINVALID, "page id %q may hold only letters, digits, '-' and '_'", id)
	}
	return nil
}

// ActivityChange is a worker's activity change as its event tells it.
type ActivityChange struct {
	ActivitySID  string
	ActivityName string
	Previous     string // the previous activity's name
	// Reason is ReasonMissedCalls or ReasonAway when the engine moved the
	// worker on its own, "" when a person did.
	Reason      string
	MissedCalls int           // with ReasonMissedCalls: how many in a row
	Away        time.Duration // with ReasonAway: how long no page was heard of
	Date        time.Time
	EventSID    string
}

// LastActivityChange returns the worker's latest activity change since
// since (ok false when there was none), so that the agent's page can say
// why it was moved ("after 3 missed calls in a row").
func (e *Engine) LastActivityChange(ctx context.Context, workspaceSID, workerSID string, since time.Time) (ActivityChange, bool, error) {
	evs, err := e.store.ListEvents(ctx, workspaceSID, didrouter.EventFilter{Page: didrouter.Page{Size: 1}, EventType: didrouter.EventWorkerActivityUpdate,
		WorkerSID: workerSID, StartDate: since, Newest: true})
	if err != nil {
		return ActivityChange{}, false, fmt.Errorf("last activity change of worker %s: %w", workerSID, err)
	}
	if len(evs) == 0 {
		return ActivityChange{}, false, nil
	}
	last := evs[0]
	var d struct {
		SID         string `json:"worker_activity_sid"`
		Name        string `json:"worker_activity_name"`
		Previous    string `json:"worker_previous_activity"`
		Reason      string `json:"reason"`
		MissedCalls int    `json:"missed_calls"`
		AwaySeconds int    `json:"away_seconds"`
	}
	if err := json.Unmarshal([]byte(last.Data), &d); err != nil {
		return ActivityChange{}, false, fmt.Errorf("last activity change of worker %s: event %s data: %w", workerSID, last.SID, err)
	}
	return ActivityChange{ActivitySID: d.SID, ActivityName: d.Name, Previous: d.Previous, Reason: d.Reason,
		MissedCalls: d.MissedCalls, Away: time.Duration(d.AwaySeconds) * time.Second, Date: last.Date, EventSID: last.SID}, true, nil
}
