package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/agenttoken"
	"github.com/didrouter/didrouter/api"
	"github.com/didrouter/didrouter/api/assignment"
	"github.com/didrouter/didrouter/api/callback"
	"github.com/didrouter/didrouter/api/eventcallback"
	"github.com/didrouter/didrouter/dialpolicy"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/metrics"
	"github.com/didrouter/didrouter/provision"
	"github.com/didrouter/didrouter/routing"
	"github.com/didrouter/didrouter/web"
	"github.com/didrouter/didrouter/web/voicetoken"
	"github.com/didrouter/didrouter/webhooks"
)

// runServe runs the server. It opens and migrates the store, seeds the DID
// set-up, starts the engine, and answers Twilio's webhooks and the admin API
// until SIGINT or SIGTERM. It then stops accepting, gives in-flight requests
// up to DIDROUTER_SHUTDOWN_TIMEOUT to finish, and stops the engine.
func runServe(ctx context.Context, args []string, _ io.Reader, _, stderr io.Writer) int {
	cfg, logger, code, ok := startConfig("serve", args, stderr)
	if !ok {
		return code
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal a second one stops the process at once
	// (default signal handling), should draining take too long for the operator.
	context.AfterFunc(ctx, stop)
	if err := serve(ctx, cfg, logger, nil); err != nil {
		logger.Error("didrouter stopped", "err", err)
		return 1
	}
	return 0
}

// serve runs the server until ctx ends. When listening is non-nil it
// receives the bound address once the server accepts connections (tests
// listen on port 0). Each step builds what the later ones need, in the
// order the server starts.
func serve(ctx context.Context, cfg config, logger *slog.Logger, listening chan<- string) error {
	warnInsecure(cfg, logger)
	s := &server{cfg: cfg, logger: logger, clock: didrouter.SystemClock{}}
	defer s.close()
	steps := []func(context.Context) error{
		s.openStore,
		s.listen,
		s.newEngine,
		s.newDegradedMode,
		s.newWebhooks,
		s.newAdminAPI,
		s.newPages,
		s.newHTTPServer,
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return s.run(ctx, listening)
}

// warnInsecure logs the settings that are only fit for a local trial,
// first, so that they are not missed among the start-up lines.
func warnInsecure(cfg config, logger *slog.Logger) {
	if cfg.SkipSig {
		logger.Warn("INSECURE twilio signature checking is off", "setting", "DIDROUTER_INSECURE_SKIP_SIGNATURE",
			"risk", "anyone who can reach this server can place fake calls; use it for local trials only")
	}
	for _, w := range cfg.Warnings {
		logger.Warn("INSECURE setting", "warning", w)
	}
}

// server holds what serve's steps build. A step reads only the fields
// that the steps before it set.
type server struct {
	cfg     config
	logger  *slog.Logger
	clock   didrouter.Clock
	closers []func() // undone in reverse order when serve returns

	// openStore
	raw     didrouter.Store // as openStore returned it; its side interfaces are found on it
	st      didrouter.Store // raw, instrumented for /metrics
	kind    string
	metrics *metrics.Metrics
	ws      didrouter.Workspace

	// listen
	ln       net.Listener
	cbPolicy *callback.Policy
	signer   callback.Signer

	// newEngine
	norm        *routing.Normalizer
	instance    string
	eng         *engine.Engine
	events      *eventcallback.Dispatcher
	assignments *assignment.Dispatcher

	// newDegradedMode
	dm *degradedMode

	// newWebhooks
	settings didrouter.CallSettingsStore
	wh       *webhooks.Handler

	// newAdminAPI
	agents   *agenttoken.Agents
	webStore didrouter.WebStore
	admin    *api.Handler // nil when the admin API is off

	// newPages
	voice *voicetoken.Minter
	pages *web.Handler
	prov  *provision.Provisioner
	sso   []mounter

	// newHTTPServer
	drain drainer
	srv   *http.Server
}

// close releases what the steps opened, the last first.
func (s *server) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

// openStore opens and migrates the store, instruments it, and seeds the
// Flex DID set-up.
func (s *server) openStore(ctx context.Context) error {
	raw, kind, err := openStore(ctx, s.cfg, s.clock, s.logger)
	if err != nil {
		return err
	}
	s.raw, s.kind = raw, kind
	s.closers = append(s.closers, raw.Close)
	// Everything reads and writes through the instrumented store, so that
	// store latency and the transitions it commits show in /metrics.
	s.metrics = metrics.New()
	s.st = s.metrics.Store(raw)
	if s.ws, err = engine.Seed(ctx, s.st, s.clock); err != nil {
		return fmt.Errorf("seed the Flex DID set-up: %w", err)
	}
	return nil
}

// listen binds the listener, then sets up what callbacks are allowed and
// how they are signed. The policy refuses this server's own port, and
// only the listener knows it when DIDROUTER_ADDR says :0.
func (s *server) listen(context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("DIDROUTER_ADDR: listen on %s: %w", s.cfg.Addr, err)
	}
	s.ln = ln
	s.closers = append(s.closers, func() { _ = ln.Close() })
	s.cbPolicy, err = callback.NewPolicy(callback.PolicyConfig{PublicURL: s.cfg.PublicURL, ListenAddr: ln.Addr().String(),
		LocalIPs: localIPs(s.logger), Hosts: s.cfg.CallbackHosts})
	if err != nil {
		return err
	}
	s.signer = callbackSigner(s.cfg, s.logger)
	return nil
}

// newEngine builds the engine and the two callback dispatchers. The
// engine's store reports each reservation it commits to the assignment
// dispatcher, and each event to the event dispatcher. The dispatchers send
// only for workflows and workspaces that have a callback URL.
func (s *server) newEngine(context.Context) error {
	var err error
	if s.norm, err = routing.NewNormalizer(s.cfg.Region); err != nil {
		return fmt.Errorf("DIDROUTER_DEFAULT_REGION: %w", err)
	}
	s.instance = s.cfg.InstanceID
	if s.instance == "" {
		s.instance, _ = os.Hostname()
	}
	// The dispatchers need the engine and the engine needs their store
	// wrappers, so the relay is built first and connected at the end.
	r := &relay{}
	s.events, err = eventcallback.New(eventcallback.Config{
		Store: s.st, Workspace: r.workspace,
		Settings: s.callbackSettings(eventCallbackTimeout),
	})
	if err != nil {
		return fmt.Errorf("event callbacks: %w", err)
	}
	engStore := eventcallback.Observe(assignment.Observe(s.st, r.reservation), s.events.Notify)
	s.eng, err = engine.New(engine.Config{
		Store: engStore, Clock: s.clock, Logger: s.logger, Normalizer: s.norm, InstanceID: s.instance, WrapUp: s.cfg.WrapUp,
		ReofferAfter: s.cfg.ReofferAfter, AgentAway: s.cfg.AgentAway, MissedCallsUnavailable: s.cfg.MissedCallsUnavailable,
	})
	if err != nil {
		return fmt.Errorf("start the engine: %w", err)
	}
	s.assignments, err = assignment.New(assignment.Config{
		Engine: s.eng, Store: s.st, Settings: s.callbackSettings(assignmentTimeout),
	})
	if err != nil {
		return fmt.Errorf("assignment callbacks: %w", err)
	}
	r.eng, r.assignments = s.eng, s.assignments
	return nil
}

// relay passes the engine's store reports to the callback dispatchers.
// Nothing commits before the engine starts, so no report comes before
// newEngine has connected it.
type relay struct {
	eng         *engine.Engine
	assignments *assignment.Dispatcher
}

// workspace reads a workspace through the engine's cache.
func (r *relay) workspace(ctx context.Context, sid string) (didrouter.Workspace, error) {
	return r.eng.Workspace(ctx, sid)
}

func (r *relay) reservation(res didrouter.Reservation) { r.assignments.Notify(res) }

// newDegradedMode sets up answering calls from memory while the database
// is down (Postgres only).
func (s *server) newDegradedMode(context.Context) error {
	dm, err := newDegradedMode(s.cfg, s.raw, s.st, s.eng, s.ws.SID, s.instance, s.clock, s.logger)
	if err != nil {
		return err
	}
	s.dm = dm
	s.closers = append(s.closers, dm.close)
	return nil
}

// newWebhooks builds the handler of Twilio's webhooks, with the policy of
// which numbers agents may call out to.
func (s *server) newWebhooks(context.Context) error {
	cfg := s.cfg
	dialPolicy, err := dialpolicy.New(dialpolicy.Config{
		Normalizer: s.norm, Countries: cfg.OutboundCountries, AllowPremium: cfg.OutboundPremium, EmergencyCalls: cfg.EmergencyCalls,
	})
	if err != nil {
		return fmt.Errorf("DIDROUTER_OUTBOUND_COUNTRIES: %w", err)
	}
	s.logger.Info("outbound calls", "countries", outboundCountries(cfg), "premium_rate", cfg.OutboundPremium,
		"emergency_calls", cfg.EmergencyCalls)
	settings, ok := storeOf[didrouter.CallSettingsStore](s.raw)
	if !ok {
		return fmt.Errorf("the %T store keeps no call settings", s.raw)
	}
	s.settings = settings
	// As many webhooks work at once as the store has connections.
	concurrency := 0
	if pool, ok := storeOf[interface{ Connections() int }](s.raw); ok {
		concurrency = pool.Connections()
	}
	s.wh, err = webhooks.NewHandler(webhooks.Config{
		Engine: s.eng, Store: s.st, Normalizer: s.norm, Clock: s.clock, Logger: s.logger, Degraded: s.dm.webhooks(),
		PublicURL: cfg.PublicURL, AuthToken: cfg.AuthToken, SkipSignature: cfg.SkipSig,
		WorkspaceSID: s.ws.SID, OnDecision: s.metrics.Decision, FloorRoute: cfg.BenchFloor, DefaultCallerID: cfg.CallerID,
		DialPolicy: dialPolicy, CallSettings: settings,
		VoicemailAfter: cfg.VoicemailAfter, VoicemailMaxLength: cfg.VoicemailMaxLength, Transcribe: cfg.Transcribe,
		Concurrency: concurrency,
	})
	return err
}

// newAdminAPI builds the agents' sign-in checker and, when its
// credentials are set, the admin API.
func (s *server) newAdminAPI(context.Context) error {
	cfg := s.cfg
	var err error
	if s.agents, s.webStore, err = agentAuth(cfg, s.raw, s.eng, s.clock, s.logger); err != nil {
		return err
	}
	if !cfg.apiEnabled() {
		s.logger.Warn("admin api off", "fix", "set DIDROUTER_API_KEY and DIDROUTER_API_SECRET to manage workers over /v1")
		return nil
	}
	s.admin, err = api.NewHandler(api.Config{
		Engine: s.eng, Store: s.st, Clock: s.clock, Logger: s.logger,
		APIKey: cfg.APIKey, APISecret: cfg.APISecret, AccountSID: cfg.AccountSID, Agents: s.agents,
		Callbacks: s.cbPolicy, CallSettings: s.settings,
		BaseURL: cfg.PublicURL, AllowedOrigins: cfg.AllowedOrigins,
	})
	if err != nil {
		return err
	}
	if !alphanumeric(cfg.APIKey) || !alphanumeric(cfg.APISecret) {
		s.logger.Warn("admin api credentials have characters other than letters and digits",
			"risk", "Twilio's Go helper library refuses such credentials before sending them; curl and most clients are fine")
	}
	return nil
}

// newPages builds the agent desktop and the admin console, with the
// browser phone, and the identity provider's sign-in and provisioning.
func (s *server) newPages(context.Context) error {
	cfg := s.cfg
	var adminCheck func(key, secret string) bool
	if s.admin != nil {
		adminCheck = s.admin.CheckCredentials
	}
	voice, err := cfg.voiceMinter(s.clock)
	if err != nil {
		return err
	}
	s.voice = voice
	phoneWanted := cfg.VoiceAPIKey != "" || cfg.VoiceAPISecret != "" || cfg.TwiMLAppSID != ""
	if missing := voice.Missing(); phoneWanted && len(missing) > 0 {
		// Some are set and some not, likely a typo. The desktop says the same.
		s.logger.Warn("browser phone off", "missing", strings.Join(missing, ", "))
	}
	s.pages, err = web.New(web.Config{
		Engine: s.eng, Store: s.st, Web: s.webStore, Clock: s.clock, Logger: s.logger,
		PublicURL: cfg.PublicURL, SessionTTL: cfg.SessionTTL, Agents: s.agents, AdminCheck: adminCheck,
		Presence:     s.eng,
		WorkspaceSID: s.ws.SID,
		Voice:        voice,
		Recordings:   cfg.recordings(), CallSettings: s.settings,
	})
	if err != nil {
		return err
	}
	s.prov, s.sso, err = newSSO(cfg, s.eng, s.st, s.ws.SID, s.pages, s.agents, s.logger)
	return err
}

// newHTTPServer routes everything built so far, and starts the profiler
// when DIDROUTER_PPROF_ADDR asks for it.
func (s *server) newHTTPServer(context.Context) error {
	s.metrics.WatchIndex(s.eng.IndexSize)
	s.metrics.WatchQueues(s.st, s.clock)
	s.metrics.WatchGate(s.wh.Waiting)
	s.srv = &http.Server{
		Handler:           newRouter(s.wh, s.admin, s.pages, s.ready, s.logger, s.metrics, s.sso...),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	// The pages' event streams never end by themselves, so shutdown would
	// wait for them.
	s.srv.RegisterOnShutdown(s.pages.CloseStreams)
	if s.cfg.PprofAddr != "" {
		stopProfiler, err := serveProfiler(s.cfg.PprofAddr, s.logger)
		if err != nil {
			return err
		}
		s.closers = append(s.closers, stopProfiler)
	}
	return nil
}

// ready is /readyz: whether this instance should get calls.
func (s *server) ready(ctx context.Context) error {
	if err := s.drain.ready(); err != nil {
		return err
	}
	if err := s.st.Ping(ctx); err != nil {
		if s.dm.active() && s.eng.Ready() {
			return nil // calls are answered from memory (degraded mode)
		}
		return fmt.Errorf("store: %w", err)
	}
	if !s.eng.Ready() {
		return errors.New("engine is loading its worker index")
	}
	return nil
}

// run starts the loops and the HTTP server and waits for a signal or for
// the server or the engine to fail. Then it drains and stops.
func (s *server) run(ctx context.Context, listening chan<- string) error {
	// The engine outlives the HTTP server during shutdown, so that
	// in-flight webhooks can still finish their decisions.
	engCtx, stopEngine := context.WithCancel(context.WithoutCancel(ctx))
	defer stopEngine()
	l := s.startLoops(engCtx)
	serveDone := make(chan error, 1)
	go func() { serveDone <- s.srv.Serve(s.ln) }()

	s.logger.Info("didrouter listening", "addr", s.ln.Addr().String(), "public_url", s.cfg.PublicURL,
		"store", s.kind, "workspace_sid", s.ws.SID, "instance", s.instance, "admin_api", s.cfg.apiEnabled(),
		"agent_desktop", s.cfg.PublicURL+web.AgentPath, "agent_sign_in_links", s.agents.On(),
		"browser_phone", len(s.voice.Missing()) == 0)
	if listening != nil {
		listening <- s.ln.Addr().String()
	}

	var runErr error
	select {
	case <-ctx.Done():
		s.logger.Info("signal received, draining")
	case err := <-serveDone:
		runErr = fmt.Errorf("http server: %w", err)
	case err := <-l.engine:
		l.engine <- err // read again when stopping
		runErr = fmt.Errorf("engine stopped: %w", err)
	}
	return s.stop(runErr, stopEngine, l)
}

// loops are the goroutines that run on the engine's context.
type loops struct {
	engine chan error        // what the engine's Start returned
	done   []<-chan struct{} // closed as each of the others returns
}

// startLoops starts the engine, degraded mode, the callback dispatchers,
// the pages' presence loop and the provisioner.
func (s *server) startLoops(ctx context.Context) loops {
	l := loops{engine: make(chan error, 1)}
	relaxGCWhileLoading(ctx, s.eng.Ready)
	go func() { l.engine <- s.eng.Start(ctx) }()
	go s.dm.run(ctx)
	l.done = []<-chan struct{}{
		runLoop(ctx, s.assignments.Run),
		runLoop(ctx, s.events.Run),
		runLoop(ctx, s.pages.Run),
		// Workers deleted during a call are removed when it ends.
		runLoop(ctx, func(ctx context.Context) error { return s.prov.Run(ctx, s.logger) }),
	}
	return l
}

// runLoop runs loop in its own goroutine. The channel closes when it returns.
func runLoop(ctx context.Context, loop func(context.Context) error) <-chan struct{} {
	done := make(chan struct{})
	go func() { _ = loop(ctx); close(done) }()
	return done
}

// stop drains the HTTP server, then stops the engine and waits for the
// loops. runErr is why run ended, nil for a signal.
func (s *server) stop(runErr error, stopEngine context.CancelFunc, l loops) error {
	// Stop taking webhooks and answer those in flight, then stop the engine.
	// Its timers stay in the store for the other instances.
	drainHTTP(s.srv, &s.drain, s.cfg.DrainDelay, s.cfg.Shutdown, s.logger)
	s.dm.flush(s.logger, engineStopTimeout)
	stopEngine()
	engStopped := make(chan struct{})
	go func() {
		if err := <-l.engine; err != nil && !errors.Is(err, context.Canceled) {
			l.engine <- err
		}
		close(engStopped)
	}()
	if waitStopped(s.logger, append(l.done, engStopped)...) {
		select {
		case err := <-l.engine:
			if runErr == nil {
				runErr = fmt.Errorf("engine: %w", err)
			}
		default:
		}
	}
	s.logger.Info("didrouter stopped")
	return runErr
}

// callbackSigner is the Signer the configuration chooses for callbacks
// (nil: unsigned). Without DIDROUTER_CALLBACK_SIGNING_KEY callbacks go
// unsigned rather than not at all: a receiver that checks signatures
// refuses them, which is safe, and one that does not loses nothing.
func callbackSigner(cfg config, logger *slog.Logger) callback.Signer {
	switch {
	case cfg.CallbackSigning == "twilio":
		logger.Info("callbacks signed with TWILIO_AUTH_TOKEN",
			"risk", "whoever holds the admin api credentials can have didrouter sign requests as Twilio would")
		return callback.TwilioSigner{AuthToken: cfg.AuthToken}
	case cfg.CallbackKey != "":
		return callback.KeySigner{Key: []byte(cfg.CallbackKey)}
	default:
		logger.Warn("callbacks sent unsigned",
			"fix", "set DIDROUTER_CALLBACK_SIGNING_KEY, or DIDROUTER_CALLBACK_SIGNING=twilio for receivers that check X-Twilio-Signature")
		return nil
	}
}

// localIPs are the machine's addresses, which reach a server listening on
// all of them. Without them the callback policy still refuses loopback.
func localIPs(logger *slog.Logger) []netip.Addr {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		logger.Warn("cannot list this machine's addresses",
			"risk", "callbacks to them on the listen port are not refused by address", "err", err)
		return nil
	}
	var out []netip.Addr
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				out = append(out, ip)
			}
		}
	}
	return out
}

// callbackSettings are how both dispatchers send, with requests bounded by
// timeout.
func (s *server) callbackSettings(timeout time.Duration) callback.Settings {
	return callback.Settings{Client: callback.NewClient(timeout, s.cbPolicy), Clock: s.clock, Logger: s.logger,
		AccountSID: s.cfg.AccountSID, Signer: s.signer, Policy: s.cbPolicy}
}

// assignmentTimeout bounds one assignment callback request, as TaskRouter
// gives the application 5 seconds to answer.
const assignmentTimeout = 5 * time.Second

// eventCallbackTimeout bounds one event callback request: TaskRouter
// expects the workspace's EventCallbackUrl to answer within 15 seconds.
const eventCallbackTimeout = 15 * time.Second

func alphanumeric(s string) bool {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// agentAuth builds the checker of agent tokens and sign-in links on the
// store's web sessions. Without DIDROUTER_AGENT_TOKEN_SECRET both are off
// (and said so), while everything else works.
func agentAuth(cfg config, st didrouter.Store, eng *engine.Engine, clock didrouter.Clock, logger *slog.Logger) (*agenttoken.Agents, didrouter.WebStore, error) {
	webStore, ok := storeOf[didrouter.WebStore](st)
	if !ok {
		return nil, nil, fmt.Errorf("the %T store keeps no web sessions", st)
	}
	var signer *agenttoken.Signer
	if cfg.AgentTokenSecret != "" {
		var err error
		if signer, err = agenttoken.NewSigner(cfg.AgentTokenSecret, cfg.AgentTokenMaxTTL); err != nil {
			return nil, nil, err
		}
	} else {
		logger.Warn("agent sign-in links and agent tokens off",
			"fix", "set DIDROUTER_AGENT_TOKEN_SECRET to 32 characters or more, for example from `openssl rand -hex 32`")
	}
	agents, err := agenttoken.NewAgents(signer, eng, webStore, clock)
	if err != nil {
		return nil, nil, err
	}
	return agents, webStore, nil
}

// storeOf finds a store's side interface T (didrouter.WebStore,
// didrouter.CallSettingsStore) in st, unwrapping the store wrappers (outage)
// that do not pass it through.
func storeOf[T any](st didrouter.Store) (T, bool) {
	for {
		if v, ok := st.(T); ok {
			return v, true
		}
		u, ok := st.(interface{ Unwrap() didrouter.Store })
		if !ok {
			var zero T
			return zero, false
		}
		st = u.Unwrap()
	}
}

// outboundCountries says which countries agents may call, for the log.
func outboundCountries(cfg config) string {
	if len(cfg.OutboundCountries) == 0 {
		return cfg.Region
	}
	return strings.Join(cfg.OutboundCountries, ",")
}
