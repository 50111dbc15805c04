package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/didrouter/didrouter"
)

// touchEvery bounds how often a session's last_seen is written.
const touchEvery = time.Minute

// csrfField is the form field, and csrfHeader the header of script
// requests, that carry a session's CSRF token.
const (
	csrfField  = "csrf"
	csrfHeader = "X-CSRF-Token"
)

// sessions starts, finds and ends web sessions kept in the store.
type sessions struct {
	web    didrouter.WebStore
	clock  didrouter.Clock
	ttl    time.Duration
	secure bool // the public URL is https
	log    *slog.Logger
}

// cookie describes the session cookie of a kind. Behind https it is
// Secure and named __Host-…, which browsers accept only for Path=/ and
// without Domain, so no other host (a sibling subdomain) can set or
// overwrite it. Over plain http (local trials) the path limits it to its
// pages instead. The agent cookie is SameSite=Lax, because agents open the
// desktop from links in chat and mail all day and every change is a POST
// with a CSRF token anyway; the admin cookie is SameSite=Strict.
func (s sessions) cookie(kind string) (name, path string, same http.SameSite) {
	name, path, same = "didrouter_agent", AgentPath, http.SameSiteLaxMode
	if kind == didrouter.WebSessionAdmin {
		name, path, same = "didrouter_admin", AdminPath, http.SameSiteStrictMode
	}
	if s.secure {
		name, path = "__Host-"+name, "/"
	}
	return name, path, same
}

// randomToken returns 32 random bytes, base64url.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

// sessionID is what the store keeps of a cookie's token.
func sessionID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// start creates a session and sets its cookie on w.
func (s sessions) start(ctx context.Context, w http.ResponseWriter, kind, workspaceSID, workerSID string) (didrouter.WebSession, error) {
	now := s.clock.Now()
	// Expired sessions and used links go whenever someone signs in: no
	// background job is needed, and sign-ins are rare next to page views.
	if err := s.web.PurgeWebSessions(ctx, now); err != nil {
		s.log.WarnContext(ctx, "purging expired sessions failed", "err", err)
	}
	token := randomToken()
	sess := didrouter.WebSession{ID: sessionID(token), Kind: kind, WorkspaceSID: workspaceSID, WorkerSID: workerSID,
		CSRF: randomToken(), Created: now, Expires: now.Add(s.ttl), LastSeen: now}
	if err := s.web.InsertWebSession(ctx, sess); err != nil {
		return didrouter.WebSession{}, fmt.Errorf("start session: %w", err)
	}
	name, path, same := s.cookie(kind)
	http.SetCookie(w, &http.Cookie{Name: name, Value: token, Path: path, Expires: sess.Expires,
		MaxAge: int(s.ttl / time.Second), Secure: s.secure, HttpOnly: true, SameSite: same})
	return sess, nil
}

// find returns the request's session of kind; ok is false without a
// valid one (no cookie, unknown, expired, another kind).
func (s sessions) find(r *http.Request, kind string) (sess didrouter.WebSession, ok bool, err error) {
	name, _, _ := s.cookie(kind)
	c, err := r.Cookie(name)
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return didrouter.WebSession{}, false, nil
	}
	sess, err = s.web.GetWebSession(r.Context(), sessionID(c.Value))
	switch {
	case didrouter.ErrorCode(err) == didrouter.ENOTFOUND:
		return didrouter.WebSession{}, false, nil
	case err != nil:
		return didrouter.WebSession{}, false, fmt.Errorf("read session: %w", err)
	}
	now := s.clock.Now()
	if sess.Kind != kind || !now.Before(sess.Expires) {
		return didrouter.WebSession{}, false, nil
	}
	if now.Sub(sess.LastSeen) >= touchEvery {
		if err := s.web.TouchWebSession(r.Context(), sess.ID, now); err != nil && didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
			s.log.WarnContext(r.Context(), "noting session use failed", "err", err)
		}
	}
	return sess, true, nil
}

// end deletes the session and clears its cookie.
func (s sessions) end(ctx context.Context, w http.ResponseWriter, sess didrouter.WebSession) error {
	s.clear(w, sess.Kind)
	if err := s.web.DeleteWebSession(ctx, sess.ID); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}

// clear tells the browser to drop the cookie of kind.
func (s sessions) clear(w http.ResponseWriter, kind string) {
	name, path, same := s.cookie(kind)
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: path, MaxAge: -1,
		Secure: s.secure, HttpOnly: true, SameSite: same})
}

// csrfOK reports whether r carries sess's CSRF token (form field or
// header), compared in constant time.
func csrfOK(r *http.Request, sess didrouter.WebSession) bool {
	got := r.Header.Get(csrfHeader)
	if got == "" {
		got = r.PostFormValue(csrfField)
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRF)) == 1
}
