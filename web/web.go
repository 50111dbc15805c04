// Package web serves didrouter's pages for people: the agent desktop at
// /agent/ and the admin console's sign-in at /admin/.
//
// The pages are server-rendered html/template documents with a little
// plain JavaScript, embedded in the binary. There is no build step, no
// framework and nothing loaded from another origin, so the pages stay
// small, work on locked-down networks and need no front-end tool chain.
// Live updates come as server-sent events fed by the store's change feed.
// Every state lives in the store, sessions too, so any instance behind a
// load balancer can serve any request.
package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/agenttoken"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/routing"
)

// Paths of the pages.
const (
	AgentPath       = "/agent/"
	SignInPath      = "/agent/signin"
	AgentSignOut    = "/agent/signout"
	AgentPresence   = "/agent/presence"
	AgentEvents     = "/agent/events"
	AgentAssets     = "/agent/assets/"
	AdminPath       = "/admin/"
	AdminSignInPath = "/admin/signin"
	AdminSignOut    = "/admin/signout"
	AdminAssets     = "/admin/assets/"
)

// Defaults.
const (
	DefaultSessionTTL = 12 * time.Hour // a shift
	DefaultHeartbeat  = 20 * time.Second
)

//go:embed assets
var assets embed.FS

// Engine is what the pages need from the routing engine. Presence changes
// go through it, so the pages follow the same rules as the API.
type Engine interface {
	UpdateWorker(ctx context.Context, workspaceSID, sid string, u engine.WorkerUpdate) (didrouter.Worker, error)
	Normalizer() *routing.Normalizer
	LastActivityChange(ctx context.Context, workspaceSID, workerSID string, since time.Time) (engine.ActivityChange, bool, error)
}

// Config configures the pages. Engine, Store, Web, Clock and PublicURL are required.
type Config struct {
	Engine Engine
	Store  didrouter.Store    // reads and the change feed
	Web    didrouter.WebStore // sessions
	Clock  didrouter.Clock
	Logger *slog.Logger

	// PublicURL is the server's base URL as browsers see it. An https URL
	// makes cookies Secure and __Host- named. Its origin is trusted for
	// state-changing requests besides the request's own host.
	PublicURL string
	// SessionTTL is how long a sign-in lasts; 0 = DefaultSessionTTL.
	SessionTTL time.Duration

	// Agents checks sign-in links; nil (or one without a signer): links
	// are off and the sign-in page says so.
	Agents *agenttoken.Agents
	// AdminCheck checks the admin API's key and secret in constant time
	// (api.Handler.CheckCredentials); nil: the admin console is off.
	AdminCheck func(key, secret string) bool

	// SignInLimit bounds sign-in attempts; zero values take the defaults.
	SignInLimit Limit

	// Presence, when set, hears of open agent pages (*engine.Engine), so
	// that an agent whose last page is gone can be moved to Offline.
	Presence engine.PresenceTracker
	// Heartbeat is how often an open event stream says it is alive (to the
	// browser and to Presence); 0 = DefaultHeartbeat.
	Heartbeat time.Duration
	// WorkspaceSID is the workspace the admin console shows; "" = the
	// oldest one.
	WorkspaceSID string
	// CSPAllow adds sources to directives of the Content-Security-Policy.
	// The browser phone's (PhoneCSP) are added when Voice can mint.
	CSPAllow map[string][]string

	// Voice mints the browser phone's access tokens (*voicetoken.Minter);
	// nil, or one with settings missing: the phone panel names what to set
	// and the rest of the desktop works.
	Voice Voice
	// Recordings fetches voicemail recordings for playback (voicemail.go);
	// nil = playback is off.
	Recordings *RecordingSource
	// CallSettings keeps the business hours the console edits
	// (admin_hours.go); nil = the Store's when it keeps them.
	CallSettings didrouter.CallSettingsStore
}

// Handler serves the pages.
type Handler struct {
	eng        Engine
	store      didrouter.Store
	web        didrouter.WebStore
	clock      didrouter.Clock
	log        *slog.Logger
	agents     *agenttoken.Agents
	adminCheck func(key, secret string) bool
	presence   engine.PresenceTracker
	heartbeat  time.Duration
	sessions   sessions
	limiter    *limiter
	origins    *http.CrossOriginProtection
	csp        string
	pages      *pages
	static     http.Handler
	feed       *feed
	phone      []string // scripts of the browser phone, when embedded
	voice      Voice
	admin      *adminState
	oidc       atomic.Pointer[oidcState]   // sign-in with OpenID Connect (EnableOIDC); nil = off
	recordings *RecordingSource            // nil: voicemail playback is off
	settings   didrouter.CallSettingsStore // nil: the business hours page says it is off

	closing   chan struct{} // closed by CloseStreams
	closeOnce sync.Once
}

// New checks cfg and returns the handler.
func New(cfg Config) (*Handler, error) {
	switch {
	case cfg.Engine == nil, cfg.Store == nil, cfg.Web == nil, cfg.Clock == nil:
		return nil, errors.New("web: Config.Engine, Store, Web and Clock are required")
	case cfg.PublicURL == "":
		return nil, errors.New("web: Config.PublicURL is required")
	}
	pub, err := url.Parse(strings.TrimRight(cfg.PublicURL, "/"))
	if err != nil || (pub.Scheme != "http" && pub.Scheme != "https") || pub.Host == "" {
		return nil, fmt.Errorf("web: Config.PublicURL %q is not an absolute http(s) URL", cfg.PublicURL)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.Presence != nil {
		// A short away time needs pages to report more often.
		if every := cfg.Presence.AgentPageHeartbeatEvery(); every > 0 && every < cfg.Heartbeat {
			cfg.Heartbeat = every
		}
	}
	origins := http.NewCrossOriginProtection()
	if err := origins.AddTrustedOrigin(pub.Scheme + "://" + pub.Host); err != nil {
		return nil, fmt.Errorf("web: trust the public URL's origin: %w", err)
	}
	pg, err := loadPages()
	if err != nil {
		return nil, err
	}
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		return nil, fmt.Errorf("web: assets: %w", err)
	}
	h := &Handler{
		eng: cfg.Engine, store: cfg.Store, web: cfg.Web, clock: cfg.Clock, log: cfg.Logger,
		agents: cfg.Agents, adminCheck: cfg.AdminCheck, presence: cfg.Presence, heartbeat: cfg.Heartbeat,
		sessions: sessions{web: cfg.Web, clock: cfg.Clock, ttl: cfg.SessionTTL, secure: pub.Scheme == "https", log: cfg.Logger},
		limiter:  newLimiter(cfg.SignInLimit, cfg.Clock),
		origins:  origins,
		csp:      contentSecurityPolicy(cspAllow(cfg)),
		pages:    pg,
		static:   http.FileServerFS(static),
		feed:     newFeed(),
		phone:    phoneScripts(static),
		voice:    cfg.Voice,
		closing:  make(chan struct{}),

		recordings: cfg.Recordings,
		settings:   cfg.CallSettings,
	}
	if h.settings == nil {
		h.settings, _ = cfg.Store.(didrouter.CallSettingsStore)
	}
	h.admin = newAdminState(cfg, strings.TrimRight(cfg.PublicURL, "/"))
	return h, nil
}

// cspAllow is Config.CSPAllow plus, with a phone set up, what the Voice
// SDK needs: without a phone the policy stays at the page's own origin.
func cspAllow(cfg Config) map[string][]string {
	if cfg.Voice == nil || len(cfg.Voice.Missing()) > 0 {
		return cfg.CSPAllow
	}
	out := map[string][]string{}
	for k, v := range cfg.CSPAllow {
		out[k] = append(out[k], v...)
	}
	for k, v := range PhoneCSP() {
		out[k] = append(out[k], v...)
	}
	return out
}

// phoneScripts lists the browser phone's scripts when they are embedded
// (the Voice SDK under vendor/ and the phone module): the page loads them
// only then, and otherwise says the phone is not set up.
func phoneScripts(static fs.FS) []string {
	var out []string
	for _, name := range []string{"vendor/twilio.min.js", "js/phone.js"} {
		if _, err := fs.Stat(static, name); err != nil {
			return nil
		}
		out = append(out, AgentAssets+name)
	}
	return out
}

// Mount registers the pages on r. /agent/number (package api) lives beside
// them and keeps its own credentials.
func (h *Handler) Mount(r chi.Router) {
	r.Group(func(r chi.Router) {
		r.Use(h.recoverer, h.headers)
		r.Get("/agent", redirectTo(AgentPath))
		r.Get(AgentPath, h.ssoFirst(didrouter.WebSessionAgent, h.agentPage))
		r.Get(OIDCCallbackPath, h.oidcCallback)
		r.Get(SignInPath, h.agentSignInPage)
		r.Post(SignInPath, h.agentSignIn)
		r.Post(AgentSignOut, h.signOut(didrouter.WebSessionAgent))
		r.With(h.AgentOnly).Post(AgentPresence, h.setPresence)
		r.With(h.AgentOnly).Get(AgentEvents, h.events)
		r.With(h.AgentOnly).Post(AgentPhoneToken, h.phoneToken)
		h.mountVoicemail(r)
		h.mountMessages(r)
		r.Get("/admin", redirectTo(AdminPath))
		r.Get(AdminSignInPath, h.ssoFirst(didrouter.WebSessionAdmin, h.adminSignInPage))
		r.Post(AdminSignInPath, h.passwordLogin(h.adminSignIn))
		r.Post(AdminSignOut, h.signOut(didrouter.WebSessionAdmin))
		h.mountAdmin(r)
	})
	r.Group(func(r chi.Router) {
		r.Use(h.assetHeaders)
		r.Handle(AgentAssets+"*", http.StripPrefix(strings.TrimSuffix(AgentAssets, "/"), h.static))
		r.Handle(AdminAssets+"*", http.StripPrefix(strings.TrimSuffix(AdminAssets, "/"), h.static))
	})
}

// Run feeds the open event streams from the store's change feed until ctx
// ends (it returns ctx's error). Without it the streams still refresh on
// every heartbeat.
func (h *Handler) Run(ctx context.Context) error {
	return h.feed.run(ctx, h.store, h.clock, h.log)
}

// CloseStreams ends the open event streams (http.Server.RegisterOnShutdown):
// they would otherwise hold a graceful shutdown until its timeout. The
// pages reconnect, through the balancer, to another instance.
func (h *Handler) CloseStreams() { h.closeOnce.Do(func() { close(h.closing) }) }

func redirectTo(path string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, path, http.StatusMovedPermanently) }
}
