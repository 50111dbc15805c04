package web_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/web"
)

// count is the expression reading one of the board's figures.
func count(key string) string {
	return fmt.Sprintf(`(document.querySelector('[data-count=%q]') || {}).textContent`, key)
}

// An admin with a wrong secret gets a message and no data; with the right
// one sees the board's figures equal the API's, sees a change made through
// the API reach the board within 2 s, previews a CSV import (nothing is
// written until Apply) and applies it. The console fits a phone's width.
// With DIDROUTER_SCREENSHOTS set, the board and the agents' page are saved
// there (docs/images).
func TestBrowserAdminConsole(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := newSite(t, st, siteOptions{})
		alice := s.worker("Alice Adams", `{"phone_number":"`+aliceDID+`","contact_uri":"client:alice","email":"alice@example.com"}`)
		bob := s.worker("Bob Brown", `{"phone_number":"`+bobDID+`","contact_uri":"client:bob"}`)
		carol := s.worker("Carol Chen", `{"phone_number":"`+daveDID+`","contact_uri":"client:carol"}`)
		setActivity(t, s, alice, "Available")
		setActivity(t, s, carol, "Unavailable")
		res := s.call("CA01", "+12125550100", aliceDID)
		s.clock.Advance(4 * time.Second)
		s.answer(res)
		res = s.call("CA02", "+12125550101", bobDID) // Bob is offline: through Everyone
		s.clock.Advance(8 * time.Second)
		s.answer(res)
		setActivity(t, s, alice, "Offline")
		res = s.call("CA03", "+12125550102", aliceDID)
		s.clock.Advance(20 * time.Second)
		if _, err := s.eng.CancelTask(s.ctx, s.ws.SID, res.Task.SID, "hangup"); err != nil {
			t.Fatal(err)
		}
		s.call("CA04", "+12125550103", daveDID) // waits: nobody is available
		s.clock.Advance(45 * time.Second)

		ctx := tab(t)
		within(t, ctx, 10*time.Second, "open the console", chromedp.Navigate(s.url+web.AdminPath),
			chromedp.WaitVisible(chromedp.CSS("#secret")))
		signIn := func(secret string) {
			within(t, ctx, 10*time.Second, "fill in the form",
				chromedp.SetValue(chromedp.CSS("#key"), apiKey), chromedp.SetValue(chromedp.CSS("#secret"), secret))
			clickLoads(t, ctx, "sign in", "#signin")
		}
		signIn("not the secret")
		waitJS(t, ctx, 5*time.Second, "the wrong-secret message", `!!document.getElementById("signin-error")`)
		page, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
		if err != nil {
			t.Fatal(err)
		}
		for _, leak := range []string{"Alice", "764-0580", "data-count", "admin-title", "data-csrf"} {
			if strings.Contains(page, leak) {
				t.Errorf("a wrong secret shows %q", leak)
			}
		}
		signIn(apiSecret)
		within(t, ctx, 10*time.Second, "the board", chromedp.WaitVisible(chromedp.CSS("#board")))
		waitJS(t, ctx, 5*time.Second, "the live stream", `document.getElementById("live").textContent === "Live."`)

		// The board's figures are the API's.
		rt := s.apiGet("/v1/Workspaces/" + s.ws.SID + "/RealTimeStatistics")
		since, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("[data-since]").dataset.since`))
		if err != nil {
			t.Fatal(err)
		}
		cu := s.apiGet("/v1/Workspaces/" + s.ws.SID + "/CumulativeStatistics?StartDate=" + url.QueryEscape(since))
		byStatus := rt["tasks_by_status"].(map[string]any)
		want := map[string]string{
			"workers":   num(rt["total_workers"]),
			"waiting":   num(byStatus["pending"].(float64) + byStatus["reserved"].(float64)),
			"longest":   num(rt["longest_task_waiting_age"]) + " s",
			"abandoned": num(cu["tasks_canceled"]),
			"avg_wait":  num(cu["avg_task_acceptance_time"]) + " s",
		}
		for _, a := range rt["activity_statistics"].([]any) {
			m := a.(map[string]any)
			want["activity:"+m["friendly_name"].(string)] = num(m["workers"])
		}
		for key, w := range want {
			got, err := chromedp.Run(ctx, chromedp.Evaluate[string](count(key)))
			if err != nil || got != w {
				t.Errorf("board %s = %q, API %q (%v)", key, got, w, err)
			}
		}
		owner, _ := chromedp.Run(ctx, chromedp.Evaluate[string](count("owner")))
		fallback, _ := chromedp.Run(ctx, chromedp.Evaluate[string](count("fallback")))
		if owner != "1" || fallback != "1" || num(cu["reservations_accepted"]) != "2" {
			t.Errorf("answered: owner %s, through Everyone %s, API accepted %s; want 1, 1, 2", owner, fallback, num(cu["reservations_accepted"]))
		}
		if want["waiting"] != "1" || want["abandoned"] != "1" || want["longest"] != "45 s" || want["avg_wait"] != "6 s" {
			t.Errorf("the scenario's figures: %v", want)
		}

		// A change through the API reaches the board within 2 s: Bob goes
		// Available.
		if status, out := s.apiPost("/v1/Workspaces/"+s.ws.SID+"/Workers/"+bob.SID,
			url.Values{"ActivitySid": {s.activity("Available")}}); status != 200 {
			t.Fatalf("API update: %d %v", status, out)
		}
		waitJS(t, ctx, 2*time.Second, "Bob's change on the board", count("activity:Available")+` === "1"`)
		waitJS(t, ctx, 2*time.Second, "Offline counted down", count("activity:Offline")+` === "1"`)
		// Bob is then offered the waiting call: a second change within the
		// second, sent once the second has passed.
		s.clock.Advance(time.Second)
		waitJS(t, ctx, 2*time.Second, "Bob ringing on the board", count("ringing")+` === "1"`)
		fitsPhone(t, ctx, "the board")
		screenshot(t, ctx, "admin-board.png")

		// Import a CSV file: the preview first, nothing written until Apply.
		file := filepath.Join(t.TempDir(), "team.csv")
		csv := "friendly_name,email,phone_number,contact_uri\n" +
			"Dan Diaz,dan@example.com,(512) 764-0583,client:dan\n" +
			"Erin Evans,erin@example.com,512.764.0584,client:erin\n" +
			"Carol Chen,carol@example.com,(512) 764-0585,client:carol\n"
		if err := os.WriteFile(file, []byte(csv), 0o600); err != nil {
			t.Fatal(err)
		}
		clickLoads(t, ctx, "to the agents", `.admin-nav a[href="/admin/agents"]`)
		clickLoads(t, ctx, "to the import", "#import")
		within(t, ctx, 5*time.Second, "choose the file", chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{file}))
		clickLoads(t, ctx, "preview", "#preview-button")
		within(t, ctx, 5*time.Second, "the preview", chromedp.WaitVisible(chromedp.CSS("#preview")))
		if got := text(t, ctx, "#preview-summary"); !strings.HasPrefix(got, "Preview: 2 to create, 1 to update, 0 unchanged.") {
			t.Errorf("summary %q", got)
		}
		rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#preview tbody tr")].map(r => r.innerText.replace(/\s+/g, " ").trim())`))
		if err != nil || len(rows) != 3 || !strings.HasPrefix(rows[0], "2 created Dan Diaz (512) 764-0583") ||
			!strings.HasPrefix(rows[2], "4 updated Carol Chen (512) 764-0582 → (512) 764-0585") {
			t.Errorf("preview rows %q (%v)", rows, err)
		}
		if s.workerNamed("Dan Diaz").SID != "" || s.getWorker(carol.SID).PhoneNumber != daveDID {
			t.Fatal("the preview wrote")
		}
		clickLoads(t, ctx, "apply", "#apply")
		within(t, ctx, 5*time.Second, "the import's result", chromedp.WaitVisible(chromedp.CSS("#import-done")))
		if got := text(t, ctx, "#import-done"); got != "Imported: 2 created, 1 updated, 0 unchanged." {
			t.Errorf("result %q", got)
		}
		if dan := s.workerNamed("Dan Diaz"); dan.PhoneNumber != "+15127640583" {
			t.Errorf("Dan after apply: %+v", dan)
		}
		if s.workerNamed("Erin Evans").SID == "" || s.getWorker(carol.SID).PhoneNumber != "+15127640585" {
			t.Error("the import did not write everything")
		}

		clickLoads(t, ctx, "to the agents", `.admin-nav a[href="/admin/agents"]`)
		within(t, ctx, 5*time.Second, "the agents", chromedp.WaitVisible(chromedp.CSS("#agents")))
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#agents tbody tr[data-worker]").length`))
		if err != nil || n != 5 {
			t.Errorf("the list has %d agents (%v), want 5", n, err)
		}
		fitsPhone(t, ctx, "the agents' page")
		screenshot(t, ctx, "admin-agents.png")
	})
}

// fitsPhone checks that the page needs no sideways scrolling at a phone's
// width (wide tables scroll inside their own box), then restores the size.
func fitsPhone(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	within(t, ctx, 5*time.Second, "phone width", chromedp.EmulateViewport(390, 844))
	defer within(t, ctx, 5*time.Second, "desktop width", chromedp.EmulateViewport(1024, 800))
	waitJS(t, ctx, 2*time.Second, what+" at a phone's width",
		`document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1`)
}
