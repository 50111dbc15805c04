package engine

import (
	"context"

	"github.com/didrouter/didrouter/routing"
)

// IndexedWorkers returns what a workspace's index holds, loading it first
// if needed (tests).
func (e *Engine) IndexedWorkers(ctx context.Context, workspaceSID string) ([]routing.WorkerInfo, error) {
	wi, err := e.index(ctx, workspaceSID)
	if err != nil {
		return nil, err
	}
	wi.mu.RLock()
	defer wi.mu.RUnlock()
	return wi.ix.Workers(), nil
}
