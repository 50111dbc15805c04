package web_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/web"
)

// The browser tests drive Debian's Chromium (headless) against the real
// pages, engine and store. Without /usr/bin/chromium they skip, unless
// DIDROUTER_BROWSER_TESTS=require (scripts/test.sh sets it): then they fail.
const chromiumPath = "/usr/bin/chromium"

// One browser for the package: it takes about a second to start. Each test
// gets a tab in a browser context of its own (its own cookies).
var shared struct {
	once   sync.Once
	ctx    context.Context
	cancel func()
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.cancel != nil {
		shared.cancel()
	}
	os.Exit(code)
}

func startBrowser() {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		// The test machine's network is closed: no start-up connections.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1024, 800),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses its sandbox as root
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	shared.ctx = ctx
	shared.cancel = func() { cancelCtx(); cancelAlloc() }
	// The first Run starts the browser, which lives as long as ctx.
	shared.err = chromedp.Do(ctx)
}

// tab opens a tab in a fresh browser context, closed when the test ends.
func tab(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		msg := fmt.Sprintf("browser tests need Chromium at %s (Debian: apt-get install -y chromium): %v", chromiumPath, err)
		if os.Getenv("DIDROUTER_BROWSER_TESTS") == "require" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	shared.once.Do(startBrowser)
	if shared.err != nil {
		t.Fatalf("start Chromium: %v", shared.err)
	}
	ctx, cancel := chromedp.NewContext(shared.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return ctx
}

// within runs one step with a deadline (derived from the tab's context,
// which must not itself have one).
func within(t *testing.T, ctx context.Context, d time.Duration, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if err := chromedp.Do(c, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// waitJS waits up to d for a JavaScript expression to be true.
func waitJS(t *testing.T, ctx context.Context, d time.Duration, what, expr string) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, d+time.Second)
	defer cancel()
	if _, err := chromedp.Run(c, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(d), chromedp.WithPollingInterval(20*time.Millisecond))); err != nil {
		page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("%s: not within %s (%v)\npage:\n%s", what, d, err, page)
	}
}

// clickLoads clicks sel and waits for the page the click loads.
func clickLoads(t *testing.T, ctx context.Context, what, sel string) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := chromedp.RunResponse(c, chromedp.Click(chromedp.CSS(sel))); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// screenshot saves the page as name under DIDROUTER_SCREENSHOTS, when set
// (how docs/images is made).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("DIDROUTER_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(c, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// pressed is the expression "the button named name is the pressed one".
func pressed(name string) string {
	return fmt.Sprintf(`(() => { const b = [...document.querySelectorAll("#activities button")].find(b => b.textContent === %q);
		return !!b && b.getAttribute("aria-pressed") === "true" &&
			document.querySelectorAll('#activities button[aria-pressed="true"]').length === 1; })()`, name)
}

// An agent opens a sign-in link, sees their number, goes Available (the
// store shows it), sees an API change and a ringing call within 2 s, and
// signs out.
func TestBrowserAgentDesktop(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := newSite(t, st, siteOptions{})
		alice := s.worker("Alice", aliceAttrs)
		ctx := tab(t)

		within(t, ctx, 10*time.Second, "open the sign-in link", chromedp.Navigate(s.link("alice")),
			chromedp.WaitVisible(chromedp.CSS("#signin")))
		if got := text(t, ctx, "#signin"); got != "Sign in as Alice" {
			t.Errorf("button %q", got)
		}
		clickLoads(t, ctx, "sign in", "#signin")
		within(t, ctx, 10*time.Second, "the desktop", chromedp.WaitVisible(chromedp.CSS("#agent-name")))
		if got := text(t, ctx, "#agent-name"); got != "Alice" {
			t.Errorf("name %q", got)
		}
		if got := text(t, ctx, "#my-number"); got != "(512) 764-0580" {
			t.Errorf("my number %q", got)
		}
		waitJS(t, ctx, 5*time.Second, "Offline pressed at first", pressed("Offline"))
		// The live stream is up before anything changes.
		waitJS(t, ctx, 5*time.Second, "the event stream connects", `document.getElementById("connection").textContent === ""`)

		within(t, ctx, 5*time.Second, "press Available",
			chromedp.Click(chromedp.CSS(`#activities button.available`)))
		waitJS(t, ctx, 2*time.Second, "Available pressed", pressed("Available"))
		waitStore(t, s, alice.SID, "Available")

		// An admin's change through the API reaches the page.
		if status, out := s.apiPost("/v1/Workspaces/"+s.ws.SID+"/Workers/"+alice.SID,
			map[string][]string{"ActivitySid": {s.activity("Unavailable")}}); status != 200 {
			t.Fatalf("API update: %d %v", status, out)
		}
		waitJS(t, ctx, 2*time.Second, "the API's change on the page", pressed("Unavailable"))
		if got := text(t, ctx, "#status-name"); got != "Unavailable" {
			t.Errorf("status %q", got)
		}

		// Available again, a call for her number rings on the page.
		within(t, ctx, 5*time.Second, "press Available again", chromedp.Click(chromedp.CSS(`#activities button.available`)))
		waitJS(t, ctx, 2*time.Second, "Available pressed again", pressed("Available"))
		waitStore(t, s, alice.SID, "Available")
		if _, err := s.eng.CreateTask(s.ctx, engine.TaskInsert{WorkspaceSID: s.ws.SID, WorkflowSID: s.ws.DefaultWorkflowSID,
			Attributes: `{"name":"+12125550100","phone_number":"+15127640580","type":"inbound","direction":"inbound"}`,
			CallSID:    "CAfedcba9876543210fedcba9876543210"}); err != nil {
			t.Fatal(err)
		}
		waitJS(t, ctx, 2*time.Second, "the ringing call on the page",
			`document.getElementById("call-state").textContent === "Ringing: (212) 555-0100 called your number"`)
		waitJS(t, ctx, 2*time.Second, "the call in recent calls",
			`document.querySelector("#recent-calls tbody tr td:nth-child(2)").textContent === "From (212) 555-0100 (your number)"`)

		// Sign out: the session is gone.
		clickLoads(t, ctx, "sign out", ".signout button")
		within(t, ctx, 10*time.Second, "signed out", chromedp.WaitVisible(chromedp.CSS("#signed-out")))
		within(t, ctx, 10*time.Second, "reload", chromedp.Navigate(s.url+web.AgentPath), chromedp.WaitVisible(chromedp.CSS("#signed-out")))
		if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#agent-name, #activities").length`)); err != nil || n != 0 {
			t.Errorf("signed out, the page still has agent data (%d, %v)", n, err)
		}
	})
}

// waitStore waits up to 2 s for the stored worker's activity.
func waitStore(t *testing.T, s *site, workerSID, activity string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		w := s.getWorker(workerSID)
		if w.ActivityName == activity {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store has %s, want %s", w.ActivityName, activity)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The page without a session shows no agent data.
func TestBrowserNoSession(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := newSite(t, st, siteOptions{})
		s.worker("Alice", aliceAttrs)
		ctx := tab(t)
		within(t, ctx, 10*time.Second, "open the desktop", chromedp.Navigate(s.url+web.AgentPath),
			chromedp.WaitVisible(chromedp.CSS("#signed-out")))
		body, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
		if err != nil {
			t.Fatal(err)
		}
		for _, leak := range []string{"Alice", "764-0580", "Available", "data-csrf"} {
			if strings.Contains(body, leak) {
				t.Errorf("the page without a session has %q", leak)
			}
		}
	})
}

// An admin with a wrong secret gets a message and no console; too many
// attempts get the rate limit's page; the right secret opens the console.
func TestBrowserAdminSignIn(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := newSite(t, st, siteOptions{limit: web.Limit{PerIP: 3}})
		ctx := tab(t)
		within(t, ctx, 10*time.Second, "open the console", chromedp.Navigate(s.url+web.AdminPath),
			chromedp.WaitVisible(chromedp.CSS("#secret")))
		signIn := func(secret string) {
			within(t, ctx, 10*time.Second, "fill in "+secret,
				chromedp.SetValue(chromedp.CSS("#key"), apiKey),
				chromedp.SetValue(chromedp.CSS("#secret"), secret))
			clickLoads(t, ctx, "sign in with "+secret, "#signin")
		}
		signIn("wrong")
		waitJS(t, ctx, 5*time.Second, "the wrong-secret message", `!!document.getElementById("signin-error")`)
		if got := text(t, ctx, "#signin-error"); got != "The key or the secret is wrong." {
			t.Errorf("message %q", got)
		}
		if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#admin-title, .signout").length`)); n != 0 {
			t.Error("a wrong secret shows the console")
		}
		signIn("wrong again")
		signIn("still wrong")
		// The fourth attempt in a minute: limited, even with the right secret.
		signIn(apiSecret)
		waitJS(t, ctx, 5*time.Second, "the rate limit's page", `document.querySelector("main h1").textContent === "Too many sign-in attempts"`)
		s.clock.Advance(time.Minute)
		within(t, ctx, 10*time.Second, "back to the form", chromedp.Navigate(s.url+web.AdminSignInPath),
			chromedp.WaitVisible(chromedp.CSS("#secret")))
		signIn(apiSecret)
		waitJS(t, ctx, 5*time.Second, "the console", `!!document.getElementById("admin-title")`)
	})
}
