package main

import (
	"bufio"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/didrouter/didrouter/web"
)

const serveAgentSecret = "serve-test-agent-secret-0123456789abc"

// The whole server serves the agent desktop: a sign-in link from
// `dids token --link`, the page, and its event stream through every
// middleware (which must let it flush and outlive the server's
// WriteTimeout).
func TestServeAgentDesktop(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"DIDROUTER_INSECURE_SKIP_SIGNATURE": "true",
		"DIDROUTER_API_KEY":                 "key",
		"DIDROUTER_API_SECRET":              "secret",
		"DIDROUTER_AGENT_TOKEN_SECRET":      serveAgentSecret,
		"DIDROUTER_DATA":                    filepath.Join(t.TempDir(), "didrouter.db"),
		// The browser phone.
		"TWILIO_ACCOUNT_SID":      "AC0123456789abcdef0123456789abcdef",
		"TWILIO_API_KEY":          "SK0123456789abcdef0123456789abcdef",
		"TWILIO_API_SECRET":       "serve-test-api-key-secret",
		"DIDROUTER_TWIML_APP_SID": "AP0123456789abcdef0123456789abcdef",
	}
	cfg, err := parseConfig("serve", []string{"-addr", "127.0.0.1:0"}, envOf(env), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	base, logs := runServer(t, cfg)
	waitReady(t, base)
	if !strings.Contains(logs.String(), `"agent_sign_in_links":true`) || !strings.Contains(logs.String(), `"browser_phone":true`) {
		t.Errorf("start-up log does not say sign-in links and the phone are on:\n%s", logs)
	}
	env["DIDROUTER_URL"], env["DIDROUTER_PUBLIC_URL"] = base, base
	dids := didsCommand{getenv: envOf(env), now: time.Now}
	var out, errOut strings.Builder
	if code := dids.run(t.Context(), []string{"import", "-"}, strings.NewReader("name,did,contact\nAlice,(512) 764-0580,client:alice\n"), &out, &errOut); code != 0 {
		t.Fatalf("import: %s", errOut.String())
	}
	out.Reset()
	if code := dids.run(t.Context(), []string{"token", "--link", "alice"}, nil, &out, &errOut); code != 0 {
		t.Fatalf("token --link: %s", errOut.String())
	}
	link := strings.TrimSpace(out.String())
	if !strings.HasPrefix(link, base+web.SignInPath+"?t=drl1.") {
		t.Fatalf("link %q", link)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	u, _ := url.Parse(link)
	resp, err := c.PostForm(base+web.SignInPath, url.Values{"t": {u.Query().Get("t")}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "(512) 764-0580") {
		t.Fatalf("desktop after sign-in: %s %s", resp.Status, page)
	}
	// The phone is wired: the page loads it, the policy lets it reach
	// Twilio, and the token is minted for alice.
	if !strings.Contains(string(page), web.AgentAssets+"js/phone.js") ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "wss://*.twilio.com") {
		t.Errorf("the desktop has no phone: %s\n%s", resp.Header.Get("Content-Security-Policy"), page)
	}
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatal("no CSRF token on the desktop")
	}
	resp, err = c.PostForm(base+web.AgentPhoneToken, url.Values{"csrf": {string(m[1])}})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(tok), `"identity":"alice"`) {
		t.Errorf("phone token: %s %s", resp.Status, tok)
	}
	c.Timeout = 0
	resp, err = c.Get(base + web.AgentEvents)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, "data: {") {
				got <- line
				return
			}
		}
		close(got)
	}()
	select {
	case line, ok := <-got:
		if !ok || !strings.Contains(line, `"name":"Alice"`) {
			t.Fatalf("first event %q (stream open: %v)\n%s", line, ok, logs)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event from the stream: it was not flushed through the server's middlewares")
	}
}

func TestConfigAgentTokens(t *testing.T) {
	t.Parallel()
	parse := func(extra map[string]string) (config, error) {
		env := map[string]string{"TWILIO_AUTH_TOKEN": "tok", "DIDROUTER_PUBLIC_URL": "https://calls.example.com",
			"DIDROUTER_API_KEY": "key", "DIDROUTER_API_SECRET": longAPISecret}
		for k, v := range extra {
			env[k] = v
		}
		return parseConfig("serve", nil, envOf(env), io.Discard)
	}
	c, err := parse(nil)
	if err != nil || c.AgentTokenSecret != "" || c.AgentTokenMaxTTL != 7*24*time.Hour || c.SessionTTL != 12*time.Hour {
		t.Errorf("defaults: %+v %v", c, err)
	}
	c, err = parse(map[string]string{"DIDROUTER_AGENT_TOKEN_SECRET": serveAgentSecret, "DIDROUTER_AGENT_TOKEN_MAX_TTL": "24h",
		"DIDROUTER_SESSION_TTL": "8h"})
	if err != nil || c.AgentTokenSecret != serveAgentSecret || c.AgentTokenMaxTTL != 24*time.Hour || c.SessionTTL != 8*time.Hour {
		t.Errorf("set: %+v %v", c, err)
	}
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"short secret":     {map[string]string{"DIDROUTER_AGENT_TOKEN_SECRET": "short"}, "at least 32 characters"},
		"the admin secret": {map[string]string{"DIDROUTER_AGENT_TOKEN_SECRET": longAPISecret}, "must differ from DIDROUTER_API_SECRET"},
		"max ttl":          {map[string]string{"DIDROUTER_AGENT_TOKEN_MAX_TTL": "forever"}, "DIDROUTER_AGENT_TOKEN_MAX_TTL"},
		"negative max ttl": {map[string]string{"DIDROUTER_AGENT_TOKEN_MAX_TTL": "-1h"}, "DIDROUTER_AGENT_TOKEN_MAX_TTL"},
		"session ttl":      {map[string]string{"DIDROUTER_SESSION_TTL": "a shift"}, "DIDROUTER_SESSION_TTL"},
		"session ttl 1 s":  {map[string]string{"DIDROUTER_SESSION_TTL": "1s"}, "DIDROUTER_SESSION_TTL"},
	} {
		if _, err := parse(tc.env); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, tc.want)
		}
	}
}

// longAPISecret is an admin secret long enough to be an agent token secret
// too, so that the test can check the two must differ.
const longAPISecret = "0123456789abcdefghijklmnopqrstuv"
