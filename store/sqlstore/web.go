package sqlstore

import (
	"context"
	"time"

	"github.com/didrouter/didrouter"
)

const webSessionCols = `id, kind, workspace_sid, worker_sid, csrf_token, created, expires, last_seen`

func scanWebSession(r Row) (didrouter.WebSession, error) {
	var s didrouter.WebSession
	err := r.Scan(&s.ID, &s.Kind, &s.WorkspaceSID, &s.WorkerSID, &s.CSRF,
		scanTime(&s.Created), scanTime(&s.Expires), scanTime(&s.LastSeen))
	return s, err
}

func (w Web) InsertWebSession(ctx context.Context, s didrouter.WebSession) error {
	return w.write(ctx, func(t *Tx) error {
		return t.insert(ctx, "web session", "with this id", "", `INSERT INTO web_sessions (`+webSessionCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			s.ID, s.Kind, s.WorkspaceSID, s.WorkerSID, s.CSRF, t.timeArg(s.Created), t.timeArg(s.Expires), t.timeArg(s.LastSeen))
	})
}

func (w Web) GetWebSession(ctx context.Context, id string) (didrouter.WebSession, error) {
	// The id is not named in the error: it is a credential's digest.
	return getRow(ctx, w.q, scanWebSession, "web session", "with this id",
		`SELECT `+webSessionCols+` FROM web_sessions WHERE id = $1`, id)
}

func (w Web) TouchWebSession(ctx context.Context, id string, lastSeen time.Time) error {
	return w.write(ctx, func(t *Tx) error {
		return t.execOne(ctx, "web session", "with this id", `UPDATE web_sessions SET last_seen = $2 WHERE id = $1`, id, t.timeArg(lastSeen))
	})
}

func (w Web) DeleteWebSession(ctx context.Context, id string) error {
	return w.write(ctx, func(t *Tx) error {
		if _, err := t.db.Exec(ctx, `DELETE FROM web_sessions WHERE id = $1`, id); err != nil {
			return t.wrap(err, "delete web session")
		}
		return nil
	})
}

func (w Web) PurgeWebSessions(ctx context.Context, now time.Time) error {
	return w.write(ctx, func(t *Tx) error {
		if _, err := t.db.Exec(ctx, `DELETE FROM web_sessions WHERE expires <= $1`, t.timeArg(now)); err != nil {
			return t.wrap(err, "purge web sessions")
		}
		if _, err := t.db.Exec(ctx, `DELETE FROM web_signin_links WHERE expires <= $1`, t.timeArg(now)); err != nil {
			return t.wrap(err, "purge used sign-in links")
		}
		return nil
	})
}

func (w Web) UseSignInLink(ctx context.Context, id string, expires time.Time) (bool, error) {
	var first bool
	err := w.write(ctx, func(t *Tx) error {
		// One statement decides: of two instances using one link at once,
		// exactly one inserts the row.
		n, err := t.db.Exec(ctx, `INSERT INTO web_signin_links (id, expires) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`,
			id, t.timeArg(expires))
		if err != nil {
			return t.wrap(err, "record sign-in link")
		}
		first = n == 1
		return nil
	})
	return first, err
}

func (w Web) RevokeAgentTokens(ctx context.Context, workspaceSID, workerSID string, notBefore time.Time) (int, error) {
	var ended int
	err := w.write(ctx, func(t *Tx) error {
		if err := t.workerExists(ctx, workspaceSID, workerSID); err != nil {
			return err
		}
		// The revocation time only moves forward: two revocations from
		// instances with slightly different clocks keep the later one.
		if _, err := t.db.Exec(ctx, `INSERT INTO agent_token_revocations (worker_sid, workspace_sid, not_before)
			VALUES ($1, $2, $3)
			ON CONFLICT (worker_sid) DO UPDATE SET not_before = CASE
				WHEN excluded.not_before > agent_token_revocations.not_before THEN excluded.not_before
				ELSE agent_token_revocations.not_before END`,
			workerSID, workspaceSID, t.timeArg(notBefore)); err != nil {
			return t.wrap(err, "revoke agent tokens of worker %s", workerSID)
		}
		n, err := t.db.Exec(ctx, `DELETE FROM web_sessions WHERE workspace_sid = $1 AND worker_sid = $2`, workspaceSID, workerSID)
		if err != nil {
			return t.wrap(err, "end web sessions of worker %s", workerSID)
		}
		ended = int(n)
		// The worker's open agent pages re-check their sessions now.
		return t.notifyWorker(ctx, workspaceSID, workerSID)
	})
	return ended, err
}

func (w Web) AgentTokensNotBefore(ctx context.Context, workspaceSID, workerSID string) (time.Time, error) {
	var at time.Time
	err := w.q.db.QueryRow(ctx, `SELECT not_before FROM agent_token_revocations WHERE workspace_sid = $1 AND worker_sid = $2`,
		workspaceSID, workerSID).Scan(scanTime(&at))
	switch {
	case err == nil:
		return at, nil
	case isNoRows(err):
		return time.Time{}, nil
	default:
		return time.Time{}, w.q.wrap(err, "read agent token revocation of worker %s", workerSID)
	}
}
