package web

import (
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/didrouter/didrouter/httpmw"
)

// cspBase is the Content-Security-Policy of every page. Everything comes
// from the page's own origin, with no CDN and no inline script or style, so
// injected markup cannot run. It allows no plugins and no framing, and forms
// post only to the origin.
var cspBase = [][2]string{
	{"default-src", "'self'"},
	{"script-src", "'self'"},
	{"style-src", "'self'"},
	{"img-src", "'self' data:"},
	{"connect-src", "'self'"},
	{"media-src", "'self'"},
	{"object-src", "'none'"},
	{"base-uri", "'none'"},
	{"form-action", "'self'"},
	{"frame-ancestors", "'none'"},
}

// contentSecurityPolicy builds the header value, with extra sources per
// directive (the browser phone needs Twilio's).
func contentSecurityPolicy(extra map[string][]string) string {
	var parts []string
	seen := map[string]bool{}
	for _, d := range cspBase {
		v := d[1]
		if add := extra[d[0]]; len(add) > 0 {
			v += " " + strings.Join(add, " ")
		}
		parts = append(parts, d[0]+" "+v)
		seen[d[0]] = true
	}
	var more []string
	for k := range extra {
		if !seen[k] {
			more = append(more, k)
		}
	}
	slices.Sort(more)
	for _, k := range more {
		parts = append(parts, k+" "+strings.Join(extra[k], " "))
	}
	return strings.Join(parts, "; ")
}

// headers sets the security headers of the pages. They carry an agent's
// data, so no cache keeps them.
func (h *Handler) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", h.csp)
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Cross-Origin-Resource-Policy", "same-origin")
		hd.Set("Permissions-Policy", "microphone=(self), camera=(), geolocation=(), payment=()")
		hd.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// assetHeaders serves the embedded CSS and JavaScript: cacheable for a
// while (they change only with the binary), never framed or sniffed.
func (h *Handler) assetHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		// Only files under the public folders; no directory listings, and
		// the page templates are not served.
		rest := p[strings.Index(p, "/assets/")+len("/assets/"):]
		top, _, _ := strings.Cut(rest, "/")
		if !slices.Contains([]string{"css", "js", "vendor", "img"}, top) || strings.HasSuffix(p, "/") {
			http.NotFound(w, r)
			return
		}
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Cross-Origin-Resource-Policy", "same-origin")
		hd.Set("Cache-Control", "public, max-age=3600")
		next.ServeHTTP(w, r)
	})
}

// recoverer turns a panic into a plain 500 page; the stack goes to the log.
func (h *Handler) recoverer(next http.Handler) http.Handler {
	return httpmw.Recover(h.log, "web request panicked", func(w http.ResponseWriter) {
		http.Error(w, "Internal server error", http.StatusInternalServerError)
	})(next)
}

// logError logs an unexpected failure of a page.
func (h *Handler) logError(r *http.Request, what string, err error) {
	h.log.LogAttrs(r.Context(), slog.LevelError, "page failed", slog.String("doing", what), slog.String("path", r.URL.Path), slog.Any("err", err))
}
