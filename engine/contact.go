package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/routing"
)

// everyoneQueue is a queue of the worker index that no store row backs. It
// holds every worker, so that the lookups by attribute below are answered
// from the index's hash indexes instead of a scan. Its sid cannot clash
// with a TaskQueue's, which starts with "WQ", and no workflow can name it.
const everyoneQueue = "didrouter:every-worker"

// WorkerByContactURI returns the worker whose "contact_uri" attribute is
// exactly uri, such as "client:alice". This is how a softphone's outbound
// call is tied to its agent. The worker index answers with a hash lookup,
// which the store's change feed keeps current on every instance. The row
// is then read from the store, which has the last word. It returns
// ENOTFOUND when no worker has that contact_uri, and ECONFLICT when
// several do.
func (e *Engine) WorkerByContactURI(ctx context.Context, workspaceSID, uri string) (didrouter.Worker, error) {
	if strings.TrimSpace(uri) == "" {
		return didrouter.Worker{}, didrouter.Errorf(didrouter.EINVALID, "contact_uri is empty")
	}
	// Compiled per call: microseconds, next to the store read below.
	everyone, err := routing.Compile("1==1", routing.ScopeWorker)
	if err != nil {
		return didrouter.Worker{}, fmt.Errorf("worker by contact_uri: %w", err)
	}
	match, err := routing.Compile("worker.contact_uri == task.contact_uri", routing.ScopeTarget)
	if err != nil {
		return didrouter.Worker{}, fmt.Errorf("worker by contact_uri: %w", err)
	}
	wi, err := e.index(ctx, workspaceSID)
	if err != nil {
		return didrouter.Worker{}, fmt.Errorf("worker by contact_uri: %w", err)
	}
	wi.mu.Lock()
	ix := wi.ix
	if !ix.HasQueue(everyoneQueue) { // a reload builds a fresh index without it
		ix.SetQueue(everyoneQueue, everyone)
	}
	wi.mu.Unlock()

	hits := ix.Matches(&routing.Target{Queue: everyoneQueue, Expr: match}, routing.Attributes{"contact_uri": uri})
	switch {
	case len(hits) == 0:
		return didrouter.Worker{}, didrouter.Errorf(didrouter.ENOTFOUND, "no worker has contact_uri %s", uri)
	case len(hits) > 1:
		names := make([]string, 0, len(hits))
		for _, h := range hits {
			names = append(names, h.SID+" ("+h.FriendlyName+")")
		}
		return didrouter.Worker{}, didrouter.Errorf(didrouter.ECONFLICT, "contact_uri %s belongs to %d workers: %s", uri, len(hits), strings.Join(names, ", "))
	}
	w, err := e.store.GetWorker(ctx, workspaceSID, hits[0].SID)
	if didrouter.ErrorCode(err) == didrouter.ENOTFOUND {
		e.forgetWorker(ctx, workspaceSID, hits[0].SID) // deleted; the feed has not said so yet
		return didrouter.Worker{}, didrouter.Errorf(didrouter.ENOTFOUND, "no worker has contact_uri %s", uri)
	}
	if err != nil {
		return didrouter.Worker{}, fmt.Errorf("worker by contact_uri: read worker %s: %w", hits[0].SID, err)
	}
	if contactOf(w) != uri {
		e.noteWorker(ctx, w) // changed meanwhile; the feed has not said so yet
		return didrouter.Worker{}, didrouter.Errorf(didrouter.ENOTFOUND, "no worker has contact_uri %s", uri)
	}
	return w, nil
}

// contactOf reads a worker's contact_uri attribute ("" when absent or not a string).
func contactOf(w didrouter.Worker) string {
	attrs, err := routing.ParseAttributes([]byte(w.Attributes))
	if err != nil {
		return ""
	}
	s, _ := attrs["contact_uri"].(string)
	return s
}

// Normalizer returns the engine's phone number normalizer (its default
// region), so that the layers above read and show numbers alike.
func (e *Engine) Normalizer() *routing.Normalizer { return e.norm }

// WorkerByIdentity returns the worker whose contact_uri is
// client:<identity>. The identity is a Voice SDK softphone's, with or
// without "client:". It looks in workspaceSID, or in whichever workspace
// has one when that is "". It returns ENOTFOUND when none has one. It
// returns ECONFLICT when several workers of one workspace share it, or
// when several workspaces have one, and then the caller must name the
// workspace.
func (e *Engine) WorkerByIdentity(ctx context.Context, identity, workspaceSID string) (didrouter.Worker, error) {
	identity = strings.TrimPrefix(strings.TrimSpace(identity), "client:")
	if identity == "" {
		return didrouter.Worker{}, didrouter.Errorf(didrouter.EINVALID, "identity is required (the softphone's client identity, e.g. alice)")
	}
	spaces := []string{workspaceSID}
	if workspaceSID == "" {
		all, err := e.store.ListWorkspaces(ctx)
		if err != nil {
			return didrouter.Worker{}, fmt.Errorf("worker by identity: list workspaces: %w", err)
		}
		spaces = spaces[:0]
		for _, ws := range all {
			spaces = append(spaces, ws.SID)
		}
	}
	var found []didrouter.Worker
	for _, ws := range spaces {
		w, err := e.WorkerByContactURI(ctx, ws, "client:"+identity)
		switch didrouter.ErrorCode(err) {
		case "":
			found = append(found, w)
		case didrouter.ENOTFOUND:
		default:
			return didrouter.Worker{}, err
		}
	}
	switch len(found) {
	case 0:
		return didrouter.Worker{}, didrouter.Errorf(didrouter.ENOTFOUND, "no worker has contact_uri client:%s", identity)
	case 1:
		return found[0], nil
	}
	return didrouter.Worker{}, didrouter.Errorf(didrouter.ECONFLICT, "client:%s is a worker in %d workspaces: name one with ?workspace=", identity, len(found))
}
