package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/web"
)

// TestBrowserOIDC signs in through a local OpenID provider in headless
// Chromium: /agent/ goes to the provider and back (code exchange with
// PKCE, nonce checked), the agent made just in time shows the claim's DID,
// a changed claim moves it at the next sign-in, the console refuses a
// non-admin and opens for an admin, and a tampered or expired ID token
// signs nobody in.
func TestBrowserOIDC(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s, op, _ := ssoSite(t, st, false)
		text := func(t *testing.T, c context.Context) string {
			t.Helper()
			out, err := chromedp.Run(c, chromedp.Evaluate[string](`document.body.innerText`))
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		hana := map[string]any{"sub": "00u-hana", "email": "hana@example.com", "name": "Hana Ito", "phone_number": "512 764 0580"}
		op.signInAs(hana, "")
		ctx := tab(t)
		within(t, ctx, 15*time.Second, "sign in through the provider", chromedp.Navigate(s.url+web.AgentPath),
			chromedp.WaitVisible(chromedp.CSS("main")))
		waitText(t, ctx, "the desktop with the claim's DID", "(512) 764-0580")
		if u, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname`)); u != web.AgentPath {
			t.Fatalf("ended at %s", u)
		}
		wk := s.workerNamed("hana@example.com")
		if wk.PhoneNumber != "+15127640580" {
			t.Fatalf("worker %+v", wk)
		}
		screenshot(t, ctx, "sso-agent.png")

		// HR moved the number: the next sign-in (a new browser) moves the DID.
		hana["phone_number"] = "+1 (512) 555-0142"
		op.signInAs(hana, "")
		ctx2 := tab(t)
		within(t, ctx2, 15*time.Second, "sign in again", chromedp.Navigate(s.url+web.AgentPath))
		waitText(t, ctx2, "the moved DID", "(512) 555-0142")
		if got := s.getWorker(wk.SID); got.PhoneNumber != "+15125550142" {
			t.Fatalf("DID %q", got.PhoneNumber)
		}

		// The console: Hana is not an admin.
		within(t, ctx2, 15*time.Second, "open the console", chromedp.Navigate(s.url+web.AdminPath))
		waitText(t, ctx2, "the refusal", "not an administrator")
		if page := text(t, ctx2); strings.Contains(page, "Hana") || strings.Contains(page, "555-0142") {
			t.Fatalf("a non-admin sees the console: %s", page)
		}
		op.signInAs(map[string]any{"sub": "00u-root", "email": "root@example.com", "groups": []any{adminGroup}}, "")
		ctx3 := tab(t)
		within(t, ctx3, 15*time.Second, "admin sign-in", chromedp.Navigate(s.url+web.AdminPath))
		waitText(t, ctx3, "the console's board", "Agents")
		if u, _ := chromedp.Run(ctx3, chromedp.Evaluate[string](`location.pathname`)); u != web.AdminPath {
			t.Fatalf("admin ended at %s", u)
		}

		// Spoiled ID tokens.
		for _, mode := range []string{"tamper", "expired"} {
			op.signInAs(map[string]any{"sub": "00u-ivy", "email": "ivy@example.com", "phone_number": "5127640581"}, mode)
			c := tab(t)
			within(t, c, 15*time.Second, mode+" sign-in", chromedp.Navigate(s.url+web.AgentPath))
			waitText(t, c, mode+" refused", "could not be verified")
			if n := s.workersByEmail("ivy@example.com"); n != 0 {
				t.Fatalf("a %s ID token made a worker", mode)
			}
		}
	})
}

// waitText waits for the page to show want, across the navigations of a
// sign-in (the continue page reloads itself, which ends a pending poll).
func waitText(t *testing.T, ctx context.Context, what, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var page string
	for time.Now().Before(deadline) {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		got, err := chromedp.Run(c, chromedp.Evaluate[string](`document.readyState === "complete" ? document.body.innerText : ""`))
		cancel()
		if err == nil {
			page = got
			if strings.Contains(got, want) {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: the page does not show %q:\n%s", what, want, page)
}
