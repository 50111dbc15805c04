package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/store/storetest"
	"github.com/didrouter/didrouter/web"
)

const aliceAttrs = `{"phone_number":"(512) 764-0580","contact_uri":"client:alice"}`

// Every page carries the security headers, and nothing is cached.
func TestSecurityHeaders(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := newSite(t, st, siteOptions{})
		b := s.browser()
		for _, path := range []string{web.AgentPath, web.AdminSignInPath, web.SignInPath + "?t=x"} {
			a := b.get(path)
			csp := a.header.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("%s: CSP %q lacks %q", path, csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "http") {
				t.Errorf("%s: CSP %q allows inline code or another origin", path, csp)
			}
			for k, want := range map[string]string{"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
				"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"} {
				if got := a.header.Get(k); got != want {
					t.Errorf("%s: %s %q, want %q", path, k, got, want)
				}
			}
		}
		// The assets are served; the templates and directory listings are not.
		if a := b.get(web.AgentAssets + "js/agent.js"); a.status != 200 || !strings.Contains(a.body, "EventSource") {
			t.Errorf("agent.js: %d", a.status)
		}
		if a := b.get(web.AdminAssets + "css/didrouter.css"); a.status != 200 {
			t.Errorf("admin css: %d", a.status)
		}
		for _, p := range []string{web.AgentAssets + "templates/agent.html", web.AgentAssets + "js/", web.AgentAssets + "../web.go"} {
			if a := b.get(p); a.status != 404 {
				t.Errorf("%s: %d, want 404", p, a.status)
			}
		}
	})
}

// Without a session the desktop says how to sign in and shows nothing of
// any agent; the event stream and presence refuse.
func TestAgentPageWithoutSession(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := newSite(t, st, siteOptions{})
		s.worker("Alice", aliceAttrs)
		b := s.browser()
		a := b.get(web.AgentPath)
		if a.status != 200 || !strings.Contains(a.body, "You are not signed in") {
			t.Fatalf("no session: %d %s", a.status, a.body)
		}
		for _, leak := range []string{"Alice", "764-0580", "Available", "csrf"} {
			if strings.Contains(a.body, leak) {
				t.Errorf("the page without a session shows %q", leak)
			}
		}
		if e := b.events(); e.status != http.StatusUnauthorized {
			t.Errorf("events without a session: %d", e.status)
		}
		if a := b.post(web.AgentPresence, url.Values{"activity": {s.activity("Available")}}); a.status != http.StatusUnauthorized {
			t.Errorf("presence without a session: %d", a.status)
		}
		// A forged cookie is no session either.
		u, _ := url.Parse(s.url + web.AgentPath)
		b.c.Jar.SetCookies(u, []*http.Cookie{{Name: "didrouter_agent", Value: "forged", Path: web.AgentPath}})
		if a := b.get(web.AgentPath); !strings.Contains(a.body, "You are not signed in") {
			t.Errorf("forged cookie: %s", a.body)
		}
	})
}

// A sign-in link: GET shows a button and starts nothing (link previews),
// POST starts the session once; the link cannot be used again.
func TestAgentSignInLink(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := newSite(t, st, siteOptions{})
		alice := s.worker("Alice", aliceAttrs)
		link := s.link("alice")
		tok := link[strings.Index(link, "t=")+2:]
		tok, _ = url.QueryUnescape(tok)
		preview := s.browser()
		a := preview.get(link)
		if a.status != 200 || !strings.Contains(a.body, "Sign in as Alice") || a.header.Get("Set-Cookie") != "" {
			t.Fatalf("GET of the link: %d %v %s", a.status, a.header, a.body)
		}
		if a := preview.get(link); a.status != 200 {
			t.Errorf("a second GET (a preview bot, then the agent): %d", a.status)
		}
		b := s.browser()
		a = b.post(web.SignInPath, url.Values{"t": {tok}})
		if a.status != http.StatusSeeOther {
			t.Fatalf("POST of the link: %d %s", a.status, a.body)
		}
		ck := a.header.Get("Set-Cookie")
		for _, want := range []string{"didrouter_agent=", "HttpOnly", "SameSite=Lax", "Path=/agent/", "Max-Age=43200"} {
			if !strings.Contains(ck, want) {
				t.Errorf("cookie %q lacks %q", ck, want)
			}
		}
		if strings.Contains(ck, "Secure") {
			t.Errorf("cookie %q is Secure on a plain http URL", ck)
		}
		desk := b.get(web.AgentPath)
		if !strings.Contains(desk.body, `id="agent-name">Alice<`) || !strings.Contains(desk.body, "(512) 764-0580") {
			t.Errorf("desktop: %s", desk.body)
		}
		// The store keeps the session for alice's worker, under the
		// digest of the cookie's token.
		if sess, ok := b.storedSession(); !ok || sess.WorkerSID != alice.SID || sess.Kind != didrouter.WebSessionAgent ||
			!sess.Expires.Equal(s.clock.Now().Add(12*time.Hour)) || len(sess.CSRF) < 40 {
			t.Errorf("stored session %+v (%v)", sess, ok)
		}
		// Used once: refused again, from any browser.
		if a := s.browser().post(web.SignInPath, url.Values{"t": {tok}}); a.status != http.StatusForbidden || !strings.Contains(a.body, "used already") {
			t.Errorf("second use: %d %s", a.status, a.body)
		}
		// Expired (and the used-link record purged with it): refused.
		old := s.link("alice")
		s.clock.Advance(16 * time.Minute)
		if a := s.browser().get(old); a.status != http.StatusForbidden || !strings.Contains(a.body, "expired") {
			t.Errorf("expired link: %d %s", a.status, a.body)
		}
		// Garbage, and an identity that is nobody's.
		if a := s.browser().get(web.SignInPath + "?t=drl1.x"); a.status != http.StatusForbidden || !strings.Contains(a.body, "does not work") {
			t.Errorf("garbage link: %d %s", a.status, a.body)
		}
		if a := s.browser().get(s.link("nobody")); a.status != http.StatusForbidden || !strings.Contains(a.body, "No agent uses") {
			t.Errorf("nobody's link: %d %s", a.status, a.body)
		}
	})
}

// Links are off without DIDROUTER_AGENT_TOKEN_SECRET, and the page says so.
func TestAgentSignInLinksOff(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := newSite(t, st, siteOptions{noLinks: true})
		a := s.browser().get(web.SignInPath + "?t=drl1.anything")
		if a.status != http.StatusServiceUnavailable || !strings.Contains(a.body, "DIDROUTER_AGENT_TOKEN_SECRET") {
			t.Errorf("links off: %d %s", a.status, a.body)
		}
	})
}

// State-changing requests from another site are refused, and a session's
// requests need its CSRF token.
func TestCrossSiteAndCSRF(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := newSite(t, st, siteOptions{})
		alice := s.worker("Alice", aliceAttrs)
		b := s.browser()
		b.signIn("alice")
		avail := s.activity("Available")
		evil := map[string]string{"Origin": "https://evil.example"}
		form := url.Values{"activity": {avail}, "csrf": {b.csrf}}
		if a := b.do(http.MethodPost, web.AgentPresence, form, evil); a.status != http.StatusForbidden {
			t.Errorf("presence from another origin: %d", a.status)
		}
		if a := b.do(http.MethodPost, web.AgentPresence, form, map[string]string{"Sec-Fetch-Site": "cross-site"}); a.status != http.StatusForbidden {
			t.Errorf("presence from another site: %d", a.status)
		}
		if a := b.post(web.AgentPresence, url.Values{"activity": {avail}}); a.status != http.StatusForbidden {
			t.Errorf("presence without the CSRF token: %d", a.status)
		}
		if a := b.post(web.AgentPresence, url.Values{"activity": {avail}, "csrf": {"wrong"}}); a.status != http.StatusForbidden {
			t.Errorf("presence with a wrong CSRF token: %d", a.status)
		}
		if w := s.getWorker(alice.SID); w.ActivityName != "Offline" {
			t.Fatalf("a refused request changed the activity to %s", w.ActivityName)
		}
		// Sign-in and sign-out forms from another site are refused too
		// (no login CSRF).
		link := s.link("alice")
		tok, _ := url.QueryUnescape(link[strings.Index(link, "t=")+2:])
		if a := s.browser().do(http.MethodPost, web.SignInPath, url.Values{"t": {tok}}, evil); a.status != http.StatusForbidden {
			t.Errorf("sign-in from another origin: %d", a.status)
		}
		if a := b.do(http.MethodPost, web.AgentSignOut, url.Values{"csrf": {b.csrf}}, evil); a.status != http.StatusForbidden {
			t.Errorf("sign-out from another origin: %d", a.status)
		}
		if a := b.post(web.AgentSignOut, url.Values{"csrf": {"wrong"}}); a.status != http.StatusForbidden {
			t.Errorf("sign-out with a wrong token: %d", a.status)
		}
		// The right token from the page's origin works (the header form too).
		if a := b.post(web.AgentPresence, form); a.status != http.StatusSeeOther {
			t.Errorf("presence: %d %s", a.status, a.body)
		}
		if w := s.getWorker(alice.SID); w.ActivityName != "Available" {
			t.Errorf("activity %s after pressing Available", w.ActivityName)
		}
		a := b.do(http.MethodPost, web.AgentPresence, url.Values{"activity": {s.activity("Offline")}},
			map[string]string{"Origin": s.url, "X-CSRF-Token": b.csrf, "Accept": "application/json"})
		if a.status != 200 || !strings.Contains(a.body, `"activity_name":"Offline"`) {
			t.Errorf("presence over JSON: %d %s", a.status, a.body)
		}
	})
}

// An agent's session touches only that agent's worker: the requests name
// no worker, and extra parameters naming another are ignored.
func TestAgentCannotTouchAnother(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := newSite(t, st, siteOptions{})
		alice := s.worker("Alice", aliceAttrs)
		bob := s.worker("Bob", `{"phone_number":"+15125550199","contact_uri":"client:bob"}`)
		b := s.browser()
		b.signIn("alice")
		avail := s.activity("Available")
		a := b.post(web.AgentPresence+"?worker="+bob.SID+"&WorkerSid="+bob.SID,
			url.Values{"activity": {avail}, "csrf": {b.csrf}, "worker": {bob.SID}, "WorkerSid": {bob.SID}, "sid": {bob.SID}})
		if a.status != http.StatusSeeOther {
			t.Fatalf("presence: %d %s", a.status, a.body)
		}
		if w := s.getWorker(bob.SID); w.ActivityName != "Offline" {
			t.Errorf("alice's session changed bob to %s", w.ActivityName)
		}
		if w := s.getWorker(alice.SID); w.ActivityName != "Available" {
			t.Errorf("alice is %s", w.ActivityName)
		}
		// An activity of another workspace is refused, and so is anything
		// that is no activity sid (the same 400 on both stores).
		for _, bad := range []string{didrouter.NewSID(didrouter.PrefixActivity), "", "WA\x00" + strings.Repeat("0", 31),
			"\xff\xfe", strings.Repeat("A", 1000), bob.SID} {
			if a := b.post(web.AgentPresence, url.Values{"activity": {bad}, "csrf": {b.csrf}}); a.status != http.StatusBadRequest {
				t.Errorf("activity %.40q: %d %s", bad, a.status, a.body)
			}
		}
		if a := b.post(web.AgentPresence, url.Values{"activity": {strings.Repeat("A", 70000)}, "csrf": {b.csrf}}); a.status != http.StatusRequestEntityTooLarge {
			t.Errorf("a form over 64 KiB: %d", a.status)
		}
		// Her page and her stream show her, never bob.
		desk := b.get(web.AgentPath + "?worker=" + bob.SID)
		if strings.Contains(desk.body, "Bob") || strings.Contains(desk.body, "555-0199") {
			t.Error("alice's desktop shows bob")
		}
		e := b.events()
		if st := state(t, e.next("state", 5*time.Second, nil)); st["name"] != "Alice" {
			t.Errorf("alice's stream shows %v", st["name"])
		}
		// Bob's changes do not reach alice's stream; hers do.
		if _, err := s.eng.UpdateWorker(s.ctx, s.ws.SID, bob.SID, engine.WorkerUpdate{ActivitySID: &avail}); err != nil {
			t.Fatal(err)
		}
		off := s.activity("Offline")
		if _, err := s.eng.UpdateWorker(s.ctx, s.ws.SID, alice.SID, engine.WorkerUpdate{ActivitySID: &off}); err != nil {
			t.Fatal(err)
		}
		e.next("state", 5*time.Second, func(d string) bool {
			st := state(t, d)
			if st["name"] != "Alice" {
				t.Fatalf("alice's stream sent %v", st["name"])
			}
			return st["activity_name"] == "Offline"
		})
	})
}

// Sign-out (a POST with the CSRF token) deletes the session; its cookie
// opens nothing afterwards.
func TestSignOut(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := newSite(t, st, siteOptions{})
		s.worker("Alice", aliceAttrs)
		b := s.browser()
		b.signIn("alice")
		// Keep the cookie, as a thief who copied it would.
		u, _ := url.Parse(s.url + web.AgentPath)
		stolen := b.c.Jar.Cookies(u)
		a := b.post(web.AgentSignOut, url.Values{"csrf": {b.csrf}})
		if a.status != http.StatusSeeOther || !strings.Contains(a.header.Get("Set-Cookie"), "Max-Age=0") {
			t.Fatalf("sign out: %d %v", a.status, a.header)
		}
		if _, ok := thiefSession(t, s, stolen); ok {
			t.Error("the session is still stored after sign-out")
		}
		thief := s.browser()
		thief.c.Jar.SetCookies(u, stolen)
		if a := thief.get(web.AgentPath); !strings.Contains(a.body, "You are not signed in") {
			t.Error("the old cookie still opens the desktop")
		}
		if a := b.get(web.AgentPath); !strings.Contains(a.body, "You are not signed in") {
			t.Error("signed out, the desktop still shows")
		}
	})
}

// A session ends after DIDROUTER_SESSION_TTL, when its agent's tokens are
// revoked (its open stream says so at once) or when its worker is deleted.
func TestSessionEnds(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := newSite(t, st, siteOptions{})
		alice := s.worker("Alice", aliceAttrs)
		s.worker("Bob", `{"contact_uri":"client:bob"}`)
		b := s.browser()
		b.signIn("alice")
		s.clock.Advance(12*time.Hour - time.Second)
		if a := b.get(web.AgentPath); !strings.Contains(a.body, `id="agent-name">Alice<`) {
			t.Fatal("the session ended before its 12 hours")
		}
		s.clock.Advance(time.Second)
		if a := b.get(web.AgentPath); !strings.Contains(a.body, "You are not signed in") {
			t.Error("the session outlived its 12 hours")
		}

		b.signIn("alice")
		e := b.events()
		e.next("state", 5*time.Second, nil)
		if status, out := s.apiPost("/v1/Workspaces/"+s.ws.SID+"/Workers/"+alice.SID+"/RevokeAgentTokens", nil); status != 200 || out["sessions_ended"] != 1.0 {
			t.Fatalf("revoke: %d %v", status, out)
		}
		e.next("signedout", 5*time.Second, nil)
		if !e.closed(5 * time.Second) {
			t.Error("the stream stayed open after the revocation")
		}
		if a := b.get(web.AgentPath); !strings.Contains(a.body, "You are not signed in") {
			t.Error("revoked, the desktop still shows")
		}

		bobs := s.browser()
		bobs.signIn("bob")
		bob, err := s.eng.WorkerByIdentity(s.ctx, "bob", "")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.eng.DeleteWorker(s.ctx, s.ws.SID, bob.SID); err != nil {
			t.Fatal(err)
		}
		if a := bobs.get(web.AgentPath); !strings.Contains(a.body, "You are not signed in") {
			t.Error("a deleted worker's session still opens the desktop")
		}
	})
}

// Behind https the cookie is Secure and __Host- named.
func TestSecureCookie(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := newSite(t, st, siteOptions{publicURL: "https://calls.example.com"})
		s.worker("Alice", aliceAttrs)
		link := s.link("alice")
		tok, _ := url.QueryUnescape(link[strings.Index(link, "t=")+2:])
		b := s.browser()
		a := b.do(http.MethodPost, web.SignInPath, url.Values{"t": {tok}}, map[string]string{"Origin": "https://calls.example.com"})
		ck := a.header.Get("Set-Cookie")
		if a.status != http.StatusSeeOther || !strings.HasPrefix(ck, "__Host-didrouter_agent=") ||
			!strings.Contains(ck, "Secure") || !strings.Contains(ck, "Path=/;") || strings.Contains(ck, "Domain") {
			t.Errorf("https sign-in: %d cookie %q", a.status, ck)
		}
		// The public URL's origin is trusted beside the request's own host
		// (a proxy in front).
		a = s.browser().do(http.MethodPost, web.AdminSignInPath, url.Values{"key": {apiKey}, "secret": {apiSecret}},
			map[string]string{"Origin": "https://calls.example.com"})
		if ck := a.header.Get("Set-Cookie"); a.status != http.StatusSeeOther || !strings.HasPrefix(ck, "__Host-didrouter_admin=") ||
			!strings.Contains(ck, "SameSite=Strict") || !strings.Contains(ck, "Secure") {
			t.Errorf("https admin sign-in: %d cookie %q", a.status, ck)
		}
	})
}

// The admin sign-in: a wrong secret gets a message and nothing else; the
// right one a session and the console's page; sign-out ends it.
func TestAdminSignIn(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := newSite(t, st, siteOptions{})
		s.worker("Alice", aliceAttrs)
		b := s.browser()
		if a := b.get(web.AdminPath); a.status != http.StatusSeeOther || a.header.Get("Location") != web.AdminSignInPath {
			t.Errorf("console without a session: %d %v", a.status, a.header)
		}
		form := b.get(web.AdminSignInPath)
		if form.status != 200 || !strings.Contains(form.body, `type="password"`) || form.header.Get("WWW-Authenticate") != "" {
			t.Errorf("form: %d %v", form.status, form.header)
		}
		a := b.post(web.AdminSignInPath, url.Values{"key": {apiKey}, "secret": {"wrong"}})
		if a.status != http.StatusUnauthorized || !strings.Contains(a.body, "The key or the secret is wrong.") ||
			a.header.Get("Set-Cookie") != "" || a.header.Get("WWW-Authenticate") != "" {
			t.Errorf("wrong secret: %d %v %s", a.status, a.header, a.body)
		}
		for _, leak := range []string{"Alice", s.ws.SID, "Signed in"} {
			if strings.Contains(a.body, leak) {
				t.Errorf("the wrong-secret page shows %q", leak)
			}
		}
		if a := b.get(web.AdminPath); a.status != http.StatusSeeOther {
			t.Errorf("console after a wrong secret: %d", a.status)
		}
		a = b.post(web.AdminSignInPath, url.Values{"key": {apiKey}, "secret": {apiSecret}})
		if a.status != http.StatusSeeOther || a.header.Get("Location") != web.AdminPath {
			t.Fatalf("sign in: %d %s", a.status, a.body)
		}
		if ck := a.header.Get("Set-Cookie"); !strings.Contains(ck, "SameSite=Strict") || !strings.Contains(ck, "HttpOnly") ||
			!strings.Contains(ck, "Path=/admin/") {
			t.Errorf("admin cookie %q", ck)
		}
		page := b.get(web.AdminPath)
		m := csrfRE.FindStringSubmatch(page.body)
		if page.status != 200 || !strings.Contains(page.body, "Admin console") || m == nil {
			t.Fatalf("console: %d %s", page.status, page.body)
		}
		// An admin session is no agent session.
		if a := b.get(web.AgentPath); !strings.Contains(a.body, "You are not signed in") {
			t.Error("the admin session opens the agent desktop")
		}
		if a := b.post(web.AdminSignOut, url.Values{"csrf": {m[1]}}); a.status != http.StatusSeeOther {
			t.Errorf("sign out: %d", a.status)
		}
		if a := b.get(web.AdminPath); a.status != http.StatusSeeOther {
			t.Errorf("console after sign-out: %d", a.status)
		}
	})
}

func TestAdminConsoleOff(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := newSite(t, st, siteOptions{noAdmin: true})
		b := s.browser()
		if a := b.get(web.AdminSignInPath); !strings.Contains(a.body, "The admin console is off") {
			t.Errorf("form with the console off: %s", a.body)
		}
		if a := b.post(web.AdminSignInPath, url.Values{"key": {"x"}, "secret": {"y"}}); a.status != http.StatusServiceUnavailable ||
			a.header.Get("Set-Cookie") != "" {
			t.Errorf("sign-in with the console off: %d", a.status)
		}
	})
}

// Sign-in attempts are rate limited per client (and overall): the 11th in
// a minute gets 429 with a clear message, and a minute later it works.
func TestSignInRateLimit(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := newSite(t, st, siteOptions{})
		b := s.browser()
		wrong := url.Values{"key": {apiKey}, "secret": {"guess"}}
		for i := range 10 {
			if a := b.post(web.AdminSignInPath, wrong); a.status != http.StatusUnauthorized {
				t.Fatalf("attempt %d: %d", i+1, a.status)
			}
		}
		a := b.post(web.AdminSignInPath, url.Values{"key": {apiKey}, "secret": {apiSecret}})
		if a.status != http.StatusTooManyRequests || !strings.Contains(a.body, "Too many sign-in attempts") ||
			a.header.Get("Retry-After") == "" || a.header.Get("Set-Cookie") != "" {
			t.Fatalf("11th attempt: %d %s", a.status, a.body)
		}
		// Agent links count against the same client.
		if a := b.post(web.SignInPath, url.Values{"t": {"x"}}); a.status != http.StatusTooManyRequests {
			t.Errorf("a link after the limit: %d", a.status)
		}
		s.clock.Advance(time.Minute)
		if a := b.post(web.AdminSignInPath, url.Values{"key": {apiKey}, "secret": {apiSecret}}); a.status != http.StatusSeeOther {
			t.Errorf("a minute later: %d", a.status)
		}
	})
}

// The overall limit holds against many clients at once.
func TestSignInRateLimitOverall(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := newSite(t, st, siteOptions{limit: web.Limit{PerIP: 100, Global: 5}})
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			limited int
		)
		for range 8 {
			wg.Go(func() {
				a := s.browser().post(web.AdminSignInPath, url.Values{"key": {"k"}, "secret": {"s"}})
				if a.status == http.StatusTooManyRequests {
					mu.Lock()
					limited++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if limited != 3 {
			t.Errorf("%d of 8 attempts limited, want 3 (overall limit 5)", limited)
		}
	})
}

// The event stream sends the state at once, then every change made
// elsewhere (the API) within 2 s, and tells PresenceTracker about the page.
func TestEventStream(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		rec := &presenceRecorder{}
		s := newSite(t, st, siteOptions{presence: rec, heartbeat: time.Second})
		alice := s.worker("Alice", aliceAttrs)
		b := s.browser()
		b.signIn("alice")
		e := b.events()
		if e.status != 200 {
			t.Fatalf("events: %d", e.status)
		}
		first := state(t, e.next("state", 5*time.Second, nil))
		if first["activity_name"] != "Offline" || first["number_display"] != "(512) 764-0580" || first["call"] != nil {
			t.Errorf("first state %v", first)
		}
		start := time.Now()
		if status, out := s.apiPost("/v1/Workspaces/"+s.ws.SID+"/Workers/"+alice.SID, url.Values{"ActivitySid": {s.activity("Available")}}); status != 200 {
			t.Fatalf("API update: %d %v", status, out)
		}
		e.next("state", 2*time.Second, func(d string) bool { return state(t, d)["activity_name"] == "Available" })
		t.Logf("an API change reached the stream in %s", time.Since(start))

		// A call for her number rings on the page, then is gone when the
		// caller hangs up, and stays in her recent calls as abandoned.
		res, err := s.eng.CreateTask(s.ctx, engine.TaskInsert{WorkspaceSID: s.ws.SID, WorkflowSID: s.ws.DefaultWorkflowSID,
			Attributes: `{"name":"+12125550100","phone_number":"+15127640580","type":"inbound","direction":"inbound"}`,
			CallSID:    "CA0123456789abcdef0123456789abcdef"})
		if err != nil {
			t.Fatal(err)
		}
		ring := state(t, e.next("state", 2*time.Second, func(d string) bool { return state(t, d)["call"] != nil }))
		call := ring["call"].(map[string]any)
		if call["state"] != "ringing" || call["number_display"] != "(212) 555-0100" || call["to_your_number"] != true ||
			call["text"] != "Ringing: (212) 555-0100 called your number" {
			t.Errorf("ringing %v", call)
		}
		if _, err := s.eng.CancelTask(s.ctx, s.ws.SID, res.Task.SID, "caller hung up"); err != nil {
			t.Fatal(err)
		}
		over := state(t, e.next("state", 2*time.Second, func(d string) bool { return state(t, d)["call"] == nil }))
		recent := over["recent"].([]any)
		if len(recent) != 1 || recent[0].(map[string]any)["outcome"] != "abandoned" {
			t.Errorf("recent %v", recent)
		}

		// A call to the main line comes through Everyone; she answers it,
		// it ends: answered.
		s.clock.Advance(time.Minute)
		res, err = s.eng.CreateTask(s.ctx, engine.TaskInsert{WorkspaceSID: s.ws.SID, WorkflowSID: s.ws.DefaultWorkflowSID,
			Attributes: `{"name":"+13125550111","phone_number":"+15125550000","type":"inbound","direction":"inbound"}`,
			CallSID:    "CA1123456789abcdef0123456789abcdef"})
		if err != nil {
			t.Fatal(err)
		}
		ring = state(t, e.next("state", 2*time.Second, func(d string) bool { return state(t, d)["call"] != nil }))
		if c := ring["call"].(map[string]any); c["text"] != "Ringing: (312) 555-0111 through Everyone" || c["to_your_number"] != false {
			t.Errorf("ringing through Everyone %v", c)
		}
		if _, err := s.eng.AcceptReservation(s.ctx, s.ws.SID, res.Reservation.SID); err != nil {
			t.Fatal(err)
		}
		e.next("state", 2*time.Second, func(d string) bool {
			c, _ := state(t, d)["call"].(map[string]any)
			return c != nil && c["state"] == "on_call" && c["text"] == "On a call with (312) 555-0111 (through Everyone)"
		})
		if _, err := s.eng.CompleteTask(s.ctx, s.ws.SID, res.Task.SID, "hung up"); err != nil {
			t.Fatal(err)
		}
		over = state(t, e.next("state", 2*time.Second, func(d string) bool { return state(t, d)["call"] == nil }))
		recent = over["recent"].([]any)
		if len(recent) != 2 || recent[0].(map[string]any)["outcome"] != "answered" || recent[1].(map[string]any)["outcome"] != "abandoned" {
			t.Errorf("recent, newest first: %v", recent)
		}

		// She calls out: on a call to the number, then answered.
		s.clock.Advance(time.Minute)
		outb, err := s.eng.RecordOutboundCall(s.ctx, engine.OutboundCall{WorkspaceSID: s.ws.SID, WorkerSID: alice.SID,
			CallSID:    "CA2123456789abcdef0123456789abcdef",
			Attributes: `{"type":"outbound","direction":"outbound","from":"+15127640580","to":"+16175551212","worker_sid":"` + alice.SID + `"}`})
		if err != nil {
			t.Fatal(err)
		}
		e.next("state", 2*time.Second, func(d string) bool {
			c, _ := state(t, d)["call"].(map[string]any)
			return c != nil && c["text"] == "On a call to (617) 555-1212"
		})
		if _, err := s.eng.CompleteTask(s.ctx, s.ws.SID, outb.Task.SID, "call completed: completed"); err != nil {
			t.Fatal(err)
		}
		over = state(t, e.next("state", 2*time.Second, func(d string) bool { return state(t, d)["call"] == nil }))
		if c := over["recent"].([]any)[0].(map[string]any); c["direction"] != "outbound" || c["outcome"] != "answered" ||
			c["text"] != "Call to (617) 555-1212: answered" {
			t.Errorf("outbound call in recent calls: %v", c)
		}

		// The heartbeat reaches the tracker; closing the page closes it.
		s.clock.Advance(time.Second)
		rec.wait(t, "heartbeat")
		e.cancel()
		rec.wait(t, "closed")
		if got := rec.calls(); got[0] != "open "+alice.SID {
			t.Errorf("presence calls %v", got)
		}
	})
}

// A change made on another instance (same Postgres) reaches the page
// within 2 s: the push comes from the store's change feed.
func TestEventStreamAcrossInstances(t *testing.T) {
	t.Parallel()
	s := newSite(t, storetest.Postgres(t), siteOptions{})
	alice := s.worker("Alice", aliceAttrs)
	other := s.peer()
	b := s.browser()
	b.signIn("alice")
	e := b.events()
	e.next("state", 5*time.Second, nil)
	if status, out := other.apiPost("/v1/Workspaces/"+s.ws.SID+"/Workers/"+alice.SID, url.Values{"ActivitySid": {s.activity("Available")}}); status != 200 {
		t.Fatalf("update through the other instance: %d %v", status, out)
	}
	e.next("state", 2*time.Second, func(d string) bool { return state(t, d)["activity_name"] == "Available" })
	// The other instance serves the same session (state in the store).
	b.s = other
	if a := b.get(web.AgentPath); !strings.Contains(a.body, `id="agent-name">Alice<`) {
		t.Error("the other instance does not know the session")
	}
}

// A status change didrouter explains (an activity event with a notice,
// as the away timer writes) shows as a notice; one that explains the
// current status also on connect.
func TestNotice(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := newSite(t, st, siteOptions{})
		alice := s.worker("Alice", aliceAttrs)
		b := s.browser()
		b.signIn("alice")
		e := b.events()
		e.next("state", 5*time.Second, nil)
		off := s.activity("Offline")
		explain(t, s, alice, off) // as the away timer writes it: 2 minutes without a page
		n := e.next("notice", 5*time.Second, nil)
		if !strings.Contains(n, "no agent page was open for 2 minutes") {
			t.Errorf("notice %s", n)
		}
		e.cancel()
		// A new page learns why its agent is offline.
		again := b.events()
		again.next("notice", 5*time.Second, func(d string) bool { return strings.Contains(d, "no agent page was open") })
	})
}

// explain records an activity change with a notice, as the presence code
// does, and announces it.
func explain(t *testing.T, s *site, w didrouter.Worker, activitySID string) {
	t.Helper()
	err := s.store.Tx(s.ctx, func(tx didrouter.Tx) error {
		if err := tx.InsertEvent(s.ctx, didrouter.Event{SID: didrouter.NewSID(didrouter.PrefixEvent), WorkspaceSID: s.ws.SID,
			EventType: didrouter.EventWorkerActivityUpdate, ResourceType: "worker", ResourceSID: w.SID, WorkerSID: w.SID,
			Description: "away", Data: `{"worker_activity_sid":"` + activitySID + `","worker_activity_name":"Offline","reason":"away","away_seconds":120}`,
			Date: s.clock.Now()}); err != nil {
			return err
		}
		return tx.Notify(s.ctx, didrouter.Change{Kind: didrouter.ChangeWorker, WorkspaceSID: s.ws.SID, SID: w.SID})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Shutting down ends the open streams at once (the pages reconnect to
// another instance) instead of holding the shutdown.
func TestCloseStreams(t *testing.T) {
	t.Parallel()
	s := newSite(t, storetest.SQLite(t), siteOptions{})
	s.worker("Alice", aliceAttrs)
	b := s.browser()
	b.signIn("alice")
	e := b.events()
	e.next("state", 5*time.Second, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := s.srv.Config.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("shutdown took %s with a stream open", d)
	}
}

type presenceRecorder struct {
	mu  sync.Mutex
	log []string
}

func (p *presenceRecorder) add(s string) {
	p.mu.Lock()
	p.log = append(p.log, s)
	p.mu.Unlock()
}

func (p *presenceRecorder) AgentPageOpen(_ context.Context, _, worker, _ string) error {
	p.add("open " + worker)
	return nil
}
func (p *presenceRecorder) AgentPageHeartbeat(_ context.Context, _, worker, _ string) error {
	p.add("heartbeat " + worker)
	return nil
}
func (p *presenceRecorder) AgentPageClosed(_ context.Context, _, worker, _ string) error {
	p.add("closed " + worker)
	return nil
}
func (p *presenceRecorder) AgentPageHeartbeatEvery() time.Duration { return 0 }

func (p *presenceRecorder) calls() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.log...)
}

func (p *presenceRecorder) wait(t *testing.T, kind string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, c := range p.calls() {
			if strings.HasPrefix(c, kind+" ") {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no %s call to the presence tracker: %v", kind, p.calls())
}
