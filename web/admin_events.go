package web

import (
	"net/http"
	"time"

	"github.com/didrouter/didrouter"
)

// boardEvery is the least time between two "board" events of a stream: a
// busy workspace changes many times a second, and the board is re-read on
// each event.
const boardEvery = time.Second

// adminEvents is the console's event stream (server-sent events):
//
//	board      {}: the workspace changed; fetch /admin/board again
//	signedout  {"text"}: the admin session ended; the stream closes
//
// plus a comment line every Heartbeat (with a board event as a backstop).
// Any change of the workspace, from any instance, reaches it through the
// store's change feed; events are at least boardEvery apart (the first
// change after a quiet spell is sent at once, later ones gathered).
func (h *Handler) adminEvents(w http.ResponseWriter, r *http.Request) {
	a := adminFrom(r.Context())
	ctx := r.Context()
	s := openStream(w)
	sub := h.feed.add(a.Workspace.SID, everyChange)
	defer h.feed.remove(sub)
	// send tells the page to refresh, unless the session has ended.
	send := func() bool {
		_, ok, err := h.sessions.find(r, didrouter.WebSessionAdmin)
		if err != nil {
			h.logError(r, "admin event stream: read session", err)
			return s.comment("store unavailable")
		}
		if !ok {
			_ = s.event("signedout", map[string]string{"text": "You were signed out. Sign in again to go on."})
			return false
		}
		return s.event("board", struct{}{})
	}
	if !s.retry(2*time.Second) || !s.comment("connected") {
		return
	}
	var (
		cooldown <-chan time.Time // set while events must wait
		pending  bool             // a change came during the cooldown
	)
	beat := h.clock.After(h.heartbeat)
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.closing:
			return
		case <-sub.wake:
			if cooldown != nil {
				pending = true
				continue
			}
			// The cooldown starts before the write, so that whoever reads
			// the event already finds it running.
			cooldown = h.clock.After(boardEvery)
			if !send() {
				return
			}
		case <-cooldown:
			cooldown = nil
			if pending {
				pending = false
				cooldown = h.clock.After(boardEvery)
				if !send() {
					return
				}
			}
		case <-beat:
			beat = h.clock.After(h.heartbeat)
			if !s.comment("alive") || !send() {
				return
			}
		}
	}
}
