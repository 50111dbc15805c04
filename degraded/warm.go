package degraded

// Cache warming reads ahead, while the store answers, what a call needs to
// be routed from memory during an outage.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/didrouter/didrouter"
)

// warmed is what Incoming routes with. It holds the default workspace and
// its workflow, and the workspace and workflow of each bound number.
type warmed struct {
	def       target
	bound     map[string]target // by dialed E.164 number
	boundRead bool              // the bindings were read at least once, so bound holds them all
}

// target is where a call goes, a workspace and one of its workflows.
type target struct {
	ws   didrouter.Workspace
	flow didrouter.Workflow
}

// warm reads the default workspace and the number bindings, and makes
// sure their workflows and worker indexes are in the engine's memory.
func (m *Mode) warm(ctx context.Context) error {
	ws, err := m.cfg.Store.GetWorkspace(ctx, m.cfg.WorkspaceSID)
	if err != nil {
		return err
	}
	if ws.DefaultWorkflowSID == "" {
		return errors.New("degraded: the workspace has no default workflow")
	}
	flow, err := m.router.Warm(ctx, ws.SID, ws.DefaultWorkflowSID)
	if err != nil {
		return err
	}
	w := &warmed{def: target{ws: ws, flow: flow}, bound: map[string]target{}, boundRead: true}
	if err := m.warmBindings(ctx, w); err != nil {
		// Keep the bindings read last time rather than route every
		// bound number by the default workflow.
		if old := m.ws.Load(); old != nil {
			w.bound, w.boundRead = old.bound, old.boundRead
		}
		m.log.WarnContext(ctx, "reading the number bindings failed", "then", "the bindings read before are kept", "err", err)
	}
	m.ws.Store(w)
	return nil
}

// warmBindings reads every number binding into w, with its workspace and
// workflow. A binding whose workflow cannot be read is logged and left
// out, so its number is routed by the default workflow while the store is
// down.
func (m *Mode) warmBindings(ctx context.Context, w *warmed) error {
	spaces, err := m.cfg.Store.ListWorkspaces(ctx)
	if err != nil {
		return fmt.Errorf("list workspaces: %w", err)
	}
	flows := map[string]target{} // by workspace and workflow sid
	for _, ws := range spaces {
		bindings, err := m.cfg.Store.ListBindings(ctx, ws.SID)
		if err != nil {
			return fmt.Errorf("list the number bindings of %s: %w", ws.SID, err)
		}
		for _, b := range bindings {
			flowSID := b.WorkflowSID
			if flowSID == "" {
				flowSID = ws.DefaultWorkflowSID
			}
			key := ws.SID + "/" + flowSID
			t, ok := flows[key]
			if !ok {
				flow, err := m.router.Warm(ctx, ws.SID, flowSID)
				if err != nil {
					level := slog.LevelWarn
					if m.warnedOnce("binding " + b.PhoneNumber + " " + flowSID) {
						// warm runs every few seconds, and this was said already.
						level = slog.LevelDebug
					}
					m.log.Log(ctx, level, "bound number's workflow unreadable",
						"then", "the number is routed by the default workflow during an outage",
						"phone_number", b.PhoneNumber, "workspace_sid", ws.SID, "workflow_sid", flowSID, "err", err)
					continue
				}
				t = target{ws: ws, flow: flow}
				flows[key] = t
			}
			w.bound[b.PhoneNumber] = t
		}
	}
	return nil
}

// warnedOnce reports whether key was seen before, and remembers it.
func (m *Mode) warnedOnce(key string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.warned == nil {
		m.warned = map[string]bool{}
	}
	seen := m.warned[key]
	m.warned[key] = true
	return seen
}
