package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/didrouter/didrouter/agenttoken"
	"github.com/didrouter/didrouter/api"
	"github.com/didrouter/didrouter/api/assignment"
	"github.com/didrouter/didrouter/api/callback"
	"github.com/didrouter/didrouter/api/eventcallback"
	"github.com/didrouter/didrouter/dialpolicy"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/metrics"
	"github.com/didrouter/didrouter/routing"
	"github.com/didrouter/didrouter/web"
	"github.com/didrouter/didrouter/webhooks"
)

// runServe runs the server: open and migrate the store, seed the Flex DID
// set-up, start the engine, and answer Twilio's webhooks and the admin API
// until SIGINT or SIGTERM; then stop accepting, finish in-flight requests
// (bounded by DIDROUTER_SHUTDOWN_TIMEOUT) and stop the engine.
func runServe(ctx context.Context, args []string, _ io.Reader, _, stderr io.Writer) int {
	cfg, err := parseConfig("serve", args, os.Getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "didrouter serve: %v\n", err)
		return 2
	}
	logger := newLogger(cfg, stderr)
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
// listen on port 0).
func serve(ctx context.Context, cfg config, logger *slog.Logger, listening chan<- string) error {
	if cfg.SkipSig {
		logger.Warn("INSECURE: Twilio signature checking is OFF (DIDROUTER_INSECURE_SKIP_SIGNATURE=true). " +
			"Anyone who can reach this server can place fake calls. Use this for local trials only.")
	}
	for _, w := range cfg.Warnings {
		logger.Warn("INSECURE: " + w)
	}
	clock := engine.SystemClock{}
	raw, kind, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer raw.Close()
	// Everything reads and writes through the instrumented store, so that
	// store latency and the transitions it commits show in /metrics.
	m := metrics.New()
	st := m.Store(raw)
	ws, err := engine.Seed(ctx, st, clock)
	if err != nil {
		return fmt.Errorf("seed the Flex DID set-up: %w", err)
	}
	norm, err := routing.NewNormalizer(cfg.Region)
	if err != nil {
		return fmt.Errorf("DIDROUTER_DEFAULT_REGION: %w", err)
	}
	instance := cfg.InstanceID
	if instance == "" {
		instance, _ = os.Hostname()
	}
	// Listen before the callbacks are set up: their policy refuses this
	// server's own port (the bound one, when DIDROUTER_ADDR says :0).
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("DIDROUTER_ADDR: listen on %s: %w", cfg.Addr, err)
	}
	defer ln.Close()
	cbPolicy, err := callback.NewPolicy(callback.PolicyConfig{PublicURL: cfg.PublicURL, ListenAddr: ln.Addr().String(),
		LocalIPs: localIPs(logger), Hosts: cfg.CallbackHosts})
	if err != nil {
		return err
	}
	signer := callbackSigner(cfg, logger)
	// The engine's store reports each reservation it commits to the
	// assignment callback dispatcher (workflows with an AssignmentCallbackUrl).
	// It also reports each event it commits to the event callback
	// dispatcher (workspaces with an EventCallbackUrl).
	var (
		callbacks *assignment.Dispatcher
		eng       *engine.Engine
	)
	events, err := eventcallback.New(eventcallback.Config{
		Store: st, Workspace: func(ctx context.Context, sid string) (engine.Workspace, error) { return eng.Workspace(ctx, sid) },
		Client: callback.NewClient(eventCallbackTimeout, cbPolicy), Clock: clock, Logger: logger,
		AccountSID: cfg.AccountSID, Signer: signer, Policy: cbPolicy,
	})
	if err != nil {
		return fmt.Errorf("event callbacks: %w", err)
	}
	engStore := eventcallback.Observe(assignment.Observe(st, func(r engine.Reservation) { callbacks.Notify(r) }), events.Notify)
	eng, err = engine.New(engine.Config{
		Store: engStore, Clock: clock, Logger: logger, Normalizer: norm, InstanceID: instance, WrapUp: cfg.WrapUp,
		ReofferAfter: cfg.ReofferAfter, AgentAway: cfg.AgentAway, MissedCallsUnavailable: cfg.MissedCallsUnavailable,
	})
	if err != nil {
		return fmt.Errorf("start the engine: %w", err)
	}
	callbacks, err = assignment.New(assignment.Config{
		Engine: eng, Store: st, Client: callback.NewClient(assignmentTimeout, cbPolicy), Clock: clock, Logger: logger,
		AccountSID: cfg.AccountSID, Signer: signer, Policy: cbPolicy,
	})
	if err != nil {
		return fmt.Errorf("assignment callbacks: %w", err)
	}
	dm, err := newDegradedMode(cfg, raw, st, eng, ws.SID, instance, logger)
	if err != nil {
		return err
	}
	defer dm.close()
	dialPolicy, err := dialpolicy.New(dialpolicy.Config{
		Normalizer: norm, Countries: cfg.OutboundCountries, AllowPremium: cfg.OutboundPremium, EmergencyCalls: cfg.EmergencyCalls,
	})
	if err != nil {
		return fmt.Errorf("DIDROUTER_OUTBOUND_COUNTRIES: %w", err)
	}
	logger.Info("outbound calls", "countries", outboundCountries(cfg), "premium_rate", cfg.OutboundPremium,
		"emergency_calls", cfg.EmergencyCalls)
	settings, ok := storeOf[engine.CallSettingsStore](raw)
	if !ok {
		return fmt.Errorf("the %T store keeps no call settings", raw)
	}
	wh, err := webhooks.NewHandler(webhooks.Config{
		Engine: eng, Store: st, Normalizer: norm, Clock: clock, Logger: logger, Degraded: dm.webhooks(),
		PublicURL: cfg.PublicURL, AuthToken: cfg.AuthToken, SkipSignature: cfg.SkipSig,
		WorkspaceSID: ws.SID, OnDecision: m.Decision, FloorRoute: benchFloor(), DefaultCallerID: cfg.CallerID,
		DialPolicy: dialPolicy, CallSettings: settings,
		VoicemailAfter: cfg.VoicemailAfter, VoicemailMaxLength: cfg.VoicemailMaxLength, Transcribe: cfg.Transcribe,
	})
	if err != nil {
		return err
	}
	agents, webStore, err := agentAuth(cfg, raw, eng, clock, logger)
	if err != nil {
		return err
	}
	var admin *api.Handler
	if cfg.apiEnabled() {
		admin, err = api.NewHandler(api.Config{
			Engine: eng, Store: st, Clock: clock, Logger: logger,
			APIKey: cfg.APIKey, APISecret: cfg.APISecret, AccountSID: cfg.AccountSID, Agents: agents,
			Callbacks: cbPolicy, CallSettings: settings,
			BaseURL: cfg.PublicURL, AllowedOrigins: cfg.AllowedOrigins,
		})
		if err != nil {
			return err
		}
		if !alphanumeric(cfg.APIKey) || !alphanumeric(cfg.APISecret) {
			logger.Warn("DIDROUTER_API_KEY or DIDROUTER_API_SECRET has characters other than letters and digits: " +
				"Twilio's Go helper library refuses such credentials before sending them (curl and most clients are fine)")
		}
	} else {
		logger.Warn("admin API is off: set DIDROUTER_API_KEY and DIDROUTER_API_SECRET to manage workers over /v1")
	}
	var adminCheck func(key, secret string) bool
	if admin != nil {
		adminCheck = admin.CheckCredentials
	}
	voice, err := cfg.voiceMinter(clock)
	if err != nil {
		return err
	}
	phoneWanted := cfg.VoiceAPIKey != "" || cfg.VoiceAPISecret != "" || cfg.TwiMLAppSID != ""
	if missing := voice.Missing(); phoneWanted && len(missing) > 0 {
		// Some set, some not: likely a typo; the desktop says the same.
		logger.Warn("the browser phone is off until these are set: " + strings.Join(missing, ", "))
	}
	pages, err := web.New(web.Config{
		Engine: eng, Store: st, Web: webStore, Clock: clock, Logger: logger,
		PublicURL: cfg.PublicURL, SessionTTL: cfg.SessionTTL, Agents: agents, AdminCheck: adminCheck,
		Presence:     eng,
		WorkspaceSID: ws.SID,
		Voice:        voice,
		Recordings:   cfg.recordings(), CallSettings: settings,
	})
	if err != nil {
		return err
	}
	prov, sso, err := newSSO(cfg, eng, st, ws.SID, pages, agents, logger)
	if err != nil {
		return err
	}
	var drain drainer
	ready := func(ctx context.Context) error {
		if err := drain.ready(); err != nil {
			return err
		}
		if err := st.Ping(ctx); err != nil {
			if dm.active() && eng.Ready() {
				return nil // calls are answered from memory (degraded mode)
			}
			return fmt.Errorf("store: %w", err)
		}
		if !eng.Ready() {
			return errors.New("engine is loading its worker index")
		}
		return nil
	}
	m.WatchIndex(eng.IndexSize)
	m.WatchQueues(st, clock)
	srv := &http.Server{
		Handler:           newRouter(wh, admin, pages, ready, logger, m, sso...),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(pages.CloseStreams)
	if addr := os.Getenv("DIDROUTER_PPROF_ADDR"); addr != "" {
		stopProfiler, err := serveProfiler(addr, logger)
		if err != nil {
			return err
		}
		defer stopProfiler()
	}

	// The engine outlives the HTTP server during shutdown, so that
	// in-flight webhooks can still finish their decisions.
	engCtx, stopEngine := context.WithCancel(context.WithoutCancel(ctx))
	defer stopEngine()
	engDone := make(chan error, 1)
	relaxGCWhileLoading(engCtx, eng.Ready)
	go func() { engDone <- eng.Start(engCtx) }()
	go dm.run(engCtx)
	callbacksDone := make(chan struct{})
	go func() { _ = callbacks.Run(engCtx); close(callbacksDone) }()
	eventsDone := make(chan struct{})
	go func() { _ = events.Run(engCtx); close(eventsDone) }()
	pagesDone := make(chan struct{})
	go func() { _ = pages.Run(engCtx); close(pagesDone) }()
	provDone := make(chan struct{}) // workers deleted during a call go when it ends
	go func() { _ = prov.Run(engCtx, logger); close(provDone) }()
	serveDone := make(chan error, 1)
	go func() { serveDone <- srv.Serve(ln) }()

	logger.Info("didrouter listening", "addr", ln.Addr().String(), "public_url", cfg.PublicURL,
		"store", kind, "workspace_sid", ws.SID, "instance", instance, "admin_api", cfg.apiEnabled(),
		"agent_desktop", cfg.PublicURL+web.AgentPath, "agent_sign_in_links", agents.On(),
		"browser_phone", len(voice.Missing()) == 0)
	if listening != nil {
		listening <- ln.Addr().String()
	}

	var runErr error
	select {
	case <-ctx.Done():
		logger.Info("signal received: draining")
	case err := <-serveDone:
		runErr = fmt.Errorf("http server: %w", err)
	case err := <-engDone:
		engDone <- err // read again below
		runErr = fmt.Errorf("engine stopped: %w", err)
	}
	// Stop taking webhooks and answer those in flight (bounded), then stop
	// the engine: its timers stay in the store for the other instances.
	drainHTTP(srv, &drain, cfg.DrainDelay, cfg.Shutdown, logger)
	dm.flush(logger, engineStopTimeout)
	stopEngine()
	engStopped := make(chan struct{})
	go func() {
		if err := <-engDone; err != nil && !errors.Is(err, context.Canceled) {
			engDone <- err
		}
		close(engStopped)
	}()
	if waitStopped(logger, callbacksDone, eventsDone, pagesDone, provDone, engStopped) {
		select {
		case err := <-engDone:
			if runErr == nil {
				runErr = fmt.Errorf("engine: %w", err)
			}
		default:
		}
	}
	logger.Info("didrouter stopped")
	return runErr
}

// callbackSigner is the Signer the configuration chooses for callbacks
// (nil: unsigned). Without DIDROUTER_CALLBACK_SIGNING_KEY callbacks go
// unsigned rather than not at all: a receiver that checks signatures
// refuses them, which is safe, and one that does not loses nothing.
func callbackSigner(cfg config, logger *slog.Logger) callback.Signer {
	switch {
	case cfg.CallbackSigning == "twilio":
		logger.Info("callbacks are signed with TWILIO_AUTH_TOKEN (DIDROUTER_CALLBACK_SIGNING=twilio): " +
			"whoever holds the admin API's credentials can have didrouter sign requests as Twilio would")
		return callback.TwilioSigner{AuthToken: cfg.AuthToken}
	case cfg.CallbackKey != "":
		return callback.KeySigner{Key: []byte(cfg.CallbackKey)}
	default:
		logger.Warn("callbacks are sent unsigned: set DIDROUTER_CALLBACK_SIGNING_KEY to sign them with X-Didrouter-Signature " +
			"(or DIDROUTER_CALLBACK_SIGNING=twilio for receivers that check X-Twilio-Signature)")
		return nil
	}
}

// localIPs are the machine's addresses, which reach a server listening on
// all of them. Without them the callback policy still refuses loopback.
func localIPs(logger *slog.Logger) []netip.Addr {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		logger.Warn("cannot list this machine's addresses: callbacks to them on the listen port are not refused by address", "err", err)
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
func agentAuth(cfg config, st engine.Store, eng *engine.Engine, clock engine.Clock, logger *slog.Logger) (*agenttoken.Agents, engine.WebStore, error) {
	webStore, ok := storeOf[engine.WebStore](st)
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
		logger.Warn("agent sign-in links and agent tokens are off: set DIDROUTER_AGENT_TOKEN_SECRET " +
			"(32 characters or more, e.g. from `openssl rand -hex 32`) to sign agents in to the agent desktop " +
			"and to accept agent tokens on /agent/number")
	}
	agents, err := agenttoken.NewAgents(signer, eng, webStore, clock)
	if err != nil {
		return nil, nil, err
	}
	return agents, webStore, nil
}

// storeOf finds a store's side interface T (engine.WebStore,
// engine.CallSettingsStore) in st, unwrapping the store wrappers (outage)
// that do not pass it through.
func storeOf[T any](st engine.Store) (T, bool) {
	for {
		if v, ok := st.(T); ok {
			return v, true
		}
		u, ok := st.(interface{ Unwrap() engine.Store })
		if !ok {
			var zero T
			return zero, false
		}
		st = u.Unwrap()
	}
}

// benchFloor reports whether DIDROUTER_BENCH_FLOOR=true asks for the
// constant-TwiML route /webhooks/voice/floor, which benchmarks compare the
// real webhooks against (didrouter replay --bench ratio).
func benchFloor() bool {
	on, _ := strconv.ParseBool(os.Getenv("DIDROUTER_BENCH_FLOOR"))
	return on
}

// outboundCountries says which countries agents may call, for the log.
func outboundCountries(cfg config) string {
	if len(cfg.OutboundCountries) == 0 {
		return cfg.Region
	}
	return strings.Join(cfg.OutboundCountries, ",")
}
