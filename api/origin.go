package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// ParseOrigin reads a web origin (scheme://host[:port], as a browser sends
// it in the Origin header) and returns it in canonical form: lower case,
// without the scheme's default port. Anything else, "null" included, is an
// error.
func ParseOrigin(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", fmt.Errorf("%q is not an origin such as https://admin.example.com", s)
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	switch {
	case scheme == "http" && strings.HasSuffix(host, ":80"):
		host = strings.TrimSuffix(host, ":80")
	case scheme == "https" && strings.HasSuffix(host, ":443"):
		host = strings.TrimSuffix(host, ":443")
	}
	return scheme + "://" + host, nil
}

// originPolicy holds the origins whose pages may change state through the
// API: the server's own and the configured ones.
type originPolicy struct {
	own     string
	allowed map[string]bool
}

func newOriginPolicy(base string, extra []string) (originPolicy, error) {
	u, err := url.Parse(base)
	if err != nil {
		return originPolicy{}, err
	}
	own, err := ParseOrigin(u.Scheme + "://" + u.Host)
	if err != nil {
		return originPolicy{}, err
	}
	p := originPolicy{own: own, allowed: map[string]bool{own: true}}
	for _, o := range extra {
		c, err := ParseOrigin(o)
		if err != nil {
			return originPolicy{}, err
		}
		p.allowed[c] = true
	}
	return p, nil
}

// allows reports whether a page of origin may send a state-changing request.
func (p originPolicy) allows(origin string) bool {
	c, err := ParseOrigin(origin)
	return err == nil && p.allowed[c]
}

// refuseCrossOrigin stops cross-site request forgery: a page on another
// site can make a browser POST a form to the API, and the browser adds the
// Basic credentials it remembers. Browsers name the page's origin in the
// Origin header of such requests; a state-changing request from a foreign
// origin (or the opaque "null" one) is refused. A request without Origin
// does not come from a web page (curl, Twilio's libraries) and passes.
func (h *Handler) refuseCrossOrigin(r *http.Request) error {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		for _, o := range r.Header.Values("Origin") {
			if !h.origins.allows(o) {
				return &statusError{status: http.StatusForbidden, code: 20403, msg: fmt.Sprintf(
					"cross-origin request refused: a page of %s may not change didrouter's state; only %s may (others can be allowed with DIDROUTER_ALLOWED_ORIGINS)",
					clip(o), h.origins.own)}
			}
		}
	}
	return nil
}
