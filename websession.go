package didrouter

import (
	"context"
	"time"
)

// Kinds of web session.
const (
	WebSessionAgent = "agent" // the agent desktop, for one worker
	WebSessionAdmin = "admin" // the admin console
)

// WebSession is one signed-in browser of the web pages. The browser holds a
// random token in a cookie; the store keeps only its SHA-256, so a copy of
// the table does not sign anyone in.
type WebSession struct {
	ID           string // hex SHA-256 of the cookie's token
	Kind         string // WebSessionAgent or WebSessionAdmin
	WorkspaceSID string // agent sessions: the worker's workspace
	WorkerSID    string // agent sessions: the only worker the session may read and change
	CSRF         string // token every state-changing request of the session must carry
	Created      time.Time
	Expires      time.Time
	LastSeen     time.Time
}

// WebStore keeps the sign-in state of the web pages. That is the sessions,
// the used sign-in links, and when each agent's tokens were last revoked.
// It is separate from Store because routing never needs it, and both
// stores implement it. Callers pass every time from their Clock, because
// the store has no clock of its own.
type WebStore interface {
	// InsertWebSession stores a new session; ECONFLICT when the id exists.
	InsertWebSession(ctx context.Context, s WebSession) error
	// GetWebSession returns a session, expired or not (the caller compares
	// Expires with its clock); ENOTFOUND when there is none.
	GetWebSession(ctx context.Context, id string) (WebSession, error)
	// TouchWebSession sets LastSeen; ENOTFOUND when the session is gone.
	TouchWebSession(ctx context.Context, id string, lastSeen time.Time) error
	// DeleteWebSession ends a session; deleting one that is gone is no error.
	DeleteWebSession(ctx context.Context, id string) error
	// PurgeWebSessions deletes the sessions and used sign-in links that
	// have expired at now (Expires not after now).
	PurgeWebSessions(ctx context.Context, now time.Time) error

	// UseSignInLink records that the sign-in link id was used; first is false
	// when it had been used already. The record is kept until expires (after
	// which the link is refused for its age anyway).
	UseSignInLink(ctx context.Context, id string, expires time.Time) (first bool, err error)

	// RevokeAgentTokens makes the worker's agent tokens, sign-in links and
	// web sessions issued before notBefore invalid, and deletes those
	// sessions; it returns how many it deleted. An earlier notBefore than the
	// stored one leaves the stored one. ENOTFOUND when the worker does not exist.
	RevokeAgentTokens(ctx context.Context, workspaceSID, workerSID string, notBefore time.Time) (ended int, err error)
	// AgentTokensNotBefore returns the worker's revocation time (zero when
	// its tokens were never revoked).
	AgentTokensNotBefore(ctx context.Context, workspaceSID, workerSID string) (time.Time, error)
}
