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

// baseURL is the absolute URL prefix of resource urls: the configured one,
// else the scheme and host the client used (so page links work wherever
// the API is reached from).
func (h *Handler) baseURL(r *http.Request) string {
	if h.base != "" {
		return h.base
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	// Behind a TLS-terminating proxy the links must say https, or Twilio's
	// clients would follow next_page_url over plain http.
	if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
		scheme = p
	}
	return scheme + "://" + r.Host
}

// workspaceURL is the url of a workspace, the prefix of its resources'.
func (h *Handler) workspaceURL(r *http.Request, ws string) string {
	return h.baseURL(r) + "/v1/Workspaces/" + ws
}
