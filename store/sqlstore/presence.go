package sqlstore

import (
	"context"

	"github.com/didrouter/didrouter"
)

const agentPageCols = `workspace_sid, worker_sid, page_id, opened_at, last_seen`

func scanAgentPage(r Row) (didrouter.AgentPage, error) {
	var p didrouter.AgentPage
	err := r.Scan(&p.WorkspaceSID, &p.WorkerSID, &p.PageID, scanTime(&p.OpenedAt), scanTime(&p.LastSeen))
	return p, err
}

// CountMissedCall leaves version alone: the routing index does not read
// the count, and bumping it would make every miss look like a worker change.
func (t *Tx) CountMissedCall(ctx context.Context, workspaceSID, workerSID string) (int, error) {
	var n int
	err := t.db.QueryRow(ctx, `UPDATE workers SET missed_calls = missed_calls + 1
		WHERE workspace_sid = $1 AND sid = $2 RETURNING missed_calls`, workspaceSID, workerSID).Scan(&n)
	switch {
	case isNoRows(err):
		return 0, didrouter.Errorf(didrouter.ENOTFOUND, "worker %s not found", workerSID)
	case err != nil:
		return 0, t.wrap(err, "count a missed call of worker %s", workerSID)
	}
	return n, nil
}

// ClearMissedCalls writes only when there is something to clear: it runs
// on every accepted call.
func (t *Tx) ClearMissedCalls(ctx context.Context, workspaceSID, workerSID string) error {
	wrap := func(err error) error { return t.wrap(err, "clear missed calls of worker %s", workerSID) }
	return t.execLater(ctx, wrap, `UPDATE workers SET missed_calls = 0
		WHERE workspace_sid = $1 AND sid = $2 AND missed_calls <> 0`, workspaceSID, workerSID)
}

// TouchAgentPage updates first, so a heartbeat, which every page sends
// every few seconds, is one UPDATE. Only a page not stored yet needs the
// INSERT.
func (t *Tx) TouchAgentPage(ctx context.Context, p didrouter.AgentPage) (bool, error) {
	n, err := t.db.Exec(ctx, `UPDATE agent_pages SET last_seen = $4
		WHERE workspace_sid = $1 AND worker_sid = $2 AND page_id = $3`,
		p.WorkspaceSID, p.WorkerSID, p.PageID, t.timeArg(p.LastSeen))
	if err != nil {
		return false, t.wrap(err, "touch page %s of worker %s", p.PageID, p.WorkerSID)
	}
	if n > 0 {
		return false, nil
	}
	// A concurrent first heartbeat of the same page may insert it first:
	// then this one only moves last_seen.
	_, err = t.db.Exec(ctx, `INSERT INTO agent_pages (`+agentPageCols+`) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (worker_sid, page_id) DO UPDATE SET last_seen = excluded.last_seen`,
		p.WorkspaceSID, p.WorkerSID, p.PageID, t.timeArg(p.OpenedAt), t.timeArg(p.LastSeen))
	if err != nil {
		if t.d.ForeignKeyViolation(err) {
			return false, didrouter.Errorf(didrouter.ENOTFOUND, "worker %s not found", p.WorkerSID)
		}
		return false, t.wrap(err, "store page %s of worker %s", p.PageID, p.WorkerSID)
	}
	return true, nil
}

func (t *Tx) DeleteAgentPage(ctx context.Context, workspaceSID, workerSID, pageID string) error {
	wrap := func(err error) error { return t.wrap(err, "forget page %s of worker %s", pageID, workerSID) }
	return t.execLater(ctx, wrap, `DELETE FROM agent_pages WHERE workspace_sid = $1 AND worker_sid = $2 AND page_id = $3`,
		workspaceSID, workerSID, pageID)
}

func (t *Tx) AgentPages(ctx context.Context, workspaceSID, workerSID string) ([]didrouter.AgentPage, error) {
	return list(ctx, &t.Queries, scanAgentPage, "agent pages", `SELECT `+agentPageCols+` FROM agent_pages
		WHERE workspace_sid = $1 AND worker_sid = $2 ORDER BY opened_at, page_id`+t.lock, workspaceSID, workerSID)
}

func (t *Tx) DeleteAgentPages(ctx context.Context, workspaceSID, workerSID string) error {
	wrap := func(err error) error { return t.wrap(err, "forget the pages of worker %s", workerSID) }
	return t.execLater(ctx, wrap, `DELETE FROM agent_pages WHERE workspace_sid = $1 AND worker_sid = $2`,
		workspaceSID, workerSID)
}
