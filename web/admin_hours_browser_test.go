package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/web"
)

// In a browser, an admin gives a number its own settings from the business
// hours page, is shown the API's message for a bad value, sees the number
// listed, and removes its settings. The page fits a phone's width.
func TestBrowserAdminNumberHours(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := newSite(t, st, siteOptions{})
		ctx := tab(t)
		within(t, ctx, 10*time.Second, "sign in",
			chromedp.Navigate(s.url+web.AdminPath), chromedp.WaitVisible(chromedp.CSS("#secret")),
			chromedp.SetValue(chromedp.CSS("#key"), apiKey), chromedp.SetValue(chromedp.CSS("#secret"), apiSecret))
		clickLoads(t, ctx, "sign in", "#signin")
		within(t, ctx, 10*time.Second, "the hours page", chromedp.Navigate(s.url+web.AdminHours),
			chromedp.WaitVisible(chromedp.CSS("#add-number-hours")))
		clickLoads(t, ctx, "to a number's settings", "#add-number-hours")
		within(t, ctx, 5*time.Second, "fill in a bad delay",
			chromedp.SetValue(chromedp.CSS("#number"), "(512) 764-0580"),
			chromedp.SetValue(chromedp.CSS("#voicemail-after"), "soon"))
		clickLoads(t, ctx, "save", `form[action="/admin/hours/number"] button[type=submit]`)
		if got := text(t, ctx, "#hours-error"); !strings.HasPrefix(got, "VoicemailAfter: ") {
			t.Errorf("error shown %q", got)
		}
		within(t, ctx, 5*time.Second, "fix the delay", chromedp.SetValue(chromedp.CSS("#voicemail-after"), "45s"))
		clickLoads(t, ctx, "save again", `form[action="/admin/hours/number"] button[type=submit]`)
		within(t, ctx, 5*time.Second, "the list", chromedp.WaitVisible(chromedp.CSS("#number-hours")))
		if got := text(t, ctx, "#number-hours tbody tr"); !strings.Contains(got, "(512) 764-0580") || !strings.Contains(got, "45s") {
			t.Errorf("listed %q", got)
		}
		fitsPhone(t, ctx, "the business hours page")
		clickLoads(t, ctx, "remove", `#number-hours form button[type=submit]`)
		waitJS(t, ctx, 5*time.Second, "the number gone", `!document.getElementById("number-hours")`)
		if _, err := st.(didrouter.CallSettingsStore).GetCallSettings(s.ctx, s.ws.SID, "+15127640580"); didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
			t.Errorf("after Remove: %v", err)
		}
	})
}
