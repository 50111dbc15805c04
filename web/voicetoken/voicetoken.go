// Package voicetoken mints the Twilio Voice access tokens that make an
// agent's browser their phone: the JavaScript Voice SDK registers with one
// as the agent's client identity (incoming calls to client:alice) and
// places outgoing calls through the TwiML App, whose voice URL is
// didrouter's /webhooks/voice/outbound.
//
// A token is signed with an API key's secret, so the key and secret stay on
// the server; the web layer hands a token only to a signed-in agent, for
// that agent's own identity.
package voicetoken

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/twilio/twilio-go/client/jwt"
)

// Environment variables of the settings (named in errors and in Missing).
const (
	EnvAccountSID = "TWILIO_ACCOUNT_SID"
	EnvAPIKey     = "TWILIO_API_KEY"
	EnvAPISecret  = "TWILIO_API_SECRET"
	EnvAppSID     = "DIDROUTER_TWIML_APP_SID"
)

// Token lifetimes. Twilio refuses access tokens valid for more than 24 h.
const (
	DefaultTTL = time.Hour
	MinTTL     = time.Minute
	MaxTTL     = 24 * time.Hour
)

// maxIdentity is Twilio's limit on a client identity's length.
const maxIdentity = 121

// Clock tells the time tokens are dated with (didrouter.Clock satisfies it).
type Clock interface {
	Now() time.Time
}

// Config holds the settings; empty ones are reported by Missing.
type Config struct {
	AccountSID string        // TWILIO_ACCOUNT_SID: AC…
	APIKey     string        // TWILIO_API_KEY: SK…, the key that signs
	APISecret  string        // TWILIO_API_SECRET
	AppSID     string        // DIDROUTER_TWIML_APP_SID: AP…, the TwiML App of outgoing calls
	TTL        time.Duration // how long a token is valid; 0 = DefaultTTL
	Clock      Clock         // required
}

// Minter mints tokens. A Minter with settings missing mints none: the
// phone panel then says which (Missing), and everything else works.
type Minter struct {
	cfg     Config
	missing []string
}

// ErrNotConfigured is Mint's error while settings are missing.
var ErrNotConfigured = errors.New("voicetoken: the browser phone is not configured")

// New checks the settings that are set (each error names its variable) and
// returns a Minter. Missing settings are not an error.
func New(cfg Config) (*Minter, error) {
	if cfg.Clock == nil {
		return nil, errors.New("voicetoken: Config.Clock is required")
	}
	cfg.AccountSID = strings.TrimSpace(cfg.AccountSID)
	cfg.APIKey = strings.TrimSpace(cfg.APIKey)
	cfg.AppSID = strings.TrimSpace(cfg.AppSID)
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	var errs []error
	if cfg.TTL < MinTTL || cfg.TTL > MaxTTL {
		errs = append(errs, fmt.Errorf("voice token lifetime must be between %s and %s, not %s", MinTTL, MaxTTL, cfg.TTL))
	}
	// The account SID is checked only for a phone being set up: it has
	// other uses (shown in API answers) that never needed its shape.
	phone := cfg.APIKey != "" || cfg.APISecret != "" || cfg.AppSID != ""
	for _, s := range []struct {
		env, value, prefix, what string
		check                    bool
	}{
		{EnvAccountSID, cfg.AccountSID, "AC", "an account SID", phone},
		{EnvAPIKey, cfg.APIKey, "SK", "an API key SID", true},
		{EnvAppSID, cfg.AppSID, "AP", "a TwiML App SID", true},
	} {
		if s.check && s.value != "" && !IsSID(s.value, s.prefix) {
			errs = append(errs, fmt.Errorf("%s must be %s: %s followed by 32 hex digits, not %q", s.env, s.what, s.prefix, s.value))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	m := &Minter{cfg: cfg}
	for _, s := range []struct{ env, value string }{
		{EnvAccountSID, cfg.AccountSID}, {EnvAPIKey, cfg.APIKey}, {EnvAPISecret, cfg.APISecret}, {EnvAppSID, cfg.AppSID},
	} {
		if s.value == "" {
			m.missing = append(m.missing, s.env)
		}
	}
	return m, nil
}

// Missing names the settings not configured, in a fixed order; empty when
// the Minter can mint.
func (m *Minter) Missing() []string { return append([]string(nil), m.missing...) }

// TTL is how long the tokens it mints are valid (a page renews its token
// before then).
func (m *Minter) TTL() time.Duration { return m.cfg.TTL }

// Mint returns a token for identity (the agent's client identity, "alice"
// for contact_uri client:alice) that may receive calls and place calls
// through the TwiML App, and when it expires.
func (m *Minter) Mint(identity string) (string, time.Time, error) {
	if len(m.missing) > 0 {
		return "", time.Time{}, fmt.Errorf("%w: set %s", ErrNotConfigured, strings.Join(m.missing, ", "))
	}
	if err := checkIdentity(identity); err != nil {
		return "", time.Time{}, err
	}
	// Dated by the clock: the library's own time would make tests (and
	// a replayed clock) disagree with the expiry this returns.
	now := m.cfg.Clock.Now().Truncate(time.Second)
	expires := now.Add(m.cfg.TTL)
	tok := jwt.CreateAccessToken(jwt.AccessTokenParams{
		AccountSid:    m.cfg.AccountSID,
		SigningKeySid: m.cfg.APIKey,
		Secret:        m.cfg.APISecret,
		Identity:      identity,
		Ttl:           m.cfg.TTL.Seconds(),
		Nbf:           float64(now.Unix()),
		ValidUntil:    float64(expires.Unix()),
	})
	tok.AddGrant(&jwt.VoiceGrant{
		Incoming: jwt.Incoming{Allow: true},
		Outgoing: jwt.Outgoing{ApplicationSid: m.cfg.AppSID},
	})
	s, err := tok.ToJwt()
	if err != nil {
		return "", time.Time{}, fmt.Errorf("voicetoken: sign the token: %w", err)
	}
	return s, expires, nil
}

// checkIdentity refuses identities Twilio would not route to: empty, too
// long, or with spaces or control characters.
func checkIdentity(id string) error {
	if id == "" || len(id) > maxIdentity {
		return fmt.Errorf("voicetoken: a client identity must be 1 to %d bytes long, not %d", maxIdentity, len(id))
	}
	if strings.IndexFunc(id, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || r == unicode.ReplacementChar
	}) >= 0 {
		return fmt.Errorf("voicetoken: client identity %q has spaces or control characters", id)
	}
	return nil
}

// IsSID reports whether s is a Twilio SID with that two-letter prefix:
// the prefix and 32 hex digits.
func IsSID(s, prefix string) bool {
	if len(s) != len(prefix)+32 || !strings.HasPrefix(s, prefix) {
		return false
	}
	for _, r := range s[len(prefix):] {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') && (r < 'A' || r > 'F') {
			return false
		}
	}
	return true
}
