package agenttoken

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/didrouter/didrouter"
)

// ErrOff answers every token and link when no secret is configured.
var ErrOff = errors.New("agent tokens and sign-in links are off on this server (DIDROUTER_AGENT_TOKEN_SECRET is not set)")

// ErrRevoked refuses a token, link or session issued before the agent's
// tokens were revoked (or before the worker existed).
var ErrRevoked = errors.New("revoked: it was issued before this agent's tokens were revoked")

// Refused reports whether err refuses a credential (a token, a link): the
// holder is not let in, as opposed to a store failure or an identity that
// names no worker.
func Refused(err error) bool {
	for _, e := range []error{ErrOff, ErrRevoked, ErrMalformed, ErrOldFormat, ErrSignature, ErrExpired, ErrTooLong, ErrFuture} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Finder finds the worker of a softphone identity (*engine.Engine).
type Finder interface {
	WorkerByIdentity(ctx context.Context, identity, workspaceSID string) (didrouter.Worker, error)
}

// Agents checks agent credentials against the store: the worker the
// identity names now, and when that worker's tokens were last revoked.
type Agents struct {
	signer *Signer // nil: tokens and links are off
	find   Finder
	web    didrouter.WebStore
	clock  didrouter.Clock
}

// NewAgents returns the checker; signer may be nil (tokens and links off).
func NewAgents(signer *Signer, find Finder, web didrouter.WebStore, clock didrouter.Clock) (*Agents, error) {
	if find == nil || web == nil || clock == nil {
		return nil, errors.New("agenttoken: a Finder, a WebStore and a Clock are required")
	}
	return &Agents{signer: signer, find: find, web: web, clock: clock}, nil
}

// On reports whether tokens and links are accepted.
func (a *Agents) On() bool { return a.signer != nil }

// Signer returns the signer (nil when off).
func (a *Agents) Signer() *Signer { return a.signer }

// Token checks a bearer token and returns its worker (in workspaceSID, or
// the only workspace where the identity is a worker when "").
func (a *Agents) Token(ctx context.Context, tok, workspaceSID string) (didrouter.Worker, Claims, error) {
	if a.signer == nil {
		return didrouter.Worker{}, Claims{}, ErrOff
	}
	c, err := a.signer.CheckToken(tok, a.clock.Now())
	if err != nil {
		return didrouter.Worker{}, Claims{}, err
	}
	w, err := a.worker(ctx, c, workspaceSID)
	return w, c, err
}

// Link checks a sign-in link and returns its worker. It does not use the
// link up: the caller does (didrouter.WebStore.UseSignInLink with Claims.ID)
// when it starts the session.
func (a *Agents) Link(ctx context.Context, tok string) (didrouter.Worker, Claims, error) {
	if a.signer == nil {
		return didrouter.Worker{}, Claims{}, ErrOff
	}
	c, err := a.signer.CheckLink(tok, a.clock.Now())
	if err != nil {
		return didrouter.Worker{}, Claims{}, err
	}
	w, err := a.worker(ctx, c, "")
	return w, c, err
}

func (a *Agents) worker(ctx context.Context, c Claims, workspaceSID string) (didrouter.Worker, error) {
	w, err := a.find.WorkerByIdentity(ctx, c.Identity, workspaceSID)
	if err != nil {
		return didrouter.Worker{}, err
	}
	// A token minted before its worker existed was meant for someone else
	// who had that identity (compared in seconds, the token's precision).
	if c.Issued.Unix() < w.DateCreated.Unix() {
		return didrouter.Worker{}, ErrRevoked
	}
	if err := a.Current(ctx, w.WorkspaceSID, w.SID, c.Issued); err != nil {
		return didrouter.Worker{}, err
	}
	return w, nil
}

// Current fails with ErrRevoked when something of the worker's issued at
// issued (a token, a link, a web session) predates its revocation.
func (a *Agents) Current(ctx context.Context, workspaceSID, workerSID string, issued time.Time) error {
	return Current(ctx, a.web, workspaceSID, workerSID, issued)
}

// Current is Agents.Current on a WebStore (the web pages check sessions
// with it whether or not links are on).
func Current(ctx context.Context, web didrouter.WebStore, workspaceSID, workerSID string, issued time.Time) error {
	nb, err := web.AgentTokensNotBefore(ctx, workspaceSID, workerSID)
	if err != nil {
		return fmt.Errorf("agenttoken: %w", err)
	}
	if !nb.IsZero() && issued.Before(nb) {
		return ErrRevoked
	}
	return nil
}

// Revoke refuses from now on every token, link and session of the worker
// issued up to now, and ends its web sessions (how many is returned). The
// time is rounded up to the next second: tokens carry seconds, and one
// minted in the same second as the revocation may predate it.
func (a *Agents) Revoke(ctx context.Context, workspaceSID, workerSID string) (notBefore time.Time, ended int, err error) {
	notBefore = a.clock.Now().Truncate(time.Second).Add(time.Second)
	ended, err = a.web.RevokeAgentTokens(ctx, workspaceSID, workerSID, notBefore)
	if err != nil {
		return time.Time{}, 0, err
	}
	return notBefore, ended, nil
}
