package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/didrouter/didrouter/agenttoken"
	"github.com/didrouter/didrouter/web"
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

	// AgentTokenSecret signs agent tokens and sign-in links; "" = both off.
	AgentTokenSecret string        // DIDROUTER_AGENT_TOKEN_SECRET
	AgentTokenMaxTTL time.Duration // DIDROUTER_AGENT_TOKEN_MAX_TTL
	SessionTTL       time.Duration // DIDROUTER_SESSION_TTL: how long a web sign-in lasts
}

// Defaults.
const (
	defaultAddr     = ":8080"
	defaultDataPath = "./didrouter.db"
	defaultRegion   = "US"
	defaultShutdown = 20 * time.Second
)

// usesPostgres reports whether the store is Postgres (else SQLite).
func (c config) usesPostgres() bool { return c.DatabaseURL != "" }

// apiEnabled reports whether the admin API is served.
func (c config) apiEnabled() bool { return c.APIKey != "" }

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
	reoffer := fs.String("reoffer-after", env("DIDROUTER_REOFFER_AFTER", "60s"), "how long a waiting call is kept from the agents who missed it before it rings them again; off = never (DIDROUTER_REOFFER_AFTER)")
	level := fs.String("log-level", env("DIDROUTER_LOG_LEVEL", "info"), "debug, info, warn or error (DIDROUTER_LOG_LEVEL)")
	format := fs.String("log-format", env("DIDROUTER_LOG_FORMAT", "json"), "json or text (DIDROUTER_LOG_FORMAT)")
	instance := fs.String("instance-id", env("DIDROUTER_INSTANCE_ID", ""), "name of this instance in logs; default the host name (DIDROUTER_INSTANCE_ID)")
	callerID := fs.String("default-caller-id", env("DIDROUTER_DEFAULT_CALLER_ID", ""), "caller ID of outbound calls by agents without a DID, e.g. the main line (DIDROUTER_DEFAULT_CALLER_ID)")
	shutdown := fs.String("shutdown-timeout", env("DIDROUTER_SHUTDOWN_TIMEOUT", defaultShutdown.String()), "how long to finish in-flight requests on SIGTERM (DIDROUTER_SHUTDOWN_TIMEOUT)")
	storeWait := fs.String("store-wait", env("DIDROUTER_STORE_WAIT", "6s"), "how long a webhook waits for an unreachable database before degraded mode answers (DIDROUTER_STORE_WAIT)")
	journal := fs.String("journal", env("DIDROUTER_JOURNAL", ""), "degraded-mode journal file (Postgres only; default ./didrouter-journal-<instance>.jsonl; off = no degraded mode) (DIDROUTER_JOURNAL)")
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
		if len(c.Region) != 2 {
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
		if (c.APIKey == "") != (c.APISecret == "") {
			bad("DIDROUTER_API_KEY and DIDROUTER_API_SECRET must be set together (or both left empty to turn the admin API off)")
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
