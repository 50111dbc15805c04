package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

// writeWait bounds one write to an event stream: a browser that stopped
// reading is dropped instead of holding the stream open.
const writeWait = 30 * time.Second

// Event types of /agent/events (server-sent events, data is JSON):
//
//	state      agentState: the agent's status, buttons, call and recent calls
//	notice     {"text","at"}: why the status changed when didrouter changed
//	           it (a worker.activity.update event whose data has "notice")
//	signedout  {"text"}: the session ended (signed out elsewhere, revoked,
//	           expired); the stream closes
//
// plus a comment line every Heartbeat so that proxies keep it open.
//
// The stream re-reads the agent's state from the store whenever the change
// feed names the agent's worker or reservations (from any instance), and on
// every heartbeat as a backstop.
func (h *Handler) events(w http.ResponseWriter, r *http.Request) {
	a, _ := AgentFrom(r.Context())
	ctx := r.Context()
	s := openStream(w)

	ws, worker := a.Worker.WorkspaceSID, a.Worker.SID
	sub := h.feed.add(ws, worker)
	defer h.feed.remove(sub)
	pageID := randomToken()[:16]
	if h.presence != nil {
		if err := h.presence.AgentPageOpen(ctx, ws, worker, pageID); err != nil {
			h.logError(r, "event stream: page open", err)
		}
		defer func() {
			// The request's context is over by now; the page's end must still be stored.
			if err := h.presence.AgentPageClosed(context.WithoutCancel(ctx), ws, worker, pageID); err != nil {
				h.logError(r, "event stream: page closed", err)
			}
		}()
	}

	reader := h.newStateReader()
	var last []byte
	lastNotice := ""
	// send re-reads the state and sends what changed; false ends the stream.
	send := func(first bool) bool {
		cur, ok, err := h.agentSession(r)
		if err != nil {
			h.logError(r, "event stream: read session", err)
			return s.comment("store unavailable") // try again at the next wake-up
		}
		if !ok {
			_ = s.event("signedout", map[string]string{"text": "You were signed out. Open a new sign-in link to go on."})
			return false
		}
		st, err := reader.read(ctx, cur.Worker)
		if err != nil {
			h.logError(r, "event stream: read state", err)
			return s.comment("store unavailable")
		}
		b, _ := json.Marshal(st) // agentState always encodes
		if !bytes.Equal(b, last) {
			if !s.raw("state", b) {
				return false
			}
			last = b
		}
		n, err := h.latestNotice(ctx, cur.Worker)
		if err != nil {
			h.logError(r, "event stream: read notices", err)
			return true
		}
		if n.sid != lastNotice {
			// On connect only a notice that explains the current status is
			// shown; later any new one.
			if n.text != "" && (!first || n.activitySID == cur.Worker.ActivitySID) {
				if !s.event("notice", map[string]string{"text": n.text, "at": n.at.UTC().Format(time.RFC3339)}) {
					return false
				}
			}
			lastNotice = n.sid
		}
		return true
	}
	if !s.retry(2*time.Second) || !send(true) {
		return
	}
	beat := h.clock.After(h.heartbeat)
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.closing:
			return
		case <-sub.wake:
			if !send(false) {
				return
			}
		case <-beat:
			beat = h.clock.After(h.heartbeat)
			if h.presence != nil {
				if err := h.presence.AgentPageHeartbeat(ctx, ws, worker, pageID); err != nil {
					h.logError(r, "event stream: page heartbeat", err)
				}
			}
			if !s.comment("alive") || !send(false) {
				return
			}
		}
	}
}

// notice is the latest status change didrouter explained to the agent.
type notice struct {
	sid, text, activitySID string
	at                     time.Time
}

// latestNotice reads the worker's latest activity change; it is a notice
// when the engine made it on its own (a closed desktop, missed calls), so
// that the page can say why the agent's status changed.
func (h *Handler) latestNotice(ctx context.Context, w didrouter.Worker) (notice, error) {
	ch, ok, err := h.eng.LastActivityChange(ctx, w.WorkspaceSID, w.SID, time.Time{})
	if err != nil || !ok {
		return notice{}, err
	}
	n := notice{sid: ch.EventSID, activitySID: ch.ActivitySID, at: ch.Date}
	switch ch.Reason {
	case engine.ReasonAway:
		n.text = fmt.Sprintf("You were set to %s: no agent page was open for %s.", ch.ActivityName, spoken(ch.Away))
	case engine.ReasonMissedCalls:
		n.text = fmt.Sprintf("You were set to %s after %d missed or declined calls in a row.", ch.ActivityName, ch.MissedCalls)
	}
	return n, nil
}

// spoken writes a duration the way people say it: "2 minutes", "90 seconds".
func spoken(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return strconv.FormatInt(n, 10) + " " + unit + "s"
	}
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return plural(int64(d/time.Minute), "minute")
	default:
		return plural(int64(d/time.Second), "second")
	}
}

// stream writes server-sent events.
type stream struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

// openStream answers w with the headers of an event stream.
func openStream(w http.ResponseWriter) *stream {
	rc := http.NewResponseController(w)
	// The server's WriteTimeout would cut the stream: deadlines are set
	// per write instead.
	_ = rc.SetWriteDeadline(time.Time{})
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	return &stream{w: w, rc: rc}
}

func (s *stream) write(b []byte) bool {
	_ = s.rc.SetWriteDeadline(time.Now().Add(writeWait))
	if _, err := s.w.Write(b); err != nil {
		return false
	}
	return s.rc.Flush() == nil
}

func (s *stream) raw(event string, data []byte) bool {
	return s.write([]byte("event: " + event + "\ndata: " + string(data) + "\n\n"))
}

func (s *stream) event(event string, v any) bool {
	b, err := json.Marshal(v)
	if err != nil {
		return false
	}
	return s.raw(event, b)
}

func (s *stream) comment(text string) bool { return s.write([]byte(": " + text + "\n\n")) }

func (s *stream) retry(d time.Duration) bool {
	return s.write(fmt.Appendf(nil, "retry: %d\n\n", d.Milliseconds()))
}
