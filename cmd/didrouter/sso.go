package main

import (
	"fmt"
	"log/slog"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/agenttoken"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/provision"
	"github.com/didrouter/didrouter/scim"
	"github.com/didrouter/didrouter/web"
)

// mounter is a handler that adds its own routes (SCIM).
type mounter interface{ Mount(r chi.Router) }

// newSSO sets up the identity provider's side: sign-in with OpenID Connect
// on the pages when DIDROUTER_OIDC_ISSUER is set, and SCIM at /scim/v2
// when DIDROUTER_SCIM_TOKEN is set. Both write workers through one
// provisioner. It returns what to mount.
func newSSO(cfg config, eng *engine.Engine, st didrouter.Store, workspaceSID string, pages *web.Handler, agents *agenttoken.Agents, logger *slog.Logger) (*provision.Provisioner, []mounter, error) {
	var revoker provision.Revoker // a deactivated agent is signed out everywhere
	if agents != nil {
		revoker = agents
	}
	p, err := provision.New(eng, st, revoker)
	if err != nil {
		return nil, nil, err
	}
	if o := cfg.OIDC; o.Issuer != "" {
		err := pages.EnableOIDC(web.OIDCConfig{Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: o.ClientSecret,
			Scopes: o.Scopes, AgentClaim: o.AgentClaim, PhoneClaim: o.PhoneClaim, GroupsClaim: o.GroupsClaim,
			AdminGroup: o.AdminGroup, PasswordLogin: cfg.AdminPasswordLogin, Provisioner: p, WorkspaceSID: workspaceSID})
		if err != nil {
			return nil, nil, fmt.Errorf("DIDROUTER_OIDC_ISSUER: %w", err)
		}
		logger.Info("oidc sign-in on", "issuer", o.Issuer, "redirect_uri", cfg.PublicURL+web.OIDCCallbackPath,
			"admin_group", o.AdminGroup, "admin_password_login", cfg.AdminPasswordLogin)
	}
	if cfg.SCIMToken == "" {
		logger.Info("scim provisioning off", "fix", "set DIDROUTER_SCIM_TOKEN to serve "+scim.Path)
		return p, nil, nil
	}
	h, err := scim.New(scim.Config{Provisioner: p, WorkspaceSID: workspaceSID, Token: cfg.SCIMToken,
		PublicURL: cfg.PublicURL, Logger: logger})
	if err != nil {
		return nil, nil, fmt.Errorf("DIDROUTER_SCIM_TOKEN: %w", err)
	}
	logger.Info("scim provisioning on", "url", cfg.PublicURL+scim.Path)
	return p, []mounter{h}, nil
}
