package api

import (
	"net/http"
	"time"
)

// timeFormat is how TaskRouter writes dates: ISO 8601 in UTC, whole seconds
// (twilio-go decodes them into time.Time, which needs RFC 3339). The older
// 2010-04-01 API writes RFC 2822 dates instead; TaskRouter v1 does not.
const timeFormat = "2006-01-02T15:04:05Z"

// isoTime formats t, or returns nil (JSON null) for the zero time.
func isoTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(timeFormat)
	return &s
}

// nullable returns nil (JSON null) for "", as Twilio writes unset strings.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// baseURL is the absolute URL prefix of resource urls, as configured. The
// request is not consulted, because its Host and X-Forwarded-Proto headers
// are whatever the client sent. Links built from them would send a client
// that follows them, or a cache that keeps them, elsewhere.
func (h *Handler) baseURL(_ *http.Request) string { return h.base }

// workspaceURL is the url of a workspace, the prefix of its resources'.
func (h *Handler) workspaceURL(r *http.Request, ws string) string {
	return h.baseURL(r) + "/v1/Workspaces/" + ws
}

// memo remembers what look answered for each sid, so that a page whose rows
// name the same queue or worker reads it once. One lives for one request.
type memo[V any] struct {
	look  func(sid string) V
	cache map[string]V
}

func newMemo[V any](look func(sid string) V) *memo[V] {
	return &memo[V]{look: look, cache: map[string]V{}}
}

func (m *memo[V]) of(sid string) V {
	if v, ok := m.cache[sid]; ok {
		return v
	}
	v := m.look(sid)
	m.cache[sid] = v
	return v
}
