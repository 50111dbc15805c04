package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/agenttoken"
	"github.com/didrouter/didrouter/provision"
	"github.com/didrouter/didrouter/web"
)

const adminGroup = "didrouter-admins"

// ssoSite is a site with OIDC sign-in against a test provider.
func ssoSite(t *testing.T, st didrouter.Store, passwordLogin bool) (*site, *testOP, *provision.Provisioner) {
	// Each sign-in is one attempt for the limiter; the tests make many.
	s := newSite(t, st, siteOptions{limit: web.Limit{PerIP: 1000, Global: 1000}})
	op := newTestOP(t, s.clock)
	p, err := provision.New(s.eng, s.store, revoker(t, s))
	if err != nil {
		t.Fatal(err)
	}
	err = s.pages.EnableOIDC(web.OIDCConfig{Issuer: op.issuer(), ClientID: opClientID, ClientSecret: opSecret,
		Scopes: []string{"openid", "email", "profile", "phone"}, AgentClaim: "email", PhoneClaim: "phone_number",
		GroupsClaim: "groups", AdminGroup: adminGroup, PasswordLogin: passwordLogin, Provisioner: p, WorkspaceSID: s.ws.SID})
	if err != nil {
		t.Fatal(err)
	}
	return s, op, p
}

// revoker signs agents out as the server's agenttoken.Agents does.
func revoker(t *testing.T, s *site) *agenttoken.Agents {
	a, err := agenttoken.NewAgents(s.signer, s.eng, s.store.(didrouter.WebStore), s.clock)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// follow opens path and follows redirects through the provider and the
// continue page, as a browser does; it returns the last answer.
func (b *browser) follow(path string) answer {
	b.t.Helper()
	target := path
	for range 10 {
		a := b.get(target)
		switch {
		case a.status == http.StatusFound || a.status == http.StatusSeeOther || a.status == http.StatusMovedPermanently:
			loc, err := url.Parse(a.header.Get("Location"))
			if err != nil {
				b.t.Fatal(err)
			}
			base, _ := url.Parse(target)
			if !base.IsAbs() {
				base, _ = url.Parse(b.s.url + target)
			}
			target = base.ResolveReference(loc).String()
		case a.status == http.StatusOK && strings.Contains(a.body, `http-equiv="refresh"`):
			i := strings.Index(a.body, "url=")
			j := strings.Index(a.body[i:], `"`)
			target = a.body[i+4 : i+j]
		default:
			return a
		}
	}
	b.t.Fatal("too many redirects")
	return answer{}
}

func (s *site) workersByEmail(email string) int {
	s.t.Helper()
	n := 0
	err := s.store.EachWorker(s.ctx, s.ws.SID, func(w didrouter.Worker) error {
		if provision.Email(w) == email {
			n++
		}
		return nil
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return n
}

// TestOIDCSignIn runs the whole sign-in over HTTP on both stores: the
// redirect carries PKCE, state and nonce; the first sign-in makes the
// worker with the claim's DID; a changed claim moves it; a number someone
// else owns is a clear page with nothing made; the console wants the admin
// group; spoiled ID tokens and a replayed callback are refused.
func TestOIDCSignIn(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s, op, p := ssoSite(t, st, false)
		dana := map[string]any{"sub": "00u-dana", "email": "dana@example.com", "email_verified": true, "name": "Dana Diaz",
			"phone_number": "(512) 764-0580", "groups": []any{"spanish"}}
		op.signInAs(dana, "")
		b := s.browser()
		first := b.get(web.AgentPath)
		if first.status != http.StatusFound || !strings.HasPrefix(first.header.Get("Location"), op.issuer()+"/authorize?") {
			t.Fatalf("/agent/ without a session: %d %s", first.status, first.header.Get("Location"))
		}
		a := b.follow(web.AgentPath)
		if a.status != 200 || !strings.Contains(a.body, "(512) 764-0580") {
			t.Fatalf("desktop after sign-in: %d %s", a.status, a.body)
		}
		q := op.lastAuth
		if q.Get("redirect_uri") != s.url+web.OIDCCallbackPath || q.Get("code_challenge_method") != "S256" {
			t.Fatalf("authorization request %v", q)
		}
		wk := s.workerNamed("dana@example.com")
		if wk.PhoneNumber != "+15127640580" || provision.Groups(wk)[0] != "spanish" {
			t.Fatalf("just-in-time worker %+v", wk)
		}
		// HR changes the number: the next sign-in moves the DID.
		dana["phone_number"] = "+1 512 555 0100"
		op.signInAs(dana, "")
		b2 := s.browser()
		a = b2.follow(web.AgentPath)
		if a.status != 200 || !strings.Contains(a.body, "(512) 555-0100") {
			t.Fatalf("after the number change: %d %s", a.status, a.body)
		}
		if got := s.getWorker(wk.SID); got.PhoneNumber != "+15125550100" {
			t.Fatalf("DID %q", got.PhoneNumber)
		}
		// Deactivated (SCIM): signed out of the open desktop at once, and
		// the next sign-in is refused; reactivated, she signs in again.
		off, on := false, true
		if _, err := p.Apply(s.ctx, s.ws.SID, wk.SID, provision.Person{Active: &off}); err != nil {
			t.Fatal(err)
		}
		if a = b2.get(web.AgentPath); a.status != http.StatusFound {
			t.Fatalf("a deactivated agent's desktop: %d", a.status)
		}
		if a = b2.follow(web.AgentPath); a.status != http.StatusForbidden || !strings.Contains(a.body, "deactivated") {
			t.Fatalf("a deactivated agent's sign-in: %d %s", a.status, a.body)
		}
		if _, err := p.Apply(s.ctx, s.ws.SID, wk.SID, provision.Person{Active: &on}); err != nil {
			t.Fatal(err)
		}
		s.clock.Advance(2 * time.Second) // past the revocation's second
		if a = b2.follow(web.AgentPath); a.status != 200 || !strings.Contains(a.body, "(512) 555-0100") {
			t.Fatalf("reactivated: %d %s", a.status, a.body)
		}
		// Another person claiming Dana's number: a clear page, no worker.
		op.signInAs(map[string]any{"sub": "00u-eve", "email": "eve@example.com", "phone_number": "512-555-0100"}, "")
		a = s.browser().follow(web.AgentPath)
		if a.status != http.StatusConflict || !strings.Contains(a.body, "belongs to another agent") {
			t.Fatalf("conflicting number: %d %s", a.status, a.body)
		}
		if n := s.workersByEmail("eve@example.com"); n != 0 {
			t.Fatalf("a half-made worker: %d", n)
		}
		// Spoiled ID tokens are refused and sign nobody in.
		for _, mode := range []string{"tamper", "expired", "nonce"} {
			op.signInAs(map[string]any{"sub": "00u-fay", "email": "fay@example.com", "phone_number": "5127640599"}, mode)
			bf := s.browser()
			a = bf.follow(web.AgentPath)
			if a.status != http.StatusForbidden || !strings.Contains(a.body, "could not be verified") {
				t.Fatalf("%s ID token: %d %s", mode, a.status, a.body)
			}
			if n := s.workersByEmail("fay@example.com"); n != 0 {
				t.Fatalf("%s ID token made a worker", mode)
			}
			if again := bf.get(web.AgentPath); again.status != http.StatusFound {
				t.Fatalf("%s ID token left a session: %d", mode, again.status)
			}
		}
		// A callback replayed (state and cookie used) is refused.
		op.signInAs(dana, "")
		br := s.browser()
		start := br.get(web.AgentPath)
		auth := br.get(start.header.Get("Location"))
		cb := auth.header.Get("Location")
		if a = br.get(cb); a.status != 200 {
			t.Fatalf("callback: %d %s", a.status, a.body)
		}
		if a = br.get(cb); a.status != http.StatusBadRequest {
			t.Fatalf("replayed callback: %d %s", a.status, a.body)
		}
		// A callback with another browser's state is refused.
		if a = s.browser().get(cb); a.status != http.StatusBadRequest {
			t.Fatalf("callback in another browser: %d", a.status)
		}

		// The console: a non-admin is refused, an admin gets it.
		op.signInAs(dana, "")
		bn := s.browser()
		a = bn.follow(web.AdminPath)
		if a.status != http.StatusForbidden || !strings.Contains(a.body, "not an administrator") {
			t.Fatalf("non-admin: %d %s", a.status, a.body)
		}
		if a = bn.get(web.AdminAgents); a.status == 200 {
			t.Fatal("a non-admin reached the console")
		}
		boss := map[string]any{"sub": "00u-boss", "email": "boss@example.com", "groups": []any{adminGroup}}
		op.signInAs(boss, "")
		ba := s.browser()
		a = ba.follow(web.AdminPath)
		if a.status != 200 || !strings.Contains(a.body, `id="board"`) {
			t.Fatalf("admin: %d %s", a.status, a.body)
		}
		// The password form is off.
		a = s.browser().post(web.AdminSignInPath, url.Values{"key": {apiKey}, "secret": {apiSecret}})
		if a.status != http.StatusForbidden {
			t.Fatalf("password sign-in with the form off: %d", a.status)
		}
	})
}

// With DIDROUTER_ADMIN_PASSWORD_LOGIN on, the key and secret form stays at
// ?password=1, and a deactivated agent cannot sign in.
func TestOIDCPasswordFormAndDeactivated(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s, op, p := ssoSite(t, st, true)
		b := s.browser()
		if a := b.get(web.AdminSignInPath + "?password=1"); a.status != 200 || !strings.Contains(a.body, `id="secret"`) {
			t.Fatalf("password form: %d", a.status)
		}
		a := b.post(web.AdminSignInPath, url.Values{"key": {apiKey}, "secret": {apiSecret}})
		if a.status != http.StatusSeeOther {
			t.Fatalf("password sign-in: %d %s", a.status, a.body)
		}
		// Provisioned first (as SCIM does), then signing in: one worker.
		did := "5127640577"
		kim, err := p.Create(s.ctx, s.ws.SID, provision.Person{Email: "kim@example.com", Name: "Kim@Example.com", Phone: &did})
		if err != nil {
			t.Fatal(err)
		}
		op.signInAs(map[string]any{"sub": "00u-kim", "email": "KIM@example.com"}, "")
		if a := s.browser().follow(web.AgentPath); a.status != 200 || !strings.Contains(a.body, "(512) 764-0577") {
			t.Fatalf("provisioned agent's sign-in: %d %s", a.status, a.body)
		}
		if n := s.workersByEmail("kim@example.com"); n != 1 {
			t.Fatalf("%d workers for one person", n)
		}
		if got := s.getWorker(kim.SID); got.PhoneNumber != "+15127640577" {
			t.Fatalf("a sign-in without the phone claim changed the DID: %q", got.PhoneNumber)
		}
		off := false
		if _, err := p.Create(s.ctx, s.ws.SID, provision.Person{Email: "gus@example.com", Active: &off}); err != nil {
			t.Fatal(err)
		}
		op.signInAs(map[string]any{"sub": "00u-gus", "email": "gus@example.com"}, "")
		a = s.browser().follow(web.AgentPath)
		if a.status != http.StatusForbidden || !strings.Contains(a.body, "deactivated") {
			t.Fatalf("deactivated agent: %d %s", a.status, a.body)
		}
	})
}
