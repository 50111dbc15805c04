package main

import (
	"fmt"
	"log/slog"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/provision"
	"github.com/didrouter/didrouter/scim"
)

// mounter is a handler that adds its own routes (SCIM).
type mounter interface{ Mount(r chi.Router) }

// newSSO sets up provisioning from the identity provider: SCIM at
// /scim/v2 when DIDROUTER_SCIM_TOKEN is set. It returns what to mount.
func newSSO(cfg config, eng *engine.Engine, st engine.Store, workspaceSID string, logger *slog.Logger) (*provision.Provisioner, []mounter, error) {
	p, err := provision.New(eng, st)
	if err != nil {
		return nil, nil, err
	}
	if cfg.SCIMToken == "" {
		logger.Info("SCIM provisioning is off: set DIDROUTER_SCIM_TOKEN to serve " + scim.Path)
		return p, nil, nil
	}
	h, err := scim.New(scim.Config{Provisioner: p, WorkspaceSID: workspaceSID, Token: cfg.SCIMToken,
		PublicURL: cfg.PublicURL, Logger: logger})
	if err != nil {
		return nil, nil, fmt.Errorf("DIDROUTER_SCIM_TOKEN: %w", err)
	}
	logger.Info("SCIM provisioning on", "url", cfg.PublicURL+scim.Path)
	return p, []mounter{h}, nil
}
