package web_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/web"
)

// The console sets the workspace's business hours with the API's rules: a
// bad document is refused with its reason and nothing is written; a good
// one is stored, and the page says whether the line is open now.
func TestAdminBusinessHours(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
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
		cs := st.(didrouter.CallSettingsStore)
		if _, err := cs.GetCallSettings(s.ctx, s.ws.SID, ""); didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
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

// The console gives a number its own settings, lists it, edits and removes
// them, with the API's checks and messages; every change needs the
// session's CSRF token.
func TestAdminNumberBusinessHours(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := newSite(t, st, siteOptions{}) // Monday 3 March 2025, 09:00 UTC
		b := s.admin()
		cs := st.(didrouter.CallSettingsStore)
		const number = "+15127640580"
		if page := b.get(web.AdminHoursNumber); page.status != http.StatusOK || !strings.Contains(page.body, `name="number"`) {
			t.Fatalf("new number form: %d %s", page.status, page.body)
		}

		// Refusals say what the API says, and write nothing.
		badHours := `{"time_zone":"UTC","weekly":{"monday":["9-5"]}}`
		for _, tc := range []struct{ name, number, hours, after string }{
			{"no number", "call me", "always", ""},
			{"bad hours", number, badHours, ""},
			{"bad delay", number, "", "soon"},
		} {
			got := b.form(web.AdminHoursNumber, url.Values{"number": {tc.number}, "hours": {tc.hours}, "voicemail_after": {tc.after}})
			status, api := s.apiPost("/v1/Workspaces/"+s.ws.SID+"/CallSettings/"+url.PathEscape(tc.number),
				url.Values{"BusinessHours": {tc.hours}, "VoicemailAfter": {tc.after}})
			msg, _ := api["message"].(string)
			if got.status != http.StatusBadRequest || status != http.StatusBadRequest || msg == "" ||
				!strings.Contains(html.UnescapeString(got.body), msg) {
				t.Fatalf("%s: console %d, API %d %q; page %s", tc.name, got.status, status, msg, got.body)
			}
			if all, err := cs.ListCallSettings(s.ctx, s.ws.SID); err != nil || len(all) != 0 {
				t.Fatalf("%s: a refused form wrote %+v (%v)", tc.name, all, err)
			}
		}

		// Without the CSRF token nothing is written.
		if got := b.post(web.AdminHoursNumber, url.Values{"number": {number}, "hours": {"always"}}); got.status != http.StatusForbidden {
			t.Fatalf("without a CSRF token: %d", got.status)
		}
		ok := b.form(web.AdminHoursNumber, url.Values{"number": {"(512) 764-0580"}, "hours": {"always"}, "voicemail_after": {"off"}})
		if ok.status != http.StatusSeeOther {
			t.Fatalf("save: %d %s", ok.status, ok.body)
		}
		got, err := cs.GetCallSettings(s.ctx, s.ws.SID, number)
		if err != nil || got.Hours != "always" || got.VoicemailAfter != "off" {
			t.Fatalf("stored %+v, %v", got, err)
		}
		page := b.get(web.AdminHours + "?done=number-saved")
		if !strings.Contains(page.body, "(512) 764-0580") || !strings.Contains(page.body, `href="/admin/hours/number?number=%2b15127640580"`) ||
			!strings.Contains(page.body, "own settings are saved") {
			t.Fatalf("hours page lists %s", page.body)
		}

		// Edit: the form is filled in; empty fields inherit the workspace's.
		edit := b.get(web.AdminHoursNumber + "?number=%2B15127640580")
		if edit.status != http.StatusOK || !strings.Contains(edit.body, `value="off"`) || !strings.Contains(edit.body, ">always</textarea>") {
			t.Fatalf("edit form: %d %s", edit.status, edit.body)
		}
		if got := b.form(web.AdminHoursNumber, url.Values{"number": {number}, "hours": {""}, "voicemail_after": {"30s"}}); got.status != http.StatusSeeOther {
			t.Fatalf("edit: %d %s", got.status, got.body)
		}
		if got, err := cs.GetCallSettings(s.ctx, s.ws.SID, number); err != nil || got.Hours != "" || got.VoicemailAfter != "30s" {
			t.Fatalf("edited %+v, %v", got, err)
		}

		// Remove: refused without the token, then done.
		if got := b.post(web.AdminHoursNumberRemove, url.Values{"number": {number}}); got.status != http.StatusForbidden {
			t.Fatalf("remove without a CSRF token: %d", got.status)
		}
		if _, err := cs.GetCallSettings(s.ctx, s.ws.SID, number); err != nil {
			t.Fatalf("removed without a CSRF token: %v", err)
		}
		if got := b.form(web.AdminHoursNumberRemove, url.Values{"number": {number}}); got.status != http.StatusSeeOther {
			t.Fatalf("remove: %d %s", got.status, got.body)
		}
		if _, err := cs.GetCallSettings(s.ctx, s.ws.SID, number); didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
			t.Fatalf("after removing: %v", err)
		}
		if page := b.get(web.AdminHours); strings.Contains(page.body, "(512) 764-0580") {
			t.Fatalf("the removed number is still listed: %s", page.body)
		}
	})
}
