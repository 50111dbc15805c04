package web_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/web"
)

// The console sets the workspace's business hours with the API's rules: a
// bad document is refused with its reason and nothing is written; a good
// one is stored, and the page says whether the line is open now.
func TestAdminBusinessHours(t *testing.T) {
	stores(t, func(t *testing.T, st engine.Store) {
		s := newSite(t, st, siteOptions{}) // Monday 3 March 2025, 09:00 UTC
		b := s.admin()
		page := b.get(web.AdminHours)
		if page.status != http.StatusOK || !strings.Contains(page.body, "<strong>open</strong>") {
			t.Fatalf("hours page: %d %s", page.status, page.body)
		}
		bad := b.form(web.AdminHours, url.Values{"hours": {`{"time_zone":"UTC","weekly":{"monday":["9-5"]}}`}})
		if bad.status != http.StatusBadRequest || !strings.Contains(html.UnescapeString(bad.body), `"9" is not a time of day`) {
			t.Fatalf("bad hours: %d %s", bad.status, bad.body)
		}
		cs := st.(engine.CallSettingsStore)
		if _, err := cs.GetCallSettings(s.ctx, s.ws.SID, ""); engine.ErrorCode(err) != engine.ENOTFOUND {
			t.Fatalf("a refused form wrote settings: %v", err)
		}
		doc := `{"time_zone":"Europe/London","weekly":{"monday":["10:00-18:00"]}}`
		ok := b.form(web.AdminHours, url.Values{"hours": {doc}, "voicemail_after": {"2m"}})
		if ok.status != http.StatusSeeOther {
			t.Fatalf("save hours: %d %s", ok.status, ok.body)
		}
		got, err := cs.GetCallSettings(s.ctx, s.ws.SID, "")
		if err != nil || got.Hours != doc || got.VoicemailAfter != "2m" {
			t.Fatalf("stored %+v, %v", got, err)
		}
		if page := b.get(web.AdminHours + "?done=saved"); !strings.Contains(page.body, "<strong>closed</strong>") ||
			!strings.Contains(page.body, "Business hours saved.") {
			t.Fatalf("hours page after saving: %s", page.body)
		}
		// Without an admin session the page sends the browser to sign in.
		if got := s.browser().get(web.AdminHours); got.status != http.StatusSeeOther {
			t.Fatalf("without an admin session: %d", got.status)
		}
	})
}
