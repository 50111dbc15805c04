package engine

import "context"

// CachedWorkflow returns a workflow from the engine's cache (kept current by
// the change feed while Start runs; read from the store otherwise), for
// callers on a call's path that would otherwise read it on every request.
func (e *Engine) CachedWorkflow(ctx context.Context, workspaceSID, sid string) (Workflow, error) {
	row, _, err := e.workflow(ctx, workspaceSID, sid)
	return row, err
}
