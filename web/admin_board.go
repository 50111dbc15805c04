package web

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/stats"
)

// Board figures come from package stats, the code behind the API's
// RealTimeStatistics and CumulativeStatistics, so the board and the API
// always agree.

// everyChange is the worker part of the feed key of a listener that hears
// every change of its workspace: the board's stream and cache.
const everyChange = "*"

// boardMaxAge bounds how long the board's cached figures are used without
// hearing of a change (the change feed may be down).
const boardMaxAge = 30 * time.Second

// boardLive lists at most this many agents with a call on the board.
const boardLive = 50

// pokeWorkspace wakes the listeners of every change of a workspace; the
// caller holds f.mu.
func (f *feed) pokeWorkspace(workspaceSID string) {
	for l := range f.byKey[feedKey(workspaceSID, everyChange)] {
		l.poke()
	}
}

// boardData is the board.
type boardData struct {
	Since      time.Time // the start of "today" (midnight, the server's time zone)
	Computed   time.Time
	Activities []stats.ActivityCount
	Workers    int
	Available  int

	// Agents by the state of their calls (a reservation's): ringing
	// (pending), on a call (accepted), wrapping up. An agent counts once,
	// in the first that applies: on a call, wrapping, ringing.
	Ringing, OnCall, Wrapping int
	Live                      []boardAgent // the agents in those states, on a call first
	MoreLive                  int          // agents in those states not listed

	Waiting       int       // callers waiting for an agent (tasks pending or reserved)
	LongestSince  time.Time // when the longest waiting caller called; zero = nobody waits
	Owner         int       // today's calls answered by the number's owner
	Fallback      int       // answered by someone else (through the queue)
	Outbound      int       // outbound calls agents placed
	Answered      int       // every accepted reservation (the API's reservations_accepted)
	Abandoned     int       // tasks canceled (the API's tasks_canceled)
	AvgWait       int       // seconds, inbound calls answered today
	QueueName     string    // "Everyone" in the DID set-up
	CumulativeErr string    // why today's figures are missing
}

type boardAgent struct {
	SID, Name, Activity, State, Label string
}

// boardView is the board as rendered at a moment: ages counted to now.
type boardView struct {
	*boardData
	Longest int // seconds the longest waiting caller has waited
	Updated string
}

// boardCache keeps each workspace's board until the change feed reports a
// change of the workspace. Many open consoles then cost one computation per
// change, not one each. The event stream paces changes to one a second.
type boardCache struct {
	mu   sync.Mutex
	byWS map[string]*boardEntry
}

type boardEntry struct {
	mu   sync.Mutex // one computation at a time; the others wait for it
	sub  *listener  // poked by every change of the workspace
	data *boardData
}

func (h *Handler) boardEntry(ws string) *boardEntry {
	c := &h.admin.board
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.byWS[ws]
	if e == nil {
		e = &boardEntry{sub: h.feed.add(ws, everyChange)}
		c.byWS[ws] = e
	}
	return e
}

// board returns the workspace's board: computed now when fresh is set,
// else the cached one while no change has been heard.
func (h *Handler) board(ctx context.Context, ws didrouter.Workspace, fresh bool) (*boardData, error) {
	e := h.boardEntry(ws.SID)
	e.mu.Lock()
	defer e.mu.Unlock()
	now := h.clock.Now()
	changed := false
	select {
	case <-e.sub.wake:
		changed = true
	default:
	}
	if d := e.data; d != nil && !fresh && !changed && now.Sub(d.Computed) < boardMaxAge && d.Since.Equal(h.today(now)) {
		return d, nil
	}
	d, err := h.computeBoard(ctx, ws, now)
	if err != nil {
		return nil, err
	}
	e.data = d
	return d, nil
}

// today is the start of the day of now in the server's time zone.
func (h *Handler) today(now time.Time) time.Time {
	local := now.In(h.admin.loc)
	y, m, d := local.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, h.admin.loc)
}

func (h *Handler) computeBoard(ctx context.Context, ws didrouter.Workspace, now time.Time) (*boardData, error) {
	d := &boardData{Since: h.today(now), Computed: now, Live: []boardAgent{}}
	acts, total, available, err := stats.Workers(ctx, h.store, ws.SID, nil)
	if err != nil {
		return nil, fmt.Errorf("count workers: %w", err)
	}
	d.Activities, d.Workers, d.Available = acts, total, available
	if err := h.boardStates(ctx, ws.SID, d); err != nil {
		return nil, err
	}
	rt, err := stats.Tasks(ctx, h.store, ws.SID, "", now)
	if err != nil {
		return nil, fmt.Errorf("count tasks: %w", err)
	}
	d.Waiting, d.LongestSince = rt.Waiting(), rt.LongestCreated
	queues, err := h.store.ListTaskQueues(ctx, ws.SID)
	if err != nil {
		return nil, fmt.Errorf("list task queues: %w", err)
	}
	d.QueueName = "the queue"
	if len(queues) == 1 {
		d.QueueName = queues[0].FriendlyName
	}
	pass, err := stats.Collect(ctx, h.store, ws.SID, stats.Window{Start: d.Since.UTC(), End: now})
	switch {
	case didrouter.ErrorCode(err) == didrouter.EINVALID:
		d.CumulativeErr = didrouter.ErrorMessage(err) // too many events today: the rest of the board still shows
	case err != nil:
		return nil, fmt.Errorf("today's calls: %w", err)
	default:
		c := pass.Workspace
		d.Owner, d.Fallback, d.Outbound = c.OwnerAnswered, c.FallbackAnswered, c.Outbound
		d.Answered, d.Abandoned = c.Counts[didrouter.EventReservationAccepted], c.Counts[didrouter.EventTaskCanceled]
		d.AvgWait = c.InboundWait.Summary().Avg
	}
	return d, nil
}

// boardStates counts agents by the state of their live reservations, with
// the desktop's reading of a reservation (callStatus).
func (h *Handler) boardStates(ctx context.Context, ws string, d *boardData) error {
	state := map[string]string{} // worker → state
	rank := map[string]int{"on_call": 0, "wrapping": 1, "ringing": 2}
	for _, status := range []string{didrouter.ReservationAccepted, didrouter.ReservationWrapping, didrouter.ReservationPending} {
		f := didrouter.ReservationFilter{Status: status}
		for {
			f.Page.Size = 1000
			list, err := h.store.ListReservations(ctx, ws, f)
			if err != nil {
				return fmt.Errorf("list %s reservations: %w", status, err)
			}
			for _, r := range list {
				s, _ := callStatus(r, didrouter.Task{}, "inbound")
				if cur, ok := state[r.WorkerSID]; !ok || rank[s] < rank[cur] {
					state[r.WorkerSID] = s
				}
			}
			if len(list) < f.Page.Size {
				break
			}
			f.Page.After = list[len(list)-1].SID
		}
	}
	for sid, s := range state {
		switch s {
		case "ringing":
			d.Ringing++
		case "on_call":
			d.OnCall++
		case "wrapping":
			d.Wrapping++
		}
		if len(d.Live) >= boardLive {
			d.MoreLive++
			continue
		}
		a := boardAgent{SID: sid, Name: sid, State: s, Label: stateLabel(s)}
		if w, err := h.store.GetWorker(ctx, ws, sid); err == nil {
			a.Name, a.Activity = w.FriendlyName, w.ActivityName
		} else if didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
			return fmt.Errorf("read worker %s: %w", sid, err)
		}
		d.Live = append(d.Live, a)
	}
	slices.SortFunc(d.Live, func(a, b boardAgent) int {
		if a.State != b.State {
			return rank[a.State] - rank[b.State]
		}
		return strings.Compare(a.Name, b.Name)
	})
	return nil
}

func (h *Handler) boardView(d *boardData) boardView {
	v := boardView{boardData: d, Updated: d.Computed.In(h.admin.loc).Format("15:04:05")}
	if !d.LongestSince.IsZero() {
		v.Longest = stats.Age(d.LongestSince, h.clock.Now())
	}
	return v
}

// adminBoardPage is the console's home: the live board.
func (h *Handler) adminBoardPage(w http.ResponseWriter, r *http.Request) {
	a := adminFrom(r.Context())
	d, err := h.board(r.Context(), a.Workspace, true)
	if err != nil {
		h.failed(w, r, AdminAssets, "compute the board", err)
		return
	}
	h.renderAdmin(w, r, http.StatusOK, "admin", "Live board", "board", view{}, h.boardView(d))
}

// adminBoardFragment is the board alone, for the page's live refresh.
func (h *Handler) adminBoardFragment(w http.ResponseWriter, r *http.Request) {
	a := adminFrom(r.Context())
	d, err := h.board(r.Context(), a.Workspace, false)
	if err != nil {
		h.logError(r, "board fragment", err)
		http.Error(w, "didrouter could not compute the board right now", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := h.pages.t["admin"].ExecuteTemplate(&buf, "board", h.boardView(d)); err != nil {
		h.logError(r, "render the board", err)
		http.Error(w, "Internal server error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}
