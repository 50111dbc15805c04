// Package scim serves SCIM 2.0 provisioning (RFC 7643, RFC 7644) at
// /scim/v2, so an identity provider such as Okta or Microsoft Entra ID
// creates, updates, deactivates and deletes workers and their numbers.
//
// Users are workers. Every write goes through package provision, and so
// through the engine's worker writes and events. Groups are not stored on
// their own. A group is the set of workers whose "groups" attribute names
// it, and its id is derived from its name. So a group without members is
// forgotten, and a group cannot be renamed. Push it again under its new
// name instead.
//
// Filters and PATCH paths are parsed with github.com/scim2/filter-parser/v2.
// It implements RFC 7644's grammar for both, and it only parses, so the
// mapping to workers stays here. A full SCIM server framework would own the
// resource storage and the handler shapes, while didrouter's resources are
// workers written through the engine.
package scim

import (
	"cmp"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/provision"
)

// Path is where SCIM is served.
const Path = "/scim/v2"

// Schema URIs.
const (
	SchemaUser       = "urn:ietf:params:scim:schemas:core:2.0:User"
	SchemaGroup      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	SchemaEnterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	SchemaList       = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	SchemaPatch      = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	SchemaError      = "urn:ietf:params:scim:api:messages:2.0:Error"
	SchemaSPConfig   = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	SchemaResType    = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	SchemaSchema     = "urn:ietf:params:scim:schemas:core:2.0:Schema"
)

// Limits.
const (
	maxBody     = 1 << 20
	maxCount    = 500 // the most resources one list answers
	maxPatchOps = 1000
)

// Config is what the SCIM handler needs.
type Config struct {
	Provisioner  *provision.Provisioner
	WorkspaceSID string
	Token        string // the Bearer token clients send; required
	PublicURL    string // base of meta.location
	Logger       *slog.Logger
}

// Handler serves /scim/v2.
type Handler struct {
	p     *provision.Provisioner
	ws    string
	token [sha256.Size]byte
	base  string
	log   *slog.Logger
}

// New checks cfg and returns the handler.
func New(cfg Config) (*Handler, error) {
	switch {
	case cfg.Provisioner == nil:
		return nil, errors.New("scim: a provisioner is required")
	case cfg.WorkspaceSID == "":
		return nil, errors.New("scim: a workspace is required")
	case cfg.Token == "":
		return nil, errors.New("scim: a token is required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{p: cfg.Provisioner, ws: cfg.WorkspaceSID, token: sha256.Sum256([]byte(cfg.Token)),
		base: strings.TrimRight(cfg.PublicURL, "/") + Path, log: log}, nil
}

// Mount adds the SCIM routes to r.
func (h *Handler) Mount(r chi.Router) {
	r.Route(Path, func(r chi.Router) {
		r.Use(h.authenticate)
		r.Get("/ServiceProviderConfig", h.serviceProviderConfig)
		r.Get("/ResourceTypes", h.resourceTypes)
		r.Get("/ResourceTypes/{id}", h.resourceType)
		r.Get("/Schemas", h.schemas)
		r.Get("/Schemas/{id}", h.schema)
		mountResource(r, h, "/Users", h.worker, resourceHandlers[didrouter.Worker]{
			list: h.listUsers, create: h.createUser, search: h.searchUsers,
			get: h.getUser, update: h.updateUser, delete: h.deleteUser,
		})
		mountResource(r, h, "/Groups", h.group, resourceHandlers[string]{
			list: h.listGroups, create: h.createGroup, search: h.searchGroups,
			get: h.getGroup, update: h.updateGroup, delete: h.deleteGroup,
		})
		r.NotFound(func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusNotFound, "", "no SCIM endpoint at "+r.URL.Path)
		})
		r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusMethodNotAllowed, "", r.Method+" is not supported at "+r.URL.Path)
		})
	})
}

// authenticate requires "Authorization: Bearer <token>", compared in
// constant time over digests (so neither content nor length leaks).
func (h *Handler) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		scheme, tok, _ := strings.Cut(auth, " ")
		got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(got[:], h.token[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="didrouter-scim"`)
			writeError(w, http.StatusUnauthorized, "", "a valid Bearer token (DIDROUTER_SCIM_TOKEN) is required")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// scimError is RFC 7644's error body; status is a string there.
type scimError struct {
	Schemas  []string `json:"schemas"`
	Status   string   `json:"status"`
	ScimType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail"`
}

func writeError(w http.ResponseWriter, status int, scimType, detail string) {
	writeJSON(w, status, scimError{Schemas: []string{SchemaError}, Status: fmt.Sprint(status), ScimType: scimType, Detail: detail})
}

// handle adapts a handler that returns its error, so that every error is
// answered in SCIM's error schema by fail, in one place.
func (h *Handler) handle(fn func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			h.fail(w, r, err)
		}
	}
}

// resourceHandlers are the handlers of one resource type. get, update
// (PUT and PATCH) and delete act on the one resource of type T the URL
// names.
type resourceHandlers[T any] struct {
	list, create, search func(http.ResponseWriter, *http.Request) error
	get, update, delete  func(http.ResponseWriter, *http.Request, T) error
}

// mountResource routes SCIM's endpoints of one resource type under path.
// resolve reads the resource the URL names; when it fails, its error is the
// answer.
func mountResource[T any](r chi.Router, h *Handler, path string, resolve func(*http.Request) (T, error), hs resourceHandlers[T]) {
	named := func(fn func(http.ResponseWriter, *http.Request, T) error) http.HandlerFunc {
		return h.handle(func(w http.ResponseWriter, r *http.Request) error {
			v, err := resolve(r)
			if err != nil {
				return err
			}
			return fn(w, r, v)
		})
	}
	r.Get(path, h.handle(hs.list))
	r.Post(path, h.handle(hs.create))
	r.Post(path+"/.search", h.handle(hs.search))
	r.Get(path+"/{id}", named(hs.get))
	r.Put(path+"/{id}", named(hs.update))
	r.Patch(path+"/{id}", named(hs.update))
	r.Delete(path+"/{id}", named(hs.delete))
}

// fail answers err. A coded engine error gets its message and status.
// Anything else is a 500 whose details go to the log only.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var be *badRequest
	if errors.As(err, &be) {
		writeError(w, http.StatusBadRequest, be.scimType, be.msg)
		return
	}
	msg := didrouter.ErrorMessage(err)
	switch didrouter.ErrorCode(err) {
	case didrouter.EINVALID:
		writeError(w, http.StatusBadRequest, "invalidValue", msg)
	case didrouter.ENOTFOUND:
		writeError(w, http.StatusNotFound, "", msg)
	case didrouter.ECONFLICT:
		writeError(w, http.StatusConflict, "uniqueness", msg)
	case didrouter.EUNAVAILABLE:
		writeError(w, http.StatusConflict, "", msg)
	default:
		h.log.ErrorContext(r.Context(), "scim request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "", "internal error")
	}
}

// badRequest is a 400 with a SCIM error type (invalidFilter, invalidPath…).
type badRequest struct {
	scimType, msg string
}

func (e *badRequest) Error() string { return e.msg }

func bad(scimType, format string, args ...any) error {
	return &badRequest{scimType: scimType, msg: fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/scim+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// readJSON decodes a request body into a generic document.
func readJSON(w http.ResponseWriter, r *http.Request) (map[string]any, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return nil, bad("invalidSyntax", "the body could not be read (at most %d bytes): %v", maxBody, err)
	}
	var doc map[string]any
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil || doc == nil {
		return nil, bad("invalidSyntax", "the body must be a JSON object")
	}
	if dec.More() {
		return nil, bad("invalidSyntax", "the body must be one JSON object")
	}
	if where := nulIn(doc, ""); where != "" {
		return nil, bad("invalidValue", "%s contains a NUL character", where)
	}
	return doc, nil
}

// nulIn names the first string of v (a key or a value) holding a NUL
// character, "" when none does. Postgres cannot store one and SQLite
// would, so it is refused here and both stores answer alike. Invalid
// UTF-8 needs no check: the JSON decoder replaces it.
func nulIn(v any, at string) string {
	switch v := v.(type) {
	case string:
		if strings.IndexByte(v, 0) >= 0 {
			return cmp.Or(at, "a value")
		}
	case []any:
		for i, e := range v {
			if where := nulIn(e, fmt.Sprintf("%s[%d]", at, i)); where != "" {
				return where
			}
		}
	case map[string]any:
		for k, e := range v {
			name := strings.TrimPrefix(at+"."+k, ".")
			if strings.IndexByte(k, 0) >= 0 {
				return fmt.Sprintf("the attribute name %q", k)
			}
			if where := nulIn(e, name); where != "" {
				return where
			}
		}
	}
	return ""
}
