package engine

import (
	"context"
	"fmt"
)

// PauseRouting stops this instance from reserving workers: new and moved
// tasks wait where they are (stored, pending). Degraded mode holds routing
// from the moment it sees the store go away until every instance had the
// time to import the calls it routed from memory: until then the store
// thinks the workers those calls hold are free, and a reservation made here
// could ring one of them while their phone already rings.
func (e *Engine) PauseRouting() { e.paused.Store(true) }

// RoutingPaused reports whether PauseRouting is in effect.
func (e *Engine) RoutingPaused() bool { return e.paused.Load() }

// ResumeRouting lets this instance reserve workers again and routes every
// waiting task of the loaded workspaces, in service order.
func (e *Engine) ResumeRouting(ctx context.Context) error {
	if !e.paused.Swap(false) {
		return nil
	}
	e.mu.Lock()
	workspaces := make([]string, 0, len(e.workspaces))
	for sid := range e.workspaces {
		workspaces = append(workspaces, sid)
	}
	e.mu.Unlock()
	var firstErr error
	for _, ws := range workspaces {
		if err := e.serveWaiting(ctx, ws); err != nil {
			firstErr = keepFirst(firstErr, fmt.Errorf("resume routing in %s: %w", ws, err))
		}
	}
	return firstErr
}
