package api

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/api/callback"
)

// Workspace settings and activities are written here, in one store
// transaction each, rather than through the engine. Routing does not depend
// on them, because a renamed activity keeps its availability and
// availability cannot change. The store's change feed has every engine
// reload the activity names its index keeps.

// noWriter is the answer of an endpoint that needs the store's Tx.
func noWriter(what string) error {
	return didrouter.Errorf(didrouter.EINVALID, "%s is not available: the API was configured with a read-only store", what)
}

// workspaceUpdate is what POST /Workspaces/{WS} may change; nil = unchanged.
type workspaceUpdate struct {
	FriendlyName       *string
	DefaultActivitySID *string
	TimeoutActivitySID *string // "" clears it
	EventCallbackURL   *string // "" clears it
	EventsFilter       *string // comma-separated event types; "" clears it (every event)
}

func (h *Handler) writeWorkspace(ctx context.Context, sid string, u workspaceUpdate) (didrouter.Workspace, error) {
	if h.writer == nil {
		return didrouter.Workspace{}, noWriter("updating a workspace")
	}
	err := h.writer.Tx(ctx, func(tx didrouter.Tx) error {
		ws, err := tx.GetWorkspace(ctx, sid)
		if err != nil {
			return err
		}
		if u.FriendlyName != nil {
			name := strings.TrimSpace(*u.FriendlyName)
			if name == "" {
				return didrouter.Errorf(didrouter.EINVALID, "FriendlyName must not be empty")
			}
			ws.FriendlyName = name
		}
		for _, a := range []struct {
			param string
			sid   *string
			dst   *string
			may   bool // may be cleared
		}{
			{"DefaultActivitySid", u.DefaultActivitySID, &ws.DefaultActivitySID, false},
			{"TimeoutActivitySid", u.TimeoutActivitySID, &ws.TimeoutActivitySID, true},
		} {
			if a.sid == nil {
				continue
			}
			if *a.sid == "" && a.may {
				*a.dst = ""
				continue
			}
			if _, err := tx.GetActivity(ctx, sid, *a.sid); err != nil {
				if didrouter.ErrorCode(err) == didrouter.ENOTFOUND {
					return didrouter.Errorf(didrouter.EINVALID, "%s %q is not an activity of workspace %s", a.param, *a.sid, sid)
				}
				return err
			}
			*a.dst = *a.sid
		}
		if u.EventCallbackURL != nil {
			v, err := h.callbackURL("EventCallbackUrl", *u.EventCallbackURL, ws.EventCallbackURL)
			if err != nil {
				return err
			}
			ws.EventCallbackURL = v
		}
		if u.EventsFilter != nil {
			ws.EventsFilter = normalizeEventsFilter(*u.EventsFilter)
		}
		ws.DateUpdated = h.clock.Now()
		if err := tx.UpdateWorkspace(ctx, ws); err != nil {
			return fmt.Errorf("update workspace %s: %w", sid, err)
		}
		return nil
	})
	if err != nil {
		return didrouter.Workspace{}, err
	}
	return h.store.GetWorkspace(ctx, sid)
}

// normalizeEventsFilter trims the event types of a comma-separated
// EventsFilter and drops empty entries ("" or only commas = every event).
func normalizeEventsFilter(raw string) string {
	var kept []string
	for _, f := range strings.Split(raw, ",") {
		if f = strings.TrimSpace(f); f != "" {
			kept = append(kept, f)
		}
	}
	return strings.Join(kept, ",")
}

// callbackURL returns the callback URL to store when next is sent as param
// to replace stored. An empty next clears it. A URL sent back as the API
// shows it, with its password hidden, keeps stored. Any other URL must pass
// the callback policy.
func (h *Handler) callbackURL(param, next, stored string) (string, error) {
	if next == "" {
		return "", nil
	}
	v, err := callback.KeepHiddenPassword(next, stored)
	if err != nil {
		return "", didrouter.Errorf(didrouter.EINVALID, "%s %v", param, err)
	}
	var refused *callback.RefusedError
	if err := h.callbacks.Check(v); errors.As(err, &refused) {
		return "", didrouter.Errorf(didrouter.EINVALID, "%s %s", param, refused.Reason)
	} else if err != nil {
		return "", err
	}
	return v, nil
}

func (h *Handler) insertActivity(ctx context.Context, ws, name string, available bool) (didrouter.Activity, error) {
	if h.writer == nil {
		return didrouter.Activity{}, noWriter("creating an activity")
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return didrouter.Activity{}, didrouter.Errorf(didrouter.EINVALID, "FriendlyName is required")
	}
	now := h.clock.Now()
	a := didrouter.Activity{SID: didrouter.NewSID(didrouter.PrefixActivity), WorkspaceSID: ws, FriendlyName: name,
		Available: available, DateCreated: now, DateUpdated: now}
	err := h.writer.Tx(ctx, func(tx didrouter.Tx) error {
		if err := uniqueActivityName(ctx, tx, ws, name, ""); err != nil {
			return err
		}
		return tx.InsertActivity(ctx, a)
	})
	if err != nil {
		return didrouter.Activity{}, err
	}
	return h.store.GetActivity(ctx, ws, a.SID)
}

// uniqueActivityName refuses a name another activity of the workspace has:
// workers and skip_if expressions name activities by their friendly name.
func uniqueActivityName(ctx context.Context, tx didrouter.Tx, ws, name, self string) error {
	acts, err := tx.ListActivities(ctx, ws)
	if err != nil {
		return err
	}
	for _, a := range acts {
		if a.SID != self && strings.EqualFold(a.FriendlyName, name) {
			return didrouter.Errorf(didrouter.ECONFLICT, "activity %s is already named %q", a.SID, a.FriendlyName)
		}
	}
	return nil
}

func (h *Handler) renameActivity(ctx context.Context, ws, sid, name string) (didrouter.Activity, error) {
	if h.writer == nil {
		return didrouter.Activity{}, noWriter("updating an activity")
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return didrouter.Activity{}, didrouter.Errorf(didrouter.EINVALID, "FriendlyName must not be empty")
	}
	err := h.writer.Tx(ctx, func(tx didrouter.Tx) error {
		a, err := tx.GetActivity(ctx, ws, sid)
		if err != nil {
			return err
		}
		if a.FriendlyName == name {
			return nil
		}
		if err := uniqueActivityName(ctx, tx, ws, name, sid); err != nil {
			return err
		}
		a.FriendlyName, a.DateUpdated = name, h.clock.Now()
		// The store rewrites the activity name its workers carry, and the
		// change feed has every engine reload them.
		return tx.UpdateActivity(ctx, a)
	})
	if err != nil {
		return didrouter.Activity{}, err
	}
	return h.store.GetActivity(ctx, ws, sid)
}

// removeActivity refuses (409) an activity a worker is in or the workspace
// uses as its default or timeout activity.
func (h *Handler) removeActivity(ctx context.Context, ws, sid string) error {
	if h.writer == nil {
		return noWriter("deleting an activity")
	}
	return h.writer.Tx(ctx, func(tx didrouter.Tx) error {
		if _, err := tx.GetActivity(ctx, ws, sid); err != nil {
			return err
		}
		return tx.DeleteActivity(ctx, ws, sid) // ECONFLICT while a worker or the workspace uses it
	})
}
