// Package api is didrouter's admin REST API. It speaks TaskRouter v1 (paths,
// form-encoded parameters, JSON field names, pagination and error bodies)
// so that Twilio's own clients and tools can manage didrouter's workers,
// queues and workflows. routes.go lists every endpoint. Each resource type
// lives in a file of its own, so the rest of TaskRouter's API can be added
// one resource at a time.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/agenttoken"
	"github.com/didrouter/didrouter/api/callback"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/httpmw"
)

// DefaultMaxBody caps a request body.
const DefaultMaxBody = 1 << 20

// DefaultBaseURL is the base of url fields without Config.BaseURL: the
// default listen address, as seen from the same machine.
const DefaultBaseURL = "http://127.0.0.1:8080"

// Engine is what the API needs from the routing engine (*engine.Engine):
// every write goes through it so that the routing index stays current.
// Reads go straight to the store.
type Engine interface {
	CreateWorker(ctx context.Context, workspaceSID string, w engine.WorkerInsert) (didrouter.Worker, error)
	UpdateWorker(ctx context.Context, workspaceSID, sid string, u engine.WorkerUpdate) (didrouter.Worker, error)
	DeleteWorker(ctx context.Context, workspaceSID, sid string) error
	CreateTaskQueue(ctx context.Context, workspaceSID string, q engine.TaskQueueInsert) (didrouter.TaskQueue, error)
	UpdateTaskQueue(ctx context.Context, workspaceSID, sid string, u engine.TaskQueueUpdate) (didrouter.TaskQueue, error)
	DeleteTaskQueue(ctx context.Context, workspaceSID, sid string) error
	CreateWorkflow(ctx context.Context, workspaceSID string, w engine.WorkflowInsert) (didrouter.Workflow, error)
	UpdateWorkflow(ctx context.Context, workspaceSID, sid string, u engine.WorkflowUpdate) (didrouter.Workflow, error)
	DeleteWorkflow(ctx context.Context, workspaceSID, sid string) error
	CreateTask(ctx context.Context, n engine.TaskInsert) (engine.TaskResult, error)
	CancelTask(ctx context.Context, workspaceSID, taskSID, reason string) (didrouter.Task, error)
	CompleteTask(ctx context.Context, workspaceSID, taskSID, reason string) (didrouter.Task, error)
	UpdateTask(ctx context.Context, workspaceSID, sid string, u engine.TaskUpdate) (didrouter.Task, error)
	WrapUpTask(ctx context.Context, workspaceSID, sid, reason string) (didrouter.Task, error)
	DeleteTask(ctx context.Context, workspaceSID, sid string) error
	AcceptReservation(ctx context.Context, workspaceSID, reservationSID string) (didrouter.Reservation, error)
	RejectReservation(ctx context.Context, workspaceSID, reservationSID, status string) (engine.TaskResult, error)
}

// Writer runs store transactions. The API writes through it only what the
// engine has no method for and routing does not depend on, or learns from
// the store's change feed (workspace settings, activities; see
// settings.go). It is the Config.Store when that is an didrouter.Store.
type Writer interface {
	Tx(ctx context.Context, fn func(didrouter.Tx) error) error
}

// Config configures the API. Engine, Store, APIKey and APISecret are required.
type Config struct {
	Engine Engine
	Store  didrouter.Reader
	Clock  didrouter.Clock // for a task's age; nil = the system clock
	Logger *slog.Logger

	// HTTP Basic credentials every request must carry.
	APIKey    string
	APISecret string

	// Agents checks agent tokens (GET /agent/number) and revokes them;
	// nil: agent tokens are refused and revocation answers 400.
	Agents *agenttoken.Agents

	AccountSID string // shown as account_sid (TWILIO_ACCOUNT_SID); may be empty
	// BaseURL prefixes the url fields and page links, e.g.
	// https://didrouter.example.com (DIDROUTER_PUBLIC_URL); "" =
	// DefaultBaseURL. The request's Host is never used: a client chooses it.
	// Its origin may send state-changing requests from a browser.
	BaseURL string
	// AllowedOrigins are further web origins (https://admin.example.com)
	// whose pages may send state-changing requests (DIDROUTER_ALLOWED_ORIGINS).
	AllowedOrigins []string

	MaxBody int64 // bytes; 0 = DefaultMaxBody
	// Callbacks checks the callback URLs set through the API (didrouter
	// itself, the allow-list); nil = any absolute http(s) URL.
	Callbacks *callback.Policy
	// CallSettings keeps business hours and voicemail timing
	// (callsettings.go); nil = the Store's, when it keeps them.
	CallSettings didrouter.CallSettingsStore
}

// Handler serves the API.
type Handler struct {
	eng     Engine
	store   didrouter.Reader
	writer  Writer // nil: the endpoints that need it answer 400
	clock   didrouter.Clock
	log     *slog.Logger
	auth    credentials
	agents  *agenttoken.Agents
	account string
	base    string
	origins originPolicy
	maxBody int64
	router  chi.Router
	// callbacks checks callback URLs (nil: any absolute http(s) URL).
	callbacks *callback.Policy
	settings  didrouter.CallSettingsStore // nil: the call settings endpoints answer 400
}

// NewHandler checks cfg and returns the API handler.
func NewHandler(cfg Config) (*Handler, error) {
	switch {
	case cfg.Engine == nil:
		return nil, errors.New("api: Config.Engine is required")
	case cfg.Store == nil:
		return nil, errors.New("api: Config.Store is required")
	case cfg.APIKey == "" || cfg.APISecret == "":
		return nil, errors.New("api: Config.APIKey and Config.APISecret are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = didrouter.SystemClock{}
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return nil, fmt.Errorf("api: Config.BaseURL must be an absolute http(s) URL without query, not %q", cfg.BaseURL)
	}
	origins, err := newOriginPolicy(base, cfg.AllowedOrigins)
	if err != nil {
		return nil, fmt.Errorf("api: Config.AllowedOrigins: %w", err)
	}
	writer, _ := cfg.Store.(Writer)
	if cfg.CallSettings == nil {
		cfg.CallSettings, _ = cfg.Store.(didrouter.CallSettingsStore)
	}
	h := &Handler{
		writer:  writer,
		eng:     cfg.Engine,
		store:   cfg.Store,
		clock:   cfg.Clock,
		log:     cfg.Logger,
		auth:    newCredentials(cfg.APIKey, cfg.APISecret),
		agents:  cfg.Agents,
		account: cfg.AccountSID,
		base:    base,
		origins: origins,
		maxBody: cfg.MaxBody,

		callbacks: cfg.Callbacks,
		settings:  cfg.CallSettings,
	}
	r := chi.NewRouter()
	r.NotFound(h.handle(h.notFound))
	r.MethodNotAllowed(h.handle(h.methodNotAllowed))
	h.Mount(r)
	h.router = r
	return h, nil
}

// ServeHTTP serves the API on its own.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.router.ServeHTTP(w, r) }

// recoverer turns a panic into Twilio's 500 error body; the stack goes to
// the log only.
func (h *Handler) recoverer(next http.Handler) http.Handler {
	return httpmw.Recover(h.log, "api request panicked", func(w http.ResponseWriter) {
		writeTwilioError(w, twilioError{Status: http.StatusInternalServerError, Code: 20500, Message: "Internal server error"})
	})(next)
}

func (h *Handler) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, h.maxBody)
		next.ServeHTTP(w, r)
	})
}

// checkInput parses the query and form body of every request and refuses
// bytes no store should get (see checkText), once for every handler.
func checkInput(r *http.Request) error {
	if _, err := parseForm(r); err != nil {
		return err
	}
	return checkParams(r)
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) error {
	return didrouter.Errorf(didrouter.ENOTFOUND, "The requested resource %s was not found", r.URL.Path)
}

func (h *Handler) methodNotAllowed(w http.ResponseWriter, r *http.Request) error {
	return &statusError{status: http.StatusMethodNotAllowed, code: 20004, msg: "Method not allowed"}
}
