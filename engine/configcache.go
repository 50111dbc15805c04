package engine

import (
	"context"
	"fmt"
	"sync"

	"github.com/didrouter/didrouter"
)

// configCache keeps workspaces and phone number bindings read on a call's
// path. Like the workflow cache, it is trusted only while the change feed
// runs: a change anywhere evicts, a resync empties it. A read that raced an
// eviction is not kept (gen), so a stale row never outlives its change.
type configCache struct {
	mu         sync.Mutex
	gen        uint64
	workspaces map[string]didrouter.Workspace
	bindings   map[string]didrouter.PhoneNumberBinding // every binding; nil = not loaded
	callbacks  map[string]bool                         // workspace sid → some workflow has an assignment callback URL
}

// apply evicts what a committed change may have made stale.
func (c *configCache) apply(ch didrouter.Change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch ch.Kind {
	case didrouter.ChangeWorkspace:
		delete(c.workspaces, ch.SID)
	case didrouter.ChangeBinding:
		c.bindings = nil
	case didrouter.ChangeWorkflow:
		delete(c.callbacks, ch.WorkspaceSID)
	case didrouter.ChangeResync:
		c.workspaces, c.bindings, c.callbacks = nil, nil, nil
	default:
		return
	}
	c.gen++
}

// cached returns the value under key in the map pick selects, reading it
// with read on a miss and keeping it unless a change came in meanwhile.
func cached[K comparable, V any](c *configCache, pick func(*configCache) *map[K]V, key K, read func() (V, error)) (V, error) {
	c.mu.Lock()
	v, ok := (*pick(c))[key]
	gen := c.gen
	c.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := read()
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	if c.gen == gen {
		m := pick(c)
		if *m == nil {
			*m = make(map[K]V)
		}
		(*m)[key] = v
	}
	c.mu.Unlock()
	return v, nil
}

// Workspace returns a workspace, from the cache while the change feed keeps
// it current.
func (e *Engine) Workspace(ctx context.Context, sid string) (didrouter.Workspace, error) {
	if !e.subscribed.Load() {
		return e.store.GetWorkspace(ctx, sid)
	}
	return cached(&e.config, func(c *configCache) *map[string]didrouter.Workspace { return &c.workspaces }, sid,
		func() (didrouter.Workspace, error) { return e.store.GetWorkspace(ctx, sid) })
}

// Binding returns the binding of an E.164 number (ENOTFOUND when it has
// none). While the change feed keeps it current, every binding is held in
// memory (one per number the account routes here), so a number without a
// binding, the usual DID, costs no read either.
func (e *Engine) Binding(ctx context.Context, e164 string) (didrouter.PhoneNumberBinding, error) {
	if !e.subscribed.Load() {
		return e.store.GetBinding(ctx, e164)
	}
	c := &e.config
	c.mu.Lock()
	all, gen := c.bindings, c.gen
	c.mu.Unlock()
	if all == nil {
		var err error
		if all, err = e.loadBindings(ctx); err != nil {
			return didrouter.PhoneNumberBinding{}, err
		}
		c.mu.Lock()
		if c.gen == gen {
			c.bindings = all
		}
		c.mu.Unlock()
	}
	b, ok := all[e164]
	if !ok {
		return didrouter.PhoneNumberBinding{}, didrouter.Errorf(didrouter.ENOTFOUND, "binding for phone number %s not found", e164)
	}
	return b, nil
}

// loadBindings reads the bindings of every workspace.
func (e *Engine) loadBindings(ctx context.Context) (map[string]didrouter.PhoneNumberBinding, error) {
	wss, err := e.store.ListWorkspaces(ctx)
	if err != nil {
		return nil, fmt.Errorf("list workspaces: %w", err)
	}
	all := make(map[string]didrouter.PhoneNumberBinding)
	for _, ws := range wss {
		list, err := e.store.ListBindings(ctx, ws.SID)
		if err != nil {
			return nil, fmt.Errorf("list bindings of %s: %w", ws.SID, err)
		}
		for _, b := range list {
			all[b.PhoneNumber] = b
		}
	}
	return all, nil
}

// AssignmentCallbacksUsed reports whether any workflow of the workspace has
// an assignment callback URL (or a fallback one). Most workspaces have none,
// and every reservation asks. Without the change feed it answers true: the
// caller then reads the reservation's workflow itself.
func (e *Engine) AssignmentCallbacksUsed(ctx context.Context, workspaceSID string) (bool, error) {
	if !e.subscribed.Load() {
		return true, nil
	}
	return cached(&e.config, func(c *configCache) *map[string]bool { return &c.callbacks }, workspaceSID,
		func() (bool, error) {
			flows, err := e.store.ListWorkflows(ctx, workspaceSID)
			if err != nil {
				return true, fmt.Errorf("list workflows of %s: %w", workspaceSID, err)
			}
			for _, f := range flows {
				if f.AssignmentCallbackURL != "" || f.FallbackAssignmentCallbackURL != "" {
					return true, nil
				}
			}
			return false, nil
		})
}
