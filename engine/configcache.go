package engine

import (
	"context"
	"fmt"
	"sync"
)

// Change kinds of the configuration a call reads on every webhook.
const (
	ChangeWorkspace = "workspace" // a workspace's settings changed
	ChangeBinding   = "binding"   // phone number bindings changed (SID unused: all are forgotten)
)

// maxCachedBindings bounds the binding cache, which also remembers numbers
// that have no binding (most DIDs use the workspace's default workflow).
const maxCachedBindings = 200_000

// configCache keeps workspaces and phone number bindings read on a call's
// path. Like the workflow cache, it is trusted only while the change feed
// runs: a change anywhere evicts, a resync empties it. A read that raced an
// eviction is not kept (gen), so a stale row never outlives its change.
type configCache struct {
	mu         sync.Mutex
	gen        uint64
	workspaces map[string]Workspace
	bindings   map[string]cachedBinding
}

type cachedBinding struct {
	b     PhoneNumberBinding
	bound bool
}

// apply evicts what a committed change may have made stale.
func (c *configCache) apply(ch Change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch ch.Kind {
	case ChangeWorkspace:
		delete(c.workspaces, ch.SID)
	case ChangeBinding:
		c.bindings = nil
	case ChangeResync:
		c.workspaces, c.bindings = nil, nil
	default:
		return
	}
	c.gen++
}

// Workspace returns a workspace, from the cache while the change feed keeps
// it current.
func (e *Engine) Workspace(ctx context.Context, sid string) (Workspace, error) {
	if !e.subscribed.Load() {
		return e.store.GetWorkspace(ctx, sid)
	}
	c := &e.config
	c.mu.Lock()
	ws, ok := c.workspaces[sid]
	gen := c.gen
	c.mu.Unlock()
	if ok {
		return ws, nil
	}
	ws, err := e.store.GetWorkspace(ctx, sid)
	if err != nil {
		return Workspace{}, err
	}
	c.mu.Lock()
	if c.gen == gen {
		if c.workspaces == nil {
			c.workspaces = make(map[string]Workspace)
		}
		c.workspaces[sid] = ws
	}
	c.mu.Unlock()
	return ws, nil
}

// Binding returns the binding of an E.164 number (ENOTFOUND when it has
// none), from the cache while the change feed keeps it current.
func (e *Engine) Binding(ctx context.Context, e164 string) (PhoneNumberBinding, error) {
	if !e.subscribed.Load() {
		return e.store.GetBinding(ctx, e164)
	}
	c := &e.config
	c.mu.Lock()
	cb, ok := c.bindings[e164]
	gen := c.gen
	c.mu.Unlock()
	if ok {
		if !cb.bound {
			return PhoneNumberBinding{}, Errorf(ENOTFOUND, "binding for phone number %s not found", e164)
		}
		return cb.b, nil
	}
	b, err := e.store.GetBinding(ctx, e164)
	switch {
	case err == nil:
		cb = cachedBinding{b: b, bound: true}
	case ErrorCode(err) == ENOTFOUND:
		cb = cachedBinding{}
	default:
		return PhoneNumberBinding{}, fmt.Errorf("read binding of %s: %w", e164, err)
	}
	c.mu.Lock()
	if c.gen == gen {
		if c.bindings == nil || len(c.bindings) >= maxCachedBindings {
			c.bindings = make(map[string]cachedBinding)
		}
		c.bindings[e164] = cb
	}
	c.mu.Unlock()
	return b, err
}
