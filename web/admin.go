package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/api"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/routing"
)

// The admin console: every page behind an admin session, every change a
// POST from the console's own origin with the session's CSRF token.
// Changes go through the engine, so they follow the API's rules and give
// its errors.
const (
	AdminBoard       = "/admin/board"  // the board's fragment (live refresh)
	AdminEvents      = "/admin/events" // server-sent events: "the board changed"
	AdminAgents      = "/admin/agents"
	AdminAgentNew    = "/admin/agents/new"
	AdminAgentImport = "/admin/agents/import"
	AdminAgentExport = "/admin/agents/export"
	AdminCalls       = "/admin/calls"
)

// adminPageNames are the admin console's templates; adminPartials holds the
// pieces they share (navigation, the board).
var adminPageNames = []string{"admin_agents", "admin_agent", "admin_link", "admin_import", "admin_calls", "admin_call", "admin_hours", "admin_hours_number"}

const adminPartials = "assets/templates/admin_parts.html"

// AdminEngine is what the admin console needs from the routing engine
// (*engine.Engine) besides Engine: the same calls as the admin API.
type AdminEngine interface {
	Engine
	CreateWorker(ctx context.Context, workspaceSID string, n engine.WorkerInsert) (didrouter.Worker, error)
	DeleteWorker(ctx context.Context, workspaceSID, sid string) error
	ImportWorkers(ctx context.Context, workspaceSID string, rows []engine.WorkerImport, dryRun bool) ([]engine.ImportedWorker, error)
	Explain(ctx context.Context, t didrouter.Task, focus string) (*routing.Explanation, error)
}

// adminState is the console's part of the handler.
type adminState struct {
	workspaceSID string // "" = the oldest workspace
	publicURL    string // base of sign-in links
	loc          *time.Location
	board        boardCache
}

func newAdminState(cfg Config, publicURL string) *adminState {
	return &adminState{workspaceSID: cfg.WorkspaceSID, publicURL: publicURL, loc: time.Local,
		board: boardCache{byWS: map[string]*boardEntry{}}}
}

// Admin is the signed-in administrator of a request (AdminOnly).
type Admin struct {
	Session   didrouter.WebSession
	Workspace didrouter.Workspace // the workspace the console shows
}

type adminKey struct{}

func adminFrom(ctx context.Context) Admin {
	a, _ := ctx.Value(adminKey{}).(Admin)
	return a
}

// mountAdmin registers the console's pages (inside Mount's group).
func (h *Handler) mountAdmin(r chi.Router) {
	r.Group(func(r chi.Router) {
		r.Use(h.AdminOnly(maxForm))
		r.Get(AdminPath, h.adminBoardPage)
		r.Get(AdminBoard, h.adminBoardFragment)
		r.Get(AdminEvents, h.adminEvents)
		r.Get(AdminAgents, h.adminAgents)
		r.Post(AdminAgents, h.adminCreateAgent)
		r.Get(AdminAgentNew, h.adminNewAgent)
		r.Get(AdminAgentExport, h.adminExport)
		r.Get(AdminAgentImport, h.adminImportPage)
		r.Get(AdminAgents+"/{sid}", h.adminAgent)
		r.Post(AdminAgents+"/{sid}", h.adminUpdateAgent)
		r.Post(AdminAgents+"/{sid}/activity", h.adminSetActivity)
		r.Post(AdminAgents+"/{sid}/delete", h.adminDeleteAgent)
		r.Post(AdminAgents+"/{sid}/link", h.adminSignInLink)
		r.Get(AdminCalls, h.adminCalls)
		r.Get(AdminCalls+"/{sid}", h.adminCall)
		h.mountAdminHours(r)
	})
	// A DID file may be larger than a form.
	r.With(h.AdminOnly(maxImport)).Post(AdminAgentImport, h.adminImport)
}

// AdminOnly lets through only requests of a signed-in administrator, with
// the console's workspace in the context; a state-changing request must
// also come from the pages' own origin and carry the session's CSRF token,
// and its body is bounded by limit. A page asked for without a session
// sends the browser to the sign-in form; anything else is refused.
func (h *Handler) AdminOnly(limit int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if h.adminCheck == nil || h.adminEngine() == nil {
				h.render(w, r, http.StatusServiceUnavailable, "admin_signin", view{Title: "Admin sign-in", Assets: AdminAssets})
				return
			}
			sess, ok, err := h.sessions.find(r, didrouter.WebSessionAdmin)
			switch {
			case err != nil:
				h.failed(w, r, AdminAssets, "read your session", err)
				return
			case !ok && r.Method == http.MethodGet && r.URL.Path != AdminBoard && r.URL.Path != AdminEvents:
				http.Redirect(w, r, AdminSignInPath, http.StatusSeeOther)
				return
			case !ok:
				h.message(w, r, http.StatusUnauthorized, AdminAssets, "You are signed out",
					"Your admin session has ended: sign in again, then repeat what you did.")
				return
			}
			if !safeMethod(r.Method) {
				r.Body = http.MaxBytesReader(w, r.Body, limit)
				if err := readAdminForm(r, limit); err != nil {
					var tooLarge *http.MaxBytesError
					if errors.As(err, &tooLarge) {
						h.message(w, r, http.StatusRequestEntityTooLarge, AdminAssets, "Too large",
							fmt.Sprintf("This form is larger than the %d bytes it may be.", tooLarge.Limit))
						return
					}
					h.message(w, r, http.StatusBadRequest, AdminAssets, "Unreadable form", "didrouter could not read this form: "+err.Error())
					return
				}
				if err := h.origins.Check(r); err != nil {
					h.message(w, r, http.StatusForbidden, AdminAssets, "Refused", "This request came from another site and was refused.")
					return
				}
				if !csrfOK(r, sess) {
					h.message(w, r, http.StatusForbidden, AdminAssets, "Refused",
						"This form is out of date (its security token does not match): reload the page and try again.")
					return
				}
			}
			ws, err := h.consoleWorkspace(r.Context())
			if err != nil {
				h.failed(w, r, AdminAssets, "read the workspace", err)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), adminKey{}, Admin{Session: sess, Workspace: ws})))
		})
	}
}

// readAdminForm reads a console form's body, multipart or not, before the
// CSRF check reads its token. A body too large is then told as such, on a
// page. parseForm does the same for the desktop's scripts, in text. Text
// Postgres cannot store (NUL, invalid UTF-8) is refused here, as the API
// refuses it, so that both stores answer alike with a 400.
func readAdminForm(r *http.Request, limit int64) error {
	var err error
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
		err = r.ParseMultipartForm(limit)
	} else {
		err = r.ParseForm()
	}
	if err != nil {
		return err
	}
	return api.CheckRequestText(r)
}

// consoleWorkspace is the configured workspace, else the oldest one.
func (h *Handler) consoleWorkspace(ctx context.Context) (didrouter.Workspace, error) {
	if h.admin.workspaceSID != "" {
		return h.store.GetWorkspace(ctx, h.admin.workspaceSID)
	}
	list, err := h.store.ListWorkspaces(ctx)
	if err != nil {
		return didrouter.Workspace{}, fmt.Errorf("list workspaces: %w", err)
	}
	if len(list) == 0 {
		return didrouter.Workspace{}, didrouter.Errorf(didrouter.ENOTFOUND, "there is no workspace")
	}
	return slices.MinFunc(list, func(a, b didrouter.Workspace) int { return a.DateCreated.Compare(b.DateCreated) }), nil
}

// adminEngine is the engine's admin side, or nil when it has none.
func (h *Handler) adminEngine() AdminEngine {
	a, _ := h.eng.(AdminEngine)
	return a
}

// adminPage is the frame of every console page.
type adminPage struct {
	Nav       string // the page's entry in the navigation
	Workspace string // the workspace's name
	Notice    string // what the last change did
	Data      any
}

// renderAdmin renders a console page.
func (h *Handler) renderAdmin(w http.ResponseWriter, r *http.Request, status int, name, title, nav string, v view, data any) {
	a := adminFrom(r.Context())
	v.Title, v.Assets, v.CSRF, v.SignOut = title, AdminAssets, a.Session.CSRF, AdminSignOut
	v.Admin = &adminPage{Nav: nav, Workspace: a.Workspace.FriendlyName, Notice: v.Message, Data: data}
	v.Message = ""
	h.render(w, r, status, name, v)
}

// adminStatus maps an engine error of a console action to the status the
// API would answer. ok is false for an error the engine did not code, which
// gets a plain failure page instead of the API's message.
func adminStatus(err error) (int, bool) {
	switch didrouter.ErrorCode(err) {
	case didrouter.EINVALID:
		return http.StatusBadRequest, true
	case didrouter.ENOTFOUND:
		return http.StatusNotFound, true
	case didrouter.ECONFLICT, didrouter.EUNAVAILABLE:
		return http.StatusConflict, true
	}
	return http.StatusInternalServerError, false
}

// waitText words a number of seconds as people read a wait: "45 s",
// "2 min 05 s", "1 h 02 min".
func waitText(sec int) string {
	switch {
	case sec < 60:
		return fmt.Sprintf("%d s", sec)
	case sec < 3600:
		return fmt.Sprintf("%d min %02d s", sec/60, sec%60)
	}
	return fmt.Sprintf("%d h %02d min", sec/3600, sec%3600/60)
}

// withQuery is path with one query parameter.
func withQuery(path, key, value string) string {
	return path + "?" + url.Values{key: {value}}.Encode()
}

// formValue is a trimmed form field.
func formValue(r *http.Request, name string) string { return strings.TrimSpace(r.PostFormValue(name)) }
