// Package webhooks is didrouter's Twilio-facing HTTP layer. It checks each
// voice webhook's signature and turns the call into a TaskRouter task
// through the engine. It answers TwiML that rings the reserved worker with
// <Dial>, or holds the caller with <Enqueue>, polled through waitUrl until
// <Leave/>.
package webhooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/twilio/twilio-go/client"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/dialpolicy"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/routing"
)

// PathPrefix is where the voice webhooks live; Twilio numbers point their
// voice URL at PathPrefix+"/incoming" and their status callback at
// PathPrefix+"/status".
const PathPrefix = "/webhooks/voice"

// Defaults of Config's optional fields.
const (
	DefaultWaitPause      = 3 * time.Second  // between two waitUrl polls
	DefaultRequestTimeout = 10 * time.Second // Twilio gives up on a webhook after 15 s
	// EndTimeout bounds a status callback's work: a hang-up waits that
	// long for the database rather than leave its task open.
	EndTimeout = time.Minute
)

// Engine is what the webhooks need from the routing engine (*engine.Engine).
type Engine interface {
	CreateTask(ctx context.Context, t engine.TaskInsert) (engine.TaskResult, error)
	LiveReservation(ctx context.Context, workspaceSID, taskSID string) (*didrouter.Reservation, *didrouter.Worker, error)
	AcceptReservation(ctx context.Context, workspaceSID, reservationSID string) (didrouter.Reservation, error)
	RejectReservation(ctx context.Context, workspaceSID, reservationSID, status string) (engine.TaskResult, error)
	CompleteTask(ctx context.Context, workspaceSID, taskSID, reason string) (didrouter.Task, error)
	CancelTask(ctx context.Context, workspaceSID, taskSID, reason string) (didrouter.Task, error)
	// Workspace and Binding read configuration every call needs (cached
	// by the engine while its change feed runs).
	Workspace(ctx context.Context, sid string) (didrouter.Workspace, error)
	Binding(ctx context.Context, e164 string) (didrouter.PhoneNumberBinding, error)
}

// Config configures the webhooks. Engine, Store, Normalizer, Clock,
// PublicURL, WorkspaceSID and either AuthToken or SkipSignature are required.
type Config struct {
	Engine     Engine
	Store      didrouter.Reader
	Normalizer *routing.Normalizer
	Clock      didrouter.Clock
	Logger     *slog.Logger

	// PublicURL is the base URL Twilio calls (scheme, host, optional path
	// prefix), used to check signatures and to build action URLs.
	PublicURL     string
	AuthToken     string
	SkipSignature bool // local trials only: anyone can then create calls

	// WorkspaceSID is the workspace of numbers without a binding of their own.
	WorkspaceSID string

	MaxBody        int64         // bytes; 0 = DefaultMaxBody
	WaitPause      time.Duration // 0 = DefaultWaitPause
	RequestTimeout time.Duration // 0 = DefaultRequestTimeout

	// Concurrency bounds the webhooks that work at once (gate.go): past
	// it, calls in progress go first, and a new call that finds no slot
	// within NewCallWait hears that the lines are busy and comes back.
	// 0 = DefaultConcurrency, negative = no bound.
	Concurrency int
	NewCallWait time.Duration // 0 = DefaultNewCallWait

	// DefaultCallerID is the caller ID of outbound calls by agents without
	// a DID (the main line); "" = such agents cannot call out.
	DefaultCallerID string

	// DialPolicy decides which numbers outbound calls may dial; nil = the
	// defaults (the Normalizer's region only, no premium-rate numbers, no
	// emergency calls).
	DialPolicy *dialpolicy.Policy

	// OnDecision, when set, hears each call decision (the "decision" of
	// the call decision log line: dial, enqueue, leave, ...), for metrics.
	// It is called on the request's goroutine and must be quick.
	OnDecision func(decision string)

	// Degraded answers calls while the store is unreachable, or is nil for
	// off. New calls are routed from memory and what Twilio reports is
	// journaled for the store.
	Degraded Degraded

	// CallSettings keeps business hours and voicemail timing per workspace
	// and number (voicemail.go); nil = always open, VoicemailAfter for every
	// number.
	CallSettings didrouter.CallSettingsStore
	// VoicemailAfter is how long a waiting caller waits before voicemail
	// and a call-back are offered, unless the call settings say otherwise;
	// 0 = voicemail off (DIDROUTER_VOICEMAIL_AFTER; the server's default is
	// 90 s).
	VoicemailAfter time.Duration
	// VoicemailMaxLength is the longest message; 0 = DefaultVoicemailMaxLength.
	VoicemailMaxLength time.Duration
	// Transcribe asks Twilio to transcribe messages (a paid Twilio feature).
	Transcribe bool

	// FloorRoute mounts POST /floor: the same middleware (body limit,
	// signature check) answering a constant TwiML document without touching
	// the engine or the store. Benchmarks only: it measures the floor the
	// real webhooks are compared against.
	FloorRoute bool
}

// Handler serves the voice webhooks.
type Handler struct {
	eng        Engine
	store      didrouter.Reader
	norm       *routing.Normalizer
	clock      didrouter.Clock
	log        *slog.Logger
	public     string
	ws         string
	waitPause  int // seconds
	timeout    time.Duration
	verifier   *verifier
	router     chi.Router
	callerID   string // E.164 default caller ID of outbound calls; "" = none
	dialPolicy *dialpolicy.Policy
	onDecide   func(decision string)
	floor      bool
	degraded   Degraded
	gate       *gate // nil = no bound

	settings       didrouter.CallSettingsStore
	voicemailAfter time.Duration
	voicemailMax   time.Duration
	transcribe     bool
	waits          waitEstimates // queue announcements' recent waits
	answers        answerCache   // resolved call settings (voicemail.go)
}

// NewHandler checks cfg and returns the webhook handler.
func NewHandler(cfg Config) (*Handler, error) {
	switch {
	case cfg.Engine == nil:
		return nil, errors.New("webhooks: Config.Engine is required")
	case cfg.Store == nil:
		return nil, errors.New("webhooks: Config.Store is required")
	case cfg.Normalizer == nil:
		return nil, errors.New("webhooks: Config.Normalizer is required")
	case cfg.Clock == nil:
		return nil, errors.New("webhooks: Config.Clock is required")
	case cfg.WorkspaceSID == "":
		return nil, errors.New("webhooks: Config.WorkspaceSID is required")
	case cfg.AuthToken == "" && !cfg.SkipSignature:
		return nil, errors.New("webhooks: Config.AuthToken is required unless SkipSignature is set")
	}
	public, err := checkPublicURL(cfg.PublicURL)
	if err != nil {
		return nil, err
	}
	callerID, err := checkCallerID(cfg.Normalizer, cfg.DefaultCallerID)
	if err != nil {
		return nil, err
	}
	if cfg.DialPolicy == nil {
		if cfg.DialPolicy, err = dialpolicy.New(dialpolicy.Config{Normalizer: cfg.Normalizer}); err != nil {
			return nil, fmt.Errorf("webhooks: default dial policy: %w", err)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.WaitPause <= 0 {
		cfg.WaitPause = DefaultWaitPause
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.VoicemailAfter < 0 {
		return nil, errors.New("webhooks: Config.VoicemailAfter must not be negative")
	}
	if cfg.VoicemailMaxLength <= 0 {
		cfg.VoicemailMaxLength = DefaultVoicemailMaxLength
	}
	if cfg.VoicemailMaxLength < time.Second || cfg.VoicemailMaxLength > time.Hour {
		return nil, errors.New("webhooks: Config.VoicemailMaxLength must be between 1s and 1h")
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.NewCallWait <= 0 {
		cfg.NewCallWait = DefaultNewCallWait
	}
	pauseSeconds := int(cfg.WaitPause.Round(time.Second) / time.Second)
	if pauseSeconds < 1 {
		pauseSeconds = 1
	}
	h := &Handler{
		eng:        cfg.Engine,
		store:      cfg.Store,
		norm:       cfg.Normalizer,
		clock:      cfg.Clock,
		log:        cfg.Logger,
		public:     public,
		ws:         cfg.WorkspaceSID,
		waitPause:  pauseSeconds,
		timeout:    cfg.RequestTimeout,
		callerID:   callerID,
		dialPolicy: cfg.DialPolicy,
		onDecide:   cfg.OnDecision,
		floor:      cfg.FloorRoute,
		degraded:   cfg.Degraded,

		settings:       cfg.CallSettings,
		voicemailAfter: cfg.VoicemailAfter,
		voicemailMax:   cfg.VoicemailMaxLength,
		transcribe:     cfg.Transcribe,
		verifier: &verifier{
			validator: client.NewRequestValidator(cfg.AuthToken),
			publicURL: public,
			skip:      cfg.SkipSignature,
			maxBody:   cfg.MaxBody,
			logger:    cfg.Logger,
		},
	}
	if cfg.Concurrency > 0 {
		h.gate = newGate(cfg.Concurrency, cfg.NewCallWait, cfg.Clock)
	}
	r := chi.NewRouter()
	h.Mount(r)
	h.router = r
	return h, nil
}

// Mount registers the webhook routes under PathPrefix on r.
func (h *Handler) Mount(r chi.Router) {
	r.Route(PathPrefix, func(r chi.Router) {
		r.Use(h.verifier.middleware)
		// Twilio numbers may be configured for GET or POST; the URLs
		// didrouter writes into TwiML always ask for POST.
		routes := map[string]http.HandlerFunc{
			"/incoming": h.gatedRoute("incoming", ownGate, h.incoming, h.incomingFallback, h.busyHold),
			"/answer":   h.twimlRoute("answer", h.answer, h.answerDegraded),
			"/dial":     h.twimlRoute("dial", h.dialAction, h.keepCallerFallback),
			"/wait":     h.gatedRoute("wait", newCall, h.wait, h.waitFallback, h.waitFallback),
			"/dequeued": h.twimlRoute("dequeued", h.dequeued, h.keepCallerFallback),
			"/status":   h.status,
			"/outbound": h.twimlRoute("outbound", h.outbound, h.outboundFallback),
			"/choice":   h.twimlRoute("choice", h.choice, h.choiceFallback),

			"/voicemail/recorded":      h.twimlRoute("voicemail recorded", h.recorded, h.recordedFallback),
			"/voicemail/recording":     h.recordingStatus,
			"/voicemail/transcription": h.transcription,
		}
		for path, fn := range routes {
			r.Post(path, fn)
			r.Get(path, fn)
		}
		if h.floor {
			r.Post("/floor", serveFloor)
		}
	})
}

// ServeHTTP serves the webhook routes on their own (tests, or a server
// that only answers Twilio).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.router.ServeHTTP(w, r) }

func checkPublicURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("webhooks: Config.PublicURL must be an absolute http(s) URL without query, e.g. https://calls.example.com")
	}
	return strings.TrimRight(raw, "/"), nil
}

// url builds an absolute URL of one of the webhook routes.
func (h *Handler) url(route string, q url.Values) string {
	s := h.public + PathPrefix + route
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	return s
}
