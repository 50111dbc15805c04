package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/web"
	"github.com/didrouter/didrouter/web/voicetoken"
)

const (
	voiceAccount = "AC0123456789abcdef0123456789abcdef"
	voiceKey     = "SK0123456789abcdef0123456789abcdef"
	voiceSecret  = "the-api-key-secret-of-the-test"
	voiceApp     = "AP0123456789abcdef0123456789abcdef"
)

// minter is a real token minter on the site's clock; missing names the
// settings to leave out.
func minter(t *testing.T, clock voicetoken.Clock, missing ...string) *voicetoken.Minter {
	t.Helper()
	cfg := voicetoken.Config{AccountSID: voiceAccount, APIKey: voiceKey, APISecret: voiceSecret, AppSID: voiceApp, Clock: clock}
	for _, m := range missing {
		switch m {
		case voicetoken.EnvAPIKey:
			cfg.APIKey = ""
		case voicetoken.EnvAPISecret:
			cfg.APISecret = ""
		case voicetoken.EnvAppSID:
			cfg.AppSID = ""
		}
	}
	m, err := voicetoken.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// phoneSite is a site whose browser phone is set up.
func phoneSite(t *testing.T, st didrouter.Store, o siteOptions) *site {
	t.Helper()
	clock := o.clock
	if clock == nil {
		clock = didrouter.NewFakeClock(time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC))
		o.clock = clock
	}
	o.voice = minter(t, clock)
	return newSite(t, st, o)
}

// token asks for the phone's token as the page does.
func (b *browser) token() (int, map[string]any) {
	b.t.Helper()
	a := b.do(http.MethodPost, web.AgentPhoneToken, url.Values{"csrf": {b.csrf}},
		map[string]string{"Origin": b.s.url, "Accept": "application/json"})
	var out map[string]any
	if err := json.Unmarshal([]byte(a.body), &out); err != nil && a.status != http.StatusUnauthorized && a.status != http.StatusForbidden {
		b.t.Fatalf("token answer %d is not JSON: %s", a.status, a.body)
	}
	return a.status, out
}

// voiceClaims checks a token's signature with the API secret and returns
// its claims.
func voiceClaims(t *testing.T, token string) jwt.MapClaims {
	t.Helper()
	claims := jwt.MapClaims{}
	parsed, err := jwt.ParseWithClaims(token, claims, func(tok *jwt.Token) (any, error) {
		return []byte(voiceSecret), nil
	}, jwt.WithValidMethods([]string{"HS256"}), jwt.WithoutClaimsValidation())
	if err != nil || !parsed.Valid {
		t.Fatalf("token does not verify with the API secret: %v", err)
	}
	if parsed.Header["cty"] != "twilio-fpa;v=1" {
		t.Errorf("token header %v, want Twilio's cty", parsed.Header)
	}
	return claims
}

// A signed-in agent gets a token for their own client identity that may
// receive calls and place calls through the TwiML App, valid for an hour
// of the server's clock; nobody else gets one.
func TestPhoneToken(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := phoneSite(t, st, siteOptions{})
		s.worker("Alice", aliceAttrs)
		s.worker("Bob", `{"phone_number":"(512) 764-0581","contact_uri":"client:bob"}`)

		if a := s.browser().do(http.MethodPost, web.AgentPhoneToken, url.Values{}, map[string]string{"Origin": s.url}); a.status != http.StatusUnauthorized {
			t.Errorf("without a session: %d %s", a.status, a.body)
		}
		b := s.browser()
		b.signIn("alice")
		if a := b.do(http.MethodPost, web.AgentPhoneToken, url.Values{}, map[string]string{"Origin": s.url}); a.status != http.StatusForbidden {
			t.Errorf("without the CSRF token: %d %s", a.status, a.body)
		}
		if a := b.get(web.AgentPhoneToken); a.status != http.StatusMethodNotAllowed {
			t.Errorf("GET: %d, want 405", a.status)
		}
		status, out := b.token()
		if status != http.StatusOK {
			t.Fatalf("token: %d %v", status, out)
		}
		if out["identity"] != "alice" {
			t.Errorf("identity %v", out["identity"])
		}
		now := s.clock.Now()
		if out["expires"] != now.Add(time.Hour).UTC().Format(time.RFC3339) {
			t.Errorf("expires %v, want an hour after %s", out["expires"], now)
		}
		c := voiceClaims(t, out["token"].(string))
		grants, _ := c["grants"].(map[string]any)
		voice, _ := grants["voice"].(map[string]any)
		incoming, _ := voice["incoming"].(map[string]any)
		outgoing, _ := voice["outgoing"].(map[string]any)
		switch {
		case c["iss"] != voiceKey, c["sub"] != voiceAccount:
			t.Errorf("issuer %v, subject %v", c["iss"], c["sub"])
		case grants["identity"] != "alice":
			t.Errorf("identity grant %v", grants["identity"])
		case incoming["allow"] != true:
			t.Errorf("incoming grant %v", voice)
		case outgoing["application_sid"] != voiceApp:
			t.Errorf("outgoing grant %v", voice)
		case c["exp"] != float64(now.Add(time.Hour).Unix()):
			t.Errorf("exp %v, want %d", c["exp"], now.Add(time.Hour).Unix())
		}
		if strings.Contains(out["token"].(string), voiceSecret) {
			t.Error("the token carries the secret")
		}
	})
}

// An agent whose calls ring elsewhere (a phone number, SIP, nothing) gets
// no token, and a message that says why.
func TestPhoneTokenNotABrowserPhone(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := phoneSite(t, st, siteOptions{})
		dave := s.worker("Dave", `{"phone_number":"(512) 764-0583","contact_uri":"client:dave"}`)
		b := s.browser()
		b.signIn("dave")
		if status, out := b.token(); status != http.StatusOK {
			t.Fatalf("dave: %d %v", status, out)
		}
		// An admin sends his calls to his mobile: the browser is no longer his phone.
		for _, attrs := range []string{
			`{"phone_number":"(512) 764-0583","contact_uri":"+15125550199"}`,
			`{"phone_number":"(512) 764-0583"}`,
			`{"phone_number":"(512) 764-0583","contact_uri":"client:da ve"}`,
		} {
			if _, err := s.eng.UpdateWorker(s.ctx, s.ws.SID, dave.SID, engine.WorkerUpdate{Attributes: &attrs}); err != nil {
				t.Fatal(err)
			}
			status, out := b.token()
			msg, _ := out["error"].(string)
			if status != http.StatusConflict || !strings.Contains(msg, "contact_uri") || out["token"] != nil {
				t.Errorf("%s: %d %v", attrs, status, out)
			}
		}
	})
}

// Without the settings the panel names them, the page loads no phone and
// asks Twilio's hosts for nothing, and the token says the same.
func TestPhoneNotSetUp(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		clock := didrouter.NewFakeClock(time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC))
		s := newSite(t, st, siteOptions{clock: clock, voice: minter(t, clock, voicetoken.EnvAPISecret, voicetoken.EnvAppSID)})
		s.worker("Alice", aliceAttrs)
		b := s.browser()
		b.signIn("alice")
		desk := b.get(web.AgentPath)
		if !strings.Contains(desk.body, "your administrator needs to set TWILIO_API_SECRET, DIDROUTER_TWIML_APP_SID") {
			t.Errorf("the panel does not name the missing settings:\n%s", desk.body)
		}
		if strings.Contains(desk.body, "phone.js") || strings.Contains(desk.body, "twilio.min.js") {
			t.Error("the page loads the phone without one set up")
		}
		if csp := desk.header.Get("Content-Security-Policy"); strings.Contains(csp, "twilio.com") {
			t.Errorf("policy without a phone: %s", csp)
		}
		status, out := b.token()
		if status != http.StatusServiceUnavailable || !strings.Contains(out["error"].(string), "TWILIO_API_SECRET") {
			t.Errorf("token: %d %v", status, out)
		}

		// Set up, the page loads the phone and the policy lets it reach Twilio.
		p := phoneSite(t, st, siteOptions{})
		pb := p.browser()
		pb.signIn("alice")
		desk = pb.get(web.AgentPath)
		if !strings.Contains(desk.body, `src="/agent/assets/js/phone.js"`) || !strings.Contains(desk.body, `src="/agent/assets/vendor/twilio.min.js"`) {
			t.Errorf("the page does not load the phone:\n%s", desk.body)
		}
		if csp := desk.header.Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src 'self' wss://*.twilio.com https://*.twilio.com") ||
			!strings.Contains(csp, "media-src 'self' https://sdk.twilio.com") || !strings.Contains(csp, "script-src 'self';") {
			t.Errorf("policy with a phone: %s", csp)
		}
	})
}
