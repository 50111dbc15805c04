package voicetoken_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/web/voicetoken"
)

const (
	accountSID = "AC0123456789abcdef0123456789abcdef"
	apiKey     = "SK0123456789abcdef0123456789abcdef"
	apiSecret  = "s3cr3t-of-the-api-key"
	appSID     = "AP0123456789abcdef0123456789abcdef"
)

var start = time.Date(2026, 5, 6, 7, 8, 9, 500_000_000, time.UTC)

func configured(clock voicetoken.Clock) voicetoken.Config {
	return voicetoken.Config{AccountSID: accountSID, APIKey: apiKey, APISecret: apiSecret, AppSID: appSID, Clock: clock}
}

func newMinter(t *testing.T, cfg voicetoken.Config) *voicetoken.Minter {
	t.Helper()
	m, err := voicetoken.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m
}

// decode splits a JWT, checks its HS256 signature with secret and returns
// its header and claims.
func decode(t *testing.T, token, secret string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d parts, want 3", token, len(parts))
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatalf("signature: %v", err)
	}
	if !hmac.Equal(sig, mac.Sum(nil)) {
		t.Fatal("the signature is not HS256 with the API secret")
	}
	for i, into := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		if err := json.Unmarshal(b, into); err != nil {
			t.Fatalf("part %d %s: %v", i, b, err)
		}
	}
	return header, claims
}

// dig follows keys through nested JSON objects.
func dig(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = obj[k]
	}
	return v
}

// The token is what the Voice SDK needs: Twilio's header, issued by the API
// key for the account, alice's identity, incoming calls allowed, outgoing
// calls through the TwiML App, valid from now for the TTL, signed with the
// API secret.
func TestMintVoiceToken(t *testing.T) {
	clock := didrouter.NewFakeClock(start)
	cfg := configured(clock)
	cfg.TTL = 30 * time.Minute
	m := newMinter(t, cfg)
	if got := m.Missing(); len(got) != 0 {
		t.Fatalf("Missing = %v, want none", got)
	}
	token, expires, err := m.Mint("alice")
	if err != nil {
		t.Fatal(err)
	}
	if want := start.Truncate(time.Second).Add(30 * time.Minute); !expires.Equal(want) {
		t.Errorf("expires %v, want %v", expires, want)
	}
	header, claims := decode(t, token, apiSecret)
	if header["cty"] != "twilio-fpa;v=1" || header["alg"] != "HS256" || header["typ"] != "JWT" {
		t.Errorf("header %v", header)
	}
	for _, c := range []struct {
		path []string
		want any
	}{
		{[]string{"iss"}, apiKey},
		{[]string{"sub"}, accountSID},
		{[]string{"grants", "identity"}, "alice"},
		{[]string{"grants", "voice", "incoming", "allow"}, true},
		{[]string{"grants", "voice", "outgoing", "application_sid"}, appSID},
		{[]string{"nbf"}, float64(start.Unix())},
		{[]string{"exp"}, float64(expires.Unix())},
	} {
		if got := dig(claims, c.path...); got != c.want {
			t.Errorf("%s = %v, want %v", strings.Join(c.path, "."), got, c.want)
		}
	}
	// Any other secret does not verify it (the check above can fail).
	if _, err := decode2(token, "another secret"); err == nil {
		t.Error("the token verifies with another secret")
	}

	// The clock dates the next one.
	clock.Advance(time.Hour)
	token, expires, err = m.Mint("bob")
	if err != nil {
		t.Fatal(err)
	}
	_, claims = decode(t, token, apiSecret)
	if dig(claims, "grants", "identity") != "bob" || dig(claims, "exp") != float64(expires.Unix()) ||
		dig(claims, "nbf") != float64(start.Add(time.Hour).Unix()) {
		t.Errorf("second token claims %v", claims)
	}
}

// decode2 is decode's signature check without failing the test.
func decode2(token, secret string) (bool, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return false, errors.New("not a JWT")
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		return false, errors.New("bad signature")
	}
	return true, nil
}

// The default lifetime is an hour.
func TestMintDefaultTTL(t *testing.T) {
	m := newMinter(t, configured(didrouter.NewFakeClock(start)))
	_, expires, err := m.Mint("alice")
	if err != nil {
		t.Fatal(err)
	}
	if want := start.Truncate(time.Second).Add(time.Hour); !expires.Equal(want) || m.TTL() != time.Hour {
		t.Errorf("expires %v (TTL %v), want %v", expires, m.TTL(), want)
	}
}

// Missing names what is not configured, and Mint refuses until it is.
func TestMissingSettings(t *testing.T) {
	clock := didrouter.NewFakeClock(start)
	m := newMinter(t, voicetoken.Config{AccountSID: accountSID, Clock: clock})
	want := []string{"TWILIO_API_KEY", "TWILIO_API_SECRET", "DIDROUTER_TWIML_APP_SID"}
	if got := m.Missing(); !slices.Equal(got, want) {
		t.Errorf("Missing = %v, want %v", got, want)
	}
	_, _, err := m.Mint("alice")
	if !errors.Is(err, voicetoken.ErrNotConfigured) || !strings.Contains(err.Error(), "TWILIO_API_SECRET") {
		t.Errorf("Mint without settings: %v", err)
	}
	m = newMinter(t, voicetoken.Config{Clock: clock})
	if got := m.Missing(); len(got) != 4 || got[0] != "TWILIO_ACCOUNT_SID" {
		t.Errorf("Missing of nothing configured = %v", got)
	}
	got := m.Missing()
	got[0] = "changed"
	if m.Missing()[0] != "TWILIO_ACCOUNT_SID" {
		t.Error("Missing returns the Minter's own slice")
	}
}

// Malformed settings fail at start-up, each naming its variable.
func TestBadSettings(t *testing.T) {
	clock := didrouter.NewFakeClock(start)
	for _, tc := range []struct {
		set  func(*voicetoken.Config)
		want string
	}{
		{func(c *voicetoken.Config) { c.APIKey = "AK0123456789abcdef0123456789abcdef" }, "TWILIO_API_KEY"},
		{func(c *voicetoken.Config) { c.APIKey = "SK123" }, "TWILIO_API_KEY"},
		{func(c *voicetoken.Config) { c.AppSID = "AP0123456789abcdef0123456789abcdeg" }, "DIDROUTER_TWIML_APP_SID"},
		{func(c *voicetoken.Config) { c.AppSID = "PN0123456789abcdef0123456789abcdef" }, "DIDROUTER_TWIML_APP_SID"},
		{func(c *voicetoken.Config) { c.AccountSID = "AC0123456789abcdef0123456789abcdef0" }, "TWILIO_ACCOUNT_SID"},
		{func(c *voicetoken.Config) { c.TTL = 25 * time.Hour }, "lifetime"},
		{func(c *voicetoken.Config) { c.TTL = time.Second }, "lifetime"},
	} {
		cfg := configured(clock)
		tc.set(&cfg)
		_, err := voicetoken.New(cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one naming %s", cfg, err, tc.want)
		}
	}
	if _, err := voicetoken.New(voicetoken.Config{}); err == nil {
		t.Error("New without a clock succeeded")
	}
	// Without a phone being set up the account SID's shape is not its
	// business (it is only shown in API answers then).
	m, err := voicetoken.New(voicetoken.Config{AccountSID: "ACtest", Clock: clock})
	if err != nil || len(m.Missing()) != 3 {
		t.Errorf("an odd account SID without a phone: %v", err)
	}
}

// Identities Twilio would not route to are refused.
func TestBadIdentity(t *testing.T) {
	m := newMinter(t, configured(didrouter.NewFakeClock(start)))
	for _, id := range []string{"", "alice smith", "alice\n", strings.Repeat("a", 122), "a\x00b"} {
		if _, _, err := m.Mint(id); err == nil {
			t.Errorf("identity %q: a token was minted", id)
		}
	}
	if _, _, err := m.Mint(strings.Repeat("a", 121)); err != nil {
		t.Errorf("a 121-byte identity: %v", err)
	}
}

// FuzzMint: any identity gets a token for exactly that identity or an
// error, never a panic.
func FuzzMint(f *testing.F) {
	for _, s := range []string{"alice", "", "a b", "client:alice", "é", "\xff", strings.Repeat("x", 200)} {
		f.Add(s)
	}
	m, err := voicetoken.New(configured(didrouter.NewFakeClock(start)))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, id string) {
		token, _, err := m.Mint(id)
		if err != nil {
			return
		}
		_, claims := decode(t, token, apiSecret)
		if got := dig(claims, "grants", "identity"); got != id {
			t.Fatalf("identity %q minted as %q", id, got)
		}
	})
}

// FuzzIsSID: only the prefix and 32 hex digits pass.
func FuzzIsSID(f *testing.F) {
	for _, s := range []string{apiKey, appSID, "SK", "SK0123456789abcdef0123456789abcdeZ", "sk0123456789abcdef0123456789abcdef"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !voicetoken.IsSID(s, "SK") {
			return
		}
		if len(s) != 34 || s[:2] != "SK" || strings.Trim(s[2:], "0123456789abcdefABCDEF") != "" {
			t.Fatalf("%q accepted", s)
		}
	})
}
