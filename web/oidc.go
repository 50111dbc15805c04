package web

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/provision"
)

// OIDCCallbackPath is where the identity provider sends the browser back
// (the redirect URI to register: <public URL>/oidc/callback).
const OIDCCallbackPath = "/oidc/callback"

// oidcFlowTTL bounds the time between leaving for the identity provider
// and coming back.
const oidcFlowTTL = 10 * time.Minute

// OIDCConfig turns on sign-in with OpenID Connect for the agent desktop
// and the admin console (docs/sso.md).
type OIDCConfig struct {
	Issuer       string // the provider's issuer URL; its discovery document is read on first use
	ClientID     string
	ClientSecret string   // "" for a public client (PKCE only)
	Scopes       []string // must include openid
	AgentClaim   string   // the claim holding the person's email ("email")
	PhoneClaim   string   // the claim holding their DID ("phone_number"; "" = numbers do not come from sign-in)
	GroupsClaim  string   // the claim listing their groups ("groups")
	AdminGroup   string   // members of this group get the console; "" = nobody does through OIDC
	// PasswordLogin keeps the console's key and secret form, at
	// /admin/signin?password=1; false refuses it.
	PasswordLogin bool
	// Provisioner finds or creates the agent's worker (the same code as
	// SCIM), in WorkspaceSID.
	Provisioner  *provision.Provisioner
	WorkspaceSID string
	// HTTPClient talks to the provider; nil = http.DefaultClient.
	HTTPClient *http.Client
}

// oidcState is the handler's OpenID Connect part.
type oidcState struct {
	cfg      OIDCConfig
	redirect string

	mu       sync.Mutex
	provider *oidc.Provider // discovered on first use, kept once found
}

// EnableOIDC turns on OpenID Connect sign-in. Call it before serving.
func (h *Handler) EnableOIDC(cfg OIDCConfig) error {
	switch {
	case cfg.Issuer == "" || cfg.ClientID == "":
		return errors.New("web: OIDC needs an issuer and a client id")
	case cfg.Provisioner == nil || cfg.WorkspaceSID == "":
		return errors.New("web: OIDC needs a provisioner and a workspace")
	case !slices.Contains(cfg.Scopes, oidc.ScopeOpenID):
		return errors.New("web: OIDC scopes must include openid")
	case cfg.AgentClaim == "":
		return errors.New("web: OIDC needs the claim naming the agent")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	h.oidc.Store(&oidcState{cfg: cfg, redirect: h.admin.publicURL + OIDCCallbackPath})
	return nil
}

func (o *oidcState) ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, o.cfg.HTTPClient)
}

// discover reads the provider's configuration once; a failure is tried
// again at the next sign-in (the provider may have been down).
func (o *oidcState) discover(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	p, err := oidc.NewProvider(o.ctx(ctx), o.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discover the identity provider %s: %w", o.cfg.Issuer, err)
	}
	o.provider = p
	return p, nil
}

func (o *oidcState) oauth(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: o.redirect, Scopes: o.cfg.Scopes}
}

// flow is what the browser carries to the provider and back, in an
// HttpOnly cookie: the state and nonce to compare and the PKCE verifier.
type flow struct {
	Kind     string `json:"k"` // didrouter.WebSessionAgent or didrouter.WebSessionAdmin
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Expires  int64  `json:"e"`
}

func (h *Handler) flowCookie() (name, path string) {
	if h.sessions.secure {
		return "__Host-didrouter_oidc", "/"
	}
	return "didrouter_oidc", OIDCCallbackPath
}

// ssoFirst sends a browser without a session of kind to the identity
// provider when OIDC is on; otherwise (or with a session) it serves next.
// The console's password form stays reachable at ?password=1 while
// PasswordLogin is on.
func (h *Handler) ssoFirst(kind string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		o := h.oidc.Load()
		if o == nil {
			next(w, r)
			return
		}
		if kind == didrouter.WebSessionAdmin && o.cfg.PasswordLogin && r.URL.Query().Get("password") == "1" {
			next(w, r)
			return
		}
		if kind == didrouter.WebSessionAgent {
			// A session of a deleted or signed-out (deactivated) worker
			// counts as none.
			if _, ok, err := h.agentSession(r); err != nil || ok {
				next(w, r)
				return
			}
		} else if _, ok, err := h.sessions.find(r, kind); err == nil && ok {
			http.Redirect(w, r, AdminPath, http.StatusSeeOther)
			return
		}
		h.oidcStart(w, r, o, kind)
	}
}

// passwordLogin refuses the console's key and secret form when OIDC is
// on and DIDROUTER_ADMIN_PASSWORD_LOGIN is off.
func (h *Handler) passwordLogin(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if o := h.oidc.Load(); o != nil && !o.cfg.PasswordLogin {
			h.message(w, r, http.StatusForbidden, AdminAssets, "Sign in with your company account",
				"The key and secret form is turned off on this server (DIDROUTER_ADMIN_PASSWORD_LOGIN=off). Open the console again to sign in through your identity provider.")
			return
		}
		next(w, r)
	}
}

func assetsOf(kind string) string {
	if kind == didrouter.WebSessionAdmin {
		return AdminAssets
	}
	return AgentAssets
}

func (h *Handler) oidcStart(w http.ResponseWriter, r *http.Request, o *oidcState, kind string) {
	p, err := o.discover(r.Context())
	if err != nil {
		h.log.WarnContext(r.Context(), "oidc discovery failed", "err", err)
		h.message(w, r, http.StatusBadGateway, assetsOf(kind), "Your identity provider cannot be reached",
			"didrouter could not read your identity provider's configuration. Try again in a moment; if it keeps failing, tell your administrator.")
		return
	}
	f := flow{Kind: kind, State: randomToken(), Nonce: randomToken(), Verifier: oauth2.GenerateVerifier(),
		Expires: h.clock.Now().Add(oidcFlowTTL).Unix()}
	raw, err := json.Marshal(f)
	if err != nil {
		h.failed(w, r, assetsOf(kind), "start the sign-in", err)
		return
	}
	name, path := h.flowCookie()
	// SameSite=Lax: the provider's redirect back is a top-level GET from
	// another site, which must carry it.
	http.SetCookie(w, &http.Cookie{Name: name, Value: base64.RawURLEncoding.EncodeToString(raw), Path: path,
		MaxAge: int(oidcFlowTTL / time.Second), Secure: h.sessions.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	u := o.oauth(p).AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier))
	http.Redirect(w, r, u, http.StatusFound)
}

// readFlow reads and clears the flow cookie (it is good for one return).
func (h *Handler) readFlow(w http.ResponseWriter, r *http.Request) (flow, bool) {
	name, path := h.flowCookie()
	c, err := r.Cookie(name)
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: path, MaxAge: -1, Secure: h.sessions.secure,
		HttpOnly: true, SameSite: http.SameSiteLaxMode})
	if err != nil || len(c.Value) > 1024 {
		return flow{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	var f flow
	if err != nil || json.Unmarshal(raw, &f) != nil || f.State == "" || f.Nonce == "" || f.Verifier == "" {
		return flow{}, false
	}
	if f.Kind != didrouter.WebSessionAgent && f.Kind != didrouter.WebSessionAdmin {
		return flow{}, false
	}
	if !h.clock.Now().Before(time.Unix(f.Expires, 0)) {
		return flow{}, false
	}
	return f, true
}

func sameToken(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// oidcCallback finishes a sign-in. It compares the state with the browser's
// cookie and exchanges the code with the PKCE verifier. It verifies the ID
// token's issuer, audience and expiry against the provider's keys, and
// compares its nonce. Then it finds or makes the agent's worker, or checks
// the admin group, and starts a session.
func (h *Handler) oidcCallback(w http.ResponseWriter, r *http.Request) {
	o := h.oidc.Load()
	if o == nil {
		http.NotFound(w, r)
		return
	}
	if !h.limiter.allow(r) {
		w.Header().Set("Retry-After", "60")
		h.message(w, r, http.StatusTooManyRequests, AgentAssets, "Too many sign-in attempts", "Wait a minute, then try again.")
		return
	}
	f, ok := h.readFlow(w, r)
	q := r.URL.Query()
	if !ok || !sameToken(q.Get("state"), f.State) {
		h.message(w, r, http.StatusBadRequest, AgentAssets, "This sign-in cannot be finished",
			"It did not start in this browser, took too long, or was already used. Open the page you wanted again to sign in anew.")
		return
	}
	assets := assetsOf(f.Kind)
	if e := q.Get("error"); e != "" {
		h.log.InfoContext(r.Context(), "identity provider refused a sign-in", "error", e, "description", q.Get("error_description"))
		h.message(w, r, http.StatusForbidden, assets, "Your identity provider did not sign you in",
			"It answered: "+clip(e+" "+q.Get("error_description"), 300)+". If you should have access, ask your administrator to assign didrouter to you.")
		return
	}
	claims, err := h.oidcClaims(r.Context(), o, f, q.Get("code"))
	if err != nil {
		h.log.WarnContext(r.Context(), "oidc sign-in refused", "err", err, "client", clientIP(r))
		h.message(w, r, http.StatusForbidden, assets, "Your sign-in could not be verified",
			"didrouter could not verify the identity provider's answer (it may have expired or been altered). Open the page again to sign in anew.")
		return
	}
	switch f.Kind {
	case didrouter.WebSessionAdmin:
		h.oidcAdmin(w, r, o, claims)
	default:
		h.oidcAgent(w, r, o, claims)
	}
}

// oidcClaims exchanges the code and returns the verified ID token's
// claims, completed from the UserInfo endpoint when the token lacks the
// agent or phone claim (some providers keep profile claims there).
func (h *Handler) oidcClaims(ctx context.Context, o *oidcState, f flow, code string) (map[string]any, error) {
	if code == "" {
		return nil, errors.New("no code in the callback")
	}
	p, err := o.discover(ctx)
	if err != nil {
		return nil, err
	}
	cctx := o.ctx(ctx)
	tok, err := o.oauth(p).Exchange(cctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return nil, fmt.Errorf("exchange the code: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, errors.New("the token answer has no id_token")
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: o.cfg.ClientID, Now: h.clock.Now}).Verify(cctx, raw)
	if err != nil {
		return nil, fmt.Errorf("verify the ID token: %w", err)
	}
	if !sameToken(idt.Nonce, f.Nonce) {
		return nil, errors.New("the ID token's nonce is not this sign-in's")
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return nil, fmt.Errorf("read the ID token's claims: %w", err)
	}
	_, hasAgent := claims[o.cfg.AgentClaim]
	_, hasPhone := claims[o.cfg.PhoneClaim]
	if (!hasAgent || (o.cfg.PhoneClaim != "" && !hasPhone)) && p.UserInfoEndpoint() != "" {
		info, err := p.UserInfo(cctx, oauth2.StaticTokenSource(tok))
		if err == nil && info.Subject == idt.Subject {
			more := map[string]any{}
			if info.Claims(&more) == nil {
				for k, v := range more {
					if _, had := claims[k]; !had {
						claims[k] = v
					}
				}
			}
		}
	}
	return claims, nil
}

// groupsOf reads a groups claim: a list of strings, or one string.
func groupsOf(v any) []string {
	switch g := v.(type) {
	case string:
		return []string{g}
	case []any:
		out := make([]string, 0, len(g))
		for _, x := range g {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func (h *Handler) oidcAgent(w http.ResponseWriter, r *http.Request, o *oidcState, claims map[string]any) {
	email, _ := claims[o.cfg.AgentClaim].(string)
	if !strings.Contains(email, "@") {
		h.message(w, r, http.StatusForbidden, AgentAssets, "Your account has no email",
			fmt.Sprintf("The identity provider did not send an email in the %q claim, which names your agent. Ask your administrator.", o.cfg.AgentClaim))
		return
	}
	if v, ok := claims["email_verified"].(bool); ok && !v && o.cfg.AgentClaim == "email" {
		h.message(w, r, http.StatusForbidden, AgentAssets, "Your email is not verified",
			"The identity provider says your email is not verified. Verify it there, then sign in again.")
		return
	}
	p := provision.Person{Email: email}
	if o.cfg.PhoneClaim != "" {
		if v, ok := claims[o.cfg.PhoneClaim]; ok {
			s, _ := v.(string)
			p.Phone = &s
		}
	}
	if o.cfg.GroupsClaim != "" {
		if v, ok := claims[o.cfg.GroupsClaim]; ok {
			g := groupsOf(v)
			p.Groups = &g
		}
	}
	if name, ok := claims["name"].(string); ok {
		p.DisplayName = &name
	}
	wk, created, err := o.cfg.Provisioner.Ensure(r.Context(), o.cfg.WorkspaceSID, p)
	switch didrouter.ErrorCode(err) {
	case "":
	case didrouter.ECONFLICT:
		h.message(w, r, http.StatusConflict, AgentAssets, "Your phone number belongs to another agent",
			didrouter.ErrorMessage(err)+". Nothing was changed. Ask your administrator to correct the number in the identity provider.")
		return
	case didrouter.EINVALID:
		h.message(w, r, http.StatusBadRequest, AgentAssets, "Your phone number cannot be read",
			didrouter.ErrorMessage(err)+". Nothing was changed. Ask your administrator to correct it in the identity provider.")
		return
	default:
		h.failed(w, r, AgentAssets, "find your agent", err)
		return
	}
	if !provision.Active(wk) {
		h.message(w, r, http.StatusForbidden, AgentAssets, "Your account is deactivated",
			"Your identity provider has deactivated you in didrouter. Ask your administrator.")
		return
	}
	if !h.startSession(w, r, didrouter.WebSessionAgent, wk.WorkspaceSID, wk.SID) {
		return
	}
	h.log.InfoContext(r.Context(), "agent signed in", "with", "oidc", "worker", wk.SID, "created", created, "did", wk.PhoneNumber, "client", clientIP(r))
	continuePage(w, AgentPath)
}

func (h *Handler) oidcAdmin(w http.ResponseWriter, r *http.Request, o *oidcState, claims map[string]any) {
	who, _ := claims[o.cfg.AgentClaim].(string)
	if o.cfg.AdminGroup == "" || !slices.Contains(groupsOf(claims[o.cfg.GroupsClaim]), o.cfg.AdminGroup) {
		h.log.WarnContext(r.Context(), "oidc console sign-in refused", "reason", "not an admin", "who", clip(who, 200), "client", clientIP(r))
		h.message(w, r, http.StatusForbidden, AdminAssets, "You are not an administrator",
			"Only members of the identity provider's didrouter administrators group may open the console.")
		return
	}
	if !h.startSession(w, r, didrouter.WebSessionAdmin, "", "") {
		return
	}
	h.log.InfoContext(r.Context(), "admin signed in", "with", "oidc", "who", clip(who, 200), "client", clientIP(r))
	continuePage(w, AdminPath)
}

var continueTmpl = template.Must(template.New("continue").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url={{.}}">
<title>Signed in</title></head><body><p>Signed in. <a href="{{.}}">Continue</a></p></body></html>
`))

// continuePage goes on to path from a page of this site rather than by a
// redirect: the console's cookie is SameSite=Strict, and a browser does
// not send it on a navigation that a redirect from the provider began.
func continuePage(w http.ResponseWriter, path string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = continueTmpl.Execute(w, path)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
