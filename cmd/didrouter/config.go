package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/agenttoken"
	"github.com/didrouter/didrouter/api"
	"github.com/didrouter/didrouter/api/callback"
	"github.com/didrouter/didrouter/dialpolicy"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/routing"
	"github.com/didrouter/didrouter/web"
	"github.com/didrouter/didrouter/web/voicetoken"
)

// config is the server's configuration: flags override environment
// variables, which override defaults. Secrets come from the environment
// only, so they do not show in the process list.
type config struct {
	Addr        string        // DIDROUTER_ADDR
	DatabaseURL string        // DATABASE_URL: postgres://…; "" = SQLite at DataPath
	DataPath    string        // DIDROUTER_DATA
	AccountSID  string        // TWILIO_ACCOUNT_SID
	AuthToken   string        // TWILIO_AUTH_TOKEN
	SkipSig     bool          // DIDROUTER_INSECURE_SKIP_SIGNATURE
	PublicURL   string        // DIDROUTER_PUBLIC_URL
	Region      string        // DIDROUTER_DEFAULT_REGION
	APIKey      string        // DIDROUTER_API_KEY
	APISecret   string        // DIDROUTER_API_SECRET
	WrapUp      time.Duration // DIDROUTER_WRAPUP
	// ReofferAfter: cool-down before a waiting call rings again the agents
	// who missed it; negative = never ("off").
	ReofferAfter time.Duration // DIDROUTER_REOFFER_AFTER
	LogLevel     slog.Level    // DIDROUTER_LOG_LEVEL
	LogFormat    string        // DIDROUTER_LOG_FORMAT: json or text
	InstanceID   string        // DIDROUTER_INSTANCE_ID
	Shutdown     time.Duration // DIDROUTER_SHUTDOWN_TIMEOUT
	DrainDelay   time.Duration // DIDROUTER_DRAIN_DELAY
	Journal      string        // DIDROUTER_JOURNAL: degraded-mode journal file; "off" = no degraded mode
	StoreWait    time.Duration // DIDROUTER_STORE_WAIT: how long a call waits for an unreachable database

	// CallerID is the caller ID (E.164) of outbound calls by agents
	// without a DID: the main line. "" = they cannot call out.
	CallerID string // DIDROUTER_DEFAULT_CALLER_ID

	// Which numbers agents may call out to (package dialpolicy).
	OutboundCountries []string // DIDROUTER_OUTBOUND_COUNTRIES: nil = the default region only; ["*"] = any
	OutboundPremium   bool     // DIDROUTER_OUTBOUND_PREMIUM=allow: premium-rate and shared-cost numbers too
	EmergencyCalls    bool     // DIDROUTER_EMERGENCY_CALLS=on: emergency numbers are dialed

	// When nobody can answer (docs/voicemail.md).
	VoicemailAfter     time.Duration // DIDROUTER_VOICEMAIL_AFTER: 0 = voicemail off
	VoicemailMaxLength time.Duration // DIDROUTER_VOICEMAIL_MAX_LENGTH
	Transcribe         bool          // DIDROUTER_VOICEMAIL_TRANSCRIBE=on

	// CallbackSigning chooses how callbacks are signed. "key" signs with
	// CallbackKey in X-Didrouter-Signature, and sends unsigned while the key
	// is unset. "twilio" signs with AuthToken in X-Twilio-Signature.
	CallbackSigning string   // DIDROUTER_CALLBACK_SIGNING
	CallbackKey     string   // DIDROUTER_CALLBACK_SIGNING_KEY (environment only: a secret)
	CallbackHosts   []string // DIDROUTER_CALLBACK_HOSTS: allow-list; empty = any host but didrouter itself

	// AllowedOrigins are web origins besides the public URL's whose pages
	// may send state-changing admin API requests (canonical form).
	AllowedOrigins []string // DIDROUTER_ALLOWED_ORIGINS
	// Warnings are configuration problems tolerated in local-trial mode,
	// for the server to log once it has a logger.
	Warnings []string

	// AgentAway: how long an agent's last desktop page may be gone before
	// the agent is moved to Offline; 0 = never ("off").
	AgentAway time.Duration // DIDROUTER_AGENT_AWAY

	// MissedCallsUnavailable: missed or declined calls in a row that move
	// an agent to Unavailable; 0 = never ("off").
	MissedCallsUnavailable int // DIDROUTER_MISSED_CALLS_UNAVAILABLE

	// The browser phone's Voice access tokens (web/voicetoken); empty ones
	// are named on the phone panel.
	VoiceAPIKey    string // TWILIO_API_KEY
	VoiceAPISecret string // TWILIO_API_SECRET
	TwiMLAppSID    string // DIDROUTER_TWIML_APP_SID
	// AgentTokenSecret signs agent tokens and sign-in links; "" = both off.
	AgentTokenSecret string        // DIDROUTER_AGENT_TOKEN_SECRET
	AgentTokenMaxTTL time.Duration // DIDROUTER_AGENT_TOKEN_MAX_TTL
	SessionTTL       time.Duration // DIDROUTER_SESSION_TTL: how long a web sign-in lasts

	// Single sign-on and provisioning (docs/sso.md).
	SCIMToken          string // DIDROUTER_SCIM_TOKEN: Bearer token of /scim/v2; "" = SCIM off
	OIDC               oidcConfig
	AdminPasswordLogin bool // DIDROUTER_ADMIN_PASSWORD_LOGIN: the console's key and secret form (on unless off)

	// For profiling and benchmarks only.
	PprofAddr  string // DIDROUTER_PPROF_ADDR: loopback host:port serving Go's profiles; "" = off
	BenchFloor bool   // DIDROUTER_BENCH_FLOOR=true: serve the constant-TwiML route /webhooks/voice/floor
}

// oidcConfig is OpenID Connect sign-in; Issuer "" = off.
type oidcConfig struct {
	Issuer       string   // DIDROUTER_OIDC_ISSUER
	ClientID     string   // DIDROUTER_OIDC_CLIENT_ID
	ClientSecret string   // DIDROUTER_OIDC_CLIENT_SECRET (environment only)
	Scopes       []string // DIDROUTER_OIDC_SCOPES
	AgentClaim   string   // DIDROUTER_OIDC_AGENT_CLAIM: the claim holding the agent's email
	PhoneClaim   string   // DIDROUTER_OIDC_PHONE_CLAIM: the claim holding the agent's DID ("off" = none)
	GroupsClaim  string   // DIDROUTER_OIDC_GROUPS_CLAIM
	AdminGroup   string   // DIDROUTER_OIDC_ADMIN_GROUP: members get the admin console
}

// Defaults.
const (
	defaultAddr     = ":8080"
	defaultDataPath = "./didrouter.db"
	defaultRegion   = "US"
	defaultShutdown = 20 * time.Second
	// minCallbackKey is the shortest DIDROUTER_CALLBACK_SIGNING_KEY: 32
	// characters, what `openssl rand -hex 16` prints at the least.
	minCallbackKey = 32
)

// usesPostgres reports whether the store is Postgres (else SQLite).
func (c config) usesPostgres() bool { return c.DatabaseURL != "" }

// apiEnabled reports whether the admin API is served.
func (c config) apiEnabled() bool { return c.APIKey != "" }

// startConfig reads the configuration of command name from args and the
// environment, and makes its logger. When ok is false the command ends at
// once with exit code code: 0 after -h, 2 after a configuration error,
// which it has printed.
func startConfig(name string, args []string, stderr io.Writer) (cfg config, logger *slog.Logger, code int, ok bool) {
	cfg, err := parseConfig(name, args, os.Getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return config{}, nil, 0, false
	}
	if err != nil {
		fmt.Fprintf(stderr, "didrouter %s: %v\n", name, err)
		return config{}, nil, 2, false
	}
	return cfg, newLogger(cfg, stderr), 0, true
}

// parseConfig reads the configuration of command name ("serve" or
// "migrate"; migrate needs only the store and logging). getenv is
// os.Getenv outside tests. Every error names the variable or flag at fault.
func parseConfig(name string, args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	env := func(k, def string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", env("DIDROUTER_ADDR", defaultAddr), "listen address (DIDROUTER_ADDR)")
	dbURL := fs.String("database-url", env("DATABASE_URL", ""), "Postgres URL; empty = embedded SQLite (DATABASE_URL)")
	data := fs.String("data", env("DIDROUTER_DATA", defaultDataPath), "SQLite database file when DATABASE_URL is empty (DIDROUTER_DATA)")
	public := fs.String("public-url", env("DIDROUTER_PUBLIC_URL", ""), "base URL Twilio calls, e.g. https://calls.example.com (DIDROUTER_PUBLIC_URL)")
	region := fs.String("region", env("DIDROUTER_DEFAULT_REGION", defaultRegion), "region of national phone numbers (DIDROUTER_DEFAULT_REGION)")
	wrapUp := fs.String("wrapup", env("DIDROUTER_WRAPUP", "0"), "wrap-up time after a call, e.g. 30s (DIDROUTER_WRAPUP)")
	agentAway := fs.String("agent-away", env("DIDROUTER_AGENT_AWAY", engine.DefaultAgentAway.String()), "how long an agent's last desktop page may be gone before the agent is moved to Offline; off = never (DIDROUTER_AGENT_AWAY)")
	missedCalls := fs.String("missed-calls-unavailable", env("DIDROUTER_MISSED_CALLS_UNAVAILABLE", strconv.Itoa(engine.DefaultMissedCallsUnavailable)), "missed or declined calls in a row that move an agent to Unavailable; off = never (DIDROUTER_MISSED_CALLS_UNAVAILABLE)")
	reoffer := fs.String("reoffer-after", env("DIDROUTER_REOFFER_AFTER", "60s"), "how long a waiting call is kept from the agents who missed it before it rings them again; off = never (DIDROUTER_REOFFER_AFTER)")
	level := fs.String("log-level", env("DIDROUTER_LOG_LEVEL", "info"), "debug, info, warn or error (DIDROUTER_LOG_LEVEL)")
	format := fs.String("log-format", env("DIDROUTER_LOG_FORMAT", "json"), "json or text (DIDROUTER_LOG_FORMAT)")
	instance := fs.String("instance-id", env("DIDROUTER_INSTANCE_ID", ""), "name of this instance in logs; default the host name (DIDROUTER_INSTANCE_ID)")
	callerID := fs.String("default-caller-id", env("DIDROUTER_DEFAULT_CALLER_ID", ""), "caller ID of outbound calls by agents without a DID, e.g. the main line (DIDROUTER_DEFAULT_CALLER_ID)")
	shutdown := fs.String("shutdown-timeout", env("DIDROUTER_SHUTDOWN_TIMEOUT", defaultShutdown.String()), "how long to finish in-flight requests on SIGTERM (DIDROUTER_SHUTDOWN_TIMEOUT)")
	storeWait := fs.String("store-wait", env("DIDROUTER_STORE_WAIT", "6s"), "how long a webhook waits for an unreachable database before degraded mode answers (DIDROUTER_STORE_WAIT)")
	journal := fs.String("journal", env("DIDROUTER_JOURNAL", ""), "degraded-mode journal file (Postgres only; default ./didrouter-journal-<instance>.jsonl; off = no degraded mode) (DIDROUTER_JOURNAL)")
	callbackSigning := fs.String("callback-signing", env("DIDROUTER_CALLBACK_SIGNING", "key"), "how callbacks are signed: key (DIDROUTER_CALLBACK_SIGNING_KEY) or twilio (TWILIO_AUTH_TOKEN) (DIDROUTER_CALLBACK_SIGNING)")
	callbackHosts := fs.String("callback-hosts", env("DIDROUTER_CALLBACK_HOSTS", ""), "hosts callbacks may go to, e.g. hooks.example.com,*.corp.example; empty = any but didrouter itself (DIDROUTER_CALLBACK_HOSTS)")
	drainDelay := fs.String("drain-delay", env("DIDROUTER_DRAIN_DELAY", "0"), "on SIGTERM, how long /readyz fails while requests are still answered, before the listener closes (DIDROUTER_DRAIN_DELAY)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("%s: unexpected arguments %q", name, fs.Args())
	}
	c := config{
		Addr:        *addr,
		DatabaseURL: *dbURL,
		DataPath:    *data,
		AccountSID:  env("TWILIO_ACCOUNT_SID", ""),
		AuthToken:   env("TWILIO_AUTH_TOKEN", ""),
		PublicURL:   strings.TrimRight(*public, "/"),
		Region:      strings.ToUpper(*region),
		APIKey:      env("DIDROUTER_API_KEY", ""),
		APISecret:   env("DIDROUTER_API_SECRET", ""),
		LogFormat:   strings.ToLower(*format),
		InstanceID:  *instance,
		Journal:     strings.TrimSpace(*journal),

		VoiceAPIKey:    env(voicetoken.EnvAPIKey, ""),
		VoiceAPISecret: env(voicetoken.EnvAPISecret, ""),
		TwiMLAppSID:    env(voicetoken.EnvAppSID, ""),
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		bad("DATABASE_URL must be a postgres:// URL (or empty for the embedded SQLite database)")
	}
	if c.DatabaseURL == "" && strings.TrimSpace(c.DataPath) == "" {
		bad("DIDROUTER_DATA must name the SQLite database file when DATABASE_URL is empty")
	}
	if err := c.LogLevel.UnmarshalText([]byte(*level)); err != nil {
		bad("DIDROUTER_LOG_LEVEL must be debug, info, warn or error, not %q", *level)
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		bad("DIDROUTER_LOG_FORMAT must be json or text, not %q", *format)
	}
	if name == "serve" {
		if _, _, err := net.SplitHostPort(c.Addr); err != nil {
			bad("DIDROUTER_ADDR must be host:port or :port, not %q", c.Addr)
		}
		if d, err := parseSeconds(*wrapUp); err != nil || d < 0 {
			bad("DIDROUTER_WRAPUP must be a duration such as 30s (or a number of seconds), not %q", *wrapUp)
		} else {
			c.WrapUp = d
		}
		if d, err := parseSeconds(*reoffer); strings.EqualFold(*reoffer, "off") {
			c.ReofferAfter = -1
		} else if err != nil || d <= 0 {
			bad("DIDROUTER_REOFFER_AFTER must be a positive duration such as 60s, or off, not %q", *reoffer)
		} else {
			c.ReofferAfter = d
		}
		if d, err := parseSeconds(*agentAway); strings.EqualFold(*agentAway, "off") {
			c.AgentAway = 0
		} else if err != nil || d <= 0 || d > 24*time.Hour {
			bad("DIDROUTER_AGENT_AWAY must be a positive duration up to 24h such as 2m, or off, not %q", *agentAway)
		} else {
			c.AgentAway = d
		}
		if n, err := strconv.Atoi(*missedCalls); strings.EqualFold(*missedCalls, "off") {
			c.MissedCallsUnavailable = 0
		} else if err != nil || n < 1 || n > 100 {
			bad("DIDROUTER_MISSED_CALLS_UNAVAILABLE must be a whole number from 1 to 100 such as 3, or off, not %q", *missedCalls)
		} else {
			c.MissedCallsUnavailable = n
		}
		// Only the shapes: missing settings leave the phone panel saying so.
		if _, err := c.voiceMinter(didrouter.SystemClock{}); err != nil {
			errs = append(errs, err)
		}
		if d, err := parseSeconds(*shutdown); err != nil || d <= 0 {
			bad("DIDROUTER_SHUTDOWN_TIMEOUT must be a positive duration such as 20s, not %q", *shutdown)
		} else {
			c.Shutdown = d
		}
		if d, err := parseSeconds(*storeWait); err != nil || d <= 0 || d > 9*time.Second {
			bad("DIDROUTER_STORE_WAIT must be a duration up to 9s (webhooks are bounded at 10 s, and the fallback needs the rest), not %q", *storeWait)
		} else {
			c.StoreWait = d
		}
		if d, err := parseSeconds(*drainDelay); err != nil || d < 0 {
			bad("DIDROUTER_DRAIN_DELAY must be a duration such as 5s (0 = none), not %q", *drainDelay)
		} else {
			c.DrainDelay = d
		}
		if _, err := routing.NewNormalizer(c.Region); len(c.Region) != 2 || err != nil {
			// Checked here rather than when serve builds the engine, after
			// the store has been migrated.
			bad("DIDROUTER_DEFAULT_REGION must be a two-letter region code such as US, not %q", *region)
		}
		if s := env("DIDROUTER_INSECURE_SKIP_SIGNATURE", "false"); s != "" {
			b, err := strconv.ParseBool(s)
			if err != nil {
				bad("DIDROUTER_INSECURE_SKIP_SIGNATURE must be true or false, not %q", s)
			}
			c.SkipSig = b
		}
		switch {
		case c.AuthToken == "" && !c.SkipSig:
			bad("TWILIO_AUTH_TOKEN is required to check Twilio's webhook signatures (DIDROUTER_INSECURE_SKIP_SIGNATURE=true turns the check off for local trials)")
		case c.PublicURL == "" && !c.SkipSig:
			bad("DIDROUTER_PUBLIC_URL is required with TWILIO_AUTH_TOKEN: it is the base URL Twilio calls (e.g. https://calls.example.com), used to check signatures")
		case c.PublicURL == "":
			// Local trial without signatures: Twilio is not calling, so the
			// action URLs only need to reach this machine.
			c.PublicURL = "http://" + localAddr(c.Addr)
		}
		if c.PublicURL != "" {
			if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
				bad("DIDROUTER_PUBLIC_URL must be an absolute http(s) URL without query, such as https://calls.example.com, not %q", c.PublicURL)
			}
		}
		if *callerID != "" && len(c.Region) == 2 {
			if e164, err := normalizeCallerID(*callerID, c.Region); err != nil {
				bad("DIDROUTER_DEFAULT_CALLER_ID must be a phone number such as +15127640580, not %q", *callerID)
			} else {
				c.CallerID = e164
			}
		}
		if countries, err := dialpolicy.ParseCountries(env("DIDROUTER_OUTBOUND_COUNTRIES", "")); err != nil {
			bad("DIDROUTER_OUTBOUND_COUNTRIES must be comma-separated ISO region codes such as US,CA, or * for any country: %v", err)
		} else {
			c.OutboundCountries = countries
		}
		// choice reads a variable that is one of two words; true for yes.
		choice := func(name, no, yes string) bool {
			switch s := strings.ToLower(env(name, no)); s {
			case no, yes:
				return s == yes
			default:
				bad("%s must be %s or %s, not %q", name, no, yes, s)
				return false
			}
		}
		c.OutboundPremium = choice("DIDROUTER_OUTBOUND_PREMIUM", "refuse", "allow")
		c.EmergencyCalls = choice("DIDROUTER_EMERGENCY_CALLS", "off", "on")
		if d, err := engine.ParseVoicemailAfter(env("DIDROUTER_VOICEMAIL_AFTER", "90s")); err != nil {
			bad("DIDROUTER_VOICEMAIL_AFTER must be a duration between 1s and 24h such as 90s, or off, not %q", env("DIDROUTER_VOICEMAIL_AFTER", ""))
		} else {
			c.VoicemailAfter = d
		}
		if d, err := time.ParseDuration(env("DIDROUTER_VOICEMAIL_MAX_LENGTH", "2m")); err != nil || d < time.Second || d > time.Hour {
			bad("DIDROUTER_VOICEMAIL_MAX_LENGTH must be a duration between 1s and 1h such as 2m, not %q", env("DIDROUTER_VOICEMAIL_MAX_LENGTH", ""))
		} else {
			c.VoicemailMaxLength = d
		}
		c.Transcribe = choice("DIDROUTER_VOICEMAIL_TRANSCRIBE", "off", "on")
		c.CallbackSigning, c.CallbackKey = strings.ToLower(*callbackSigning), env("DIDROUTER_CALLBACK_SIGNING_KEY", "")
		switch c.CallbackSigning {
		case "key":
			if c.CallbackKey != "" && len(c.CallbackKey) < minCallbackKey {
				bad("DIDROUTER_CALLBACK_SIGNING_KEY must be at least %d characters (e.g. the output of `openssl rand -hex 32`)", minCallbackKey)
			} else if c.CallbackKey != "" && c.CallbackKey == c.AuthToken {
				bad("DIDROUTER_CALLBACK_SIGNING_KEY must not be TWILIO_AUTH_TOKEN: the key exists so that callbacks are not signed with the token")
			}
		case "twilio":
			if c.AuthToken == "" {
				bad("DIDROUTER_CALLBACK_SIGNING=twilio signs callbacks with TWILIO_AUTH_TOKEN, which is not set")
			}
		default:
			bad("DIDROUTER_CALLBACK_SIGNING must be key or twilio, not %q", *callbackSigning)
		}
		if hosts, err := callback.ParseHosts(*callbackHosts); err != nil {
			bad("DIDROUTER_CALLBACK_HOSTS: %v", err)
		} else {
			c.CallbackHosts = hosts
		}
		if (c.APIKey == "") != (c.APISecret == "") {
			bad("DIDROUTER_API_KEY and DIDROUTER_API_SECRET must be set together (or both left empty to turn the admin API off)")
		}
		c.checkSecret("DIDROUTER_API_SECRET", c.APISecret, "anyone who guesses it administers didrouter", bad)
		for _, o := range strings.Split(env("DIDROUTER_ALLOWED_ORIGINS", ""), ",") {
			if o = strings.TrimSpace(o); o == "" {
				continue
			}
			if canon, err := api.ParseOrigin(o); err != nil {
				bad("DIDROUTER_ALLOWED_ORIGINS must be comma-separated origins such as https://admin.example.com (scheme, host, optional port; no path): %v", err)
			} else {
				c.AllowedOrigins = append(c.AllowedOrigins, canon)
			}
		}
		c.AgentTokenSecret = env("DIDROUTER_AGENT_TOKEN_SECRET", "")
		if n := len(c.AgentTokenSecret); n > 0 && n < agenttoken.MinSecretLen {
			bad("DIDROUTER_AGENT_TOKEN_SECRET must be at least %d characters (%d given); make one with `openssl rand -hex 32`", agenttoken.MinSecretLen, n)
		}
		if c.AgentTokenSecret != "" && c.AgentTokenSecret == c.APISecret {
			bad("DIDROUTER_AGENT_TOKEN_SECRET must differ from DIDROUTER_API_SECRET: whoever mints agent tokens must not hold the admin secret")
		}
		if d, err := parseTokenMaxTTL(env("DIDROUTER_AGENT_TOKEN_MAX_TTL", "")); err != nil {
			bad("%v", err)
		} else {
			c.AgentTokenMaxTTL = d
		}
		c.parseSSO(env, bad)
		c.parseProfiling(env, bad)
		sessionTTL := env("DIDROUTER_SESSION_TTL", web.DefaultSessionTTL.String())
		if d, err := parseSeconds(sessionTTL); err != nil || d < time.Minute {
			bad("DIDROUTER_SESSION_TTL must be a duration of at least a minute such as 12h, not %q", sessionTTL)
		} else {
			c.SessionTTL = d
		}
	}
	if len(errs) > 0 {
		return config{}, errors.Join(errs...)
	}
	return c, nil
}

// checkSecret refuses a weak secret set in the variable name. risk says
// what a guess gives away. A local trial, with signature checking off as in
// the README's quick start, only warns.
func (c *config) checkSecret(name, secret, risk string, bad func(format string, args ...any)) {
	why := weakSecret(secret)
	if secret == "" || why == "" {
		return
	}
	msg := name + " is too weak (" + why + "): " + risk + "; " +
		"use at least " + strconv.Itoa(minSecretLength) + " random letters and digits, e.g. from `openssl rand -hex 24`"
	if c.SkipSig {
		c.Warnings = append(c.Warnings, msg)
	} else {
		bad("%s", msg)
	}
}

// parseSSO reads the OpenID Connect and SCIM settings.
func (c *config) parseSSO(env func(k, def string) string, bad func(format string, args ...any)) {
	c.SCIMToken = env("DIDROUTER_SCIM_TOKEN", "")
	c.checkSecret("DIDROUTER_SCIM_TOKEN", c.SCIMToken, "whoever guesses it creates and deletes agents", bad)
	if c.SCIMToken != "" && (c.SCIMToken == c.APISecret || c.SCIMToken == c.AgentTokenSecret) {
		bad("DIDROUTER_SCIM_TOKEN must differ from DIDROUTER_API_SECRET and DIDROUTER_AGENT_TOKEN_SECRET: the identity provider holds it")
	}
	o := oidcConfig{
		Issuer: strings.TrimRight(env("DIDROUTER_OIDC_ISSUER", ""), "/"), ClientID: env("DIDROUTER_OIDC_CLIENT_ID", ""),
		ClientSecret: env("DIDROUTER_OIDC_CLIENT_SECRET", ""),
		AgentClaim:   env("DIDROUTER_OIDC_AGENT_CLAIM", "email"), PhoneClaim: env("DIDROUTER_OIDC_PHONE_CLAIM", "phone_number"),
		GroupsClaim: env("DIDROUTER_OIDC_GROUPS_CLAIM", "groups"), AdminGroup: env("DIDROUTER_OIDC_ADMIN_GROUP", ""),
	}
	for _, sc := range strings.FieldsFunc(env("DIDROUTER_OIDC_SCOPES", "openid email profile"), func(r rune) bool { return r == ' ' || r == ',' }) {
		o.Scopes = append(o.Scopes, sc)
	}
	if strings.EqualFold(o.PhoneClaim, "off") {
		o.PhoneClaim = ""
	}
	if o.Issuer != "" {
		u, err := url.Parse(o.Issuer)
		loopback := err == nil && u.Scheme == "http" && (u.Hostname() == "127.0.0.1" || u.Hostname() == "localhost" || u.Hostname() == "::1")
		if err != nil || u.Host == "" || (u.Scheme != "https" && !loopback) {
			bad("DIDROUTER_OIDC_ISSUER must be the identity provider's https:// issuer URL (e.g. https://example.okta.com), not %q", o.Issuer)
		}
		if o.ClientID == "" {
			bad("DIDROUTER_OIDC_CLIENT_ID is required with DIDROUTER_OIDC_ISSUER: the id of the application registered at the identity provider")
		}
		if !slices.Contains(o.Scopes, "openid") {
			bad("DIDROUTER_OIDC_SCOPES must include openid, not %q", strings.Join(o.Scopes, " "))
		}
	} else if o.ClientID != "" || o.ClientSecret != "" || o.AdminGroup != "" {
		bad("DIDROUTER_OIDC_CLIENT_ID, _CLIENT_SECRET and _ADMIN_GROUP need DIDROUTER_OIDC_ISSUER")
	}
	c.OIDC = o
	switch s := strings.ToLower(env("DIDROUTER_ADMIN_PASSWORD_LOGIN", "on")); s {
	case "on", "off":
		c.AdminPasswordLogin = s == "on"
		if s == "off" && (o.Issuer == "" || o.AdminGroup == "") {
			bad("DIDROUTER_ADMIN_PASSWORD_LOGIN=off needs DIDROUTER_OIDC_ISSUER and DIDROUTER_OIDC_ADMIN_GROUP: otherwise nobody could sign in to the console")
		}
	default:
		bad("DIDROUTER_ADMIN_PASSWORD_LOGIN must be on or off, not %q", s)
	}
}

// parseProfiling reads the settings that profiling and benchmarks use.
func (c *config) parseProfiling(env func(k, def string) string, bad func(format string, args ...any)) {
	c.PprofAddr = env("DIDROUTER_PPROF_ADDR", "")
	if c.PprofAddr != "" {
		// Profiles reveal the process's internals, so they stay on loopback.
		host, _, err := net.SplitHostPort(c.PprofAddr)
		if ip := net.ParseIP(host); err != nil || host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			bad("DIDROUTER_PPROF_ADDR must be a loopback host:port such as 127.0.0.1:6060, not %q", c.PprofAddr)
		}
	}
	s := env("DIDROUTER_BENCH_FLOOR", "false")
	if b, err := strconv.ParseBool(s); err != nil {
		bad("DIDROUTER_BENCH_FLOOR must be true or false, not %q", s)
	} else {
		c.BenchFloor = b
	}
}

// minSecretLength is the shortest DIDROUTER_API_SECRET serve accepts.
const minSecretLength = 16

// weakSecret says why an admin secret is too easy to guess, or returns ""
// when it is not. A secret is weak when it is too short, has too few
// different characters, or repeats a shorter string as "changemechangeme"
// does. It cannot measure randomness, but it stops the obvious
// placeholders.
func weakSecret(s string) string {
	if len(s) < minSecretLength {
		return fmt.Sprintf("shorter than %d characters", minSecretLength)
	}
	distinct := map[rune]bool{}
	for _, r := range s {
		distinct[r] = true
	}
	if len(distinct) < 6 {
		return fmt.Sprintf("only %d different characters", len(distinct))
	}
	for n := 1; n <= len(s)/2; n++ {
		if len(s)%n == 0 && strings.Repeat(s[:n], len(s)/n) == s {
			return "one shorter string repeated"
		}
	}
	return ""
}

// voiceMinter mints the browser phone's Voice access tokens (web/voicetoken).
func (c config) voiceMinter(clock voicetoken.Clock) (*voicetoken.Minter, error) {
	return voicetoken.New(voicetoken.Config{AccountSID: c.AccountSID, APIKey: c.VoiceAPIKey,
		APISecret: c.VoiceAPISecret, AppSID: c.TwiMLAppSID, Clock: clock})
}

// parseSeconds reads a Go duration ("30s", "1m") or a plain number of seconds.
func parseSeconds(s string) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(s)
}

// localAddr turns a listen address into one a local client can call.
func localAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// newLogger builds the process logger.
func newLogger(c config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// recordings fetches voicemail recordings for the agent desktop with the
// account's API key when there is one, else its auth token; nil without
// TWILIO_ACCOUNT_SID (playback is then off and says so).
func (c config) recordings() *web.RecordingSource {
	if c.AccountSID == "" {
		return nil
	}
	user, pass := c.AccountSID, c.AuthToken
	if c.VoiceAPIKey != "" && c.VoiceAPISecret != "" {
		user, pass = c.VoiceAPIKey, c.VoiceAPISecret
	}
	if pass == "" {
		return nil
	}
	return &web.RecordingSource{AccountSID: c.AccountSID, Username: user, Password: pass}
}
