package engine

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/didrouter/didrouter"
)

// What Seed creates: the workspace the Flex set-up expects, with the DID
// workflow of the flex-did project.
const (
	SeedWorkspaceName = "Flex Task Assignment"
	SeedQueueName     = "Everyone"
	SeedWorkflowName  = "Direct Inward Dial"
	SeedFilterName    = "Match By Worker Phone Number"
	SeedGreeting      = "We are connecting you to your specialist now. If they are not available, we will connect you with the next available specialist."
	SeedHoldMessage   = "All of our specialists are busy. Please stay on the line and you will be connected to the next available specialist."
	SeedOwnerTimeout  = 60 // seconds a call waits for the number's owner
)

// DIDWorkflowConfig returns the flex-did workflow configuration for a queue:
// the number's owner first (skipped at once when not reservable, else up to
// 60 s), then anyone in the queue.
func DIDWorkflowConfig(queueSID string) string {
	target := func(extra map[string]any) map[string]any {
		m := map[string]any{"queue": queueSID}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	cfg := map[string]any{"task_routing": map[string]any{
		"filters": []any{map[string]any{
			"filter_friendly_name": SeedFilterName,
			"expression":           "1==1",
			"targets": []any{
				target(map[string]any{
					"expression": "task.phone_number CONTAINS worker.phone_number",
					"timeout":    SeedOwnerTimeout,
					"skip_if":    "1==1",
				}),
				target(nil),
			},
		}},
		"default_filter": target(nil),
	}}
	b, _ := json.Marshal(cfg) // maps of strings and ints always encode
	return string(b)
}

// Seed makes the store hold the Flex DID set-up. On an empty store it
// creates the workspace "Flex Task Assignment" with the activities Offline,
// the default, Available and Unavailable. It adds the FIFO queue
// "Everyone", which holds every worker, and the workflow "Direct Inward
// Dial" with a 120 s reservation timeout as the workspace's default
// workflow. On a store that already has workspaces it creates nothing. It
// returns the workspace with the seeded name, else the oldest one. Every
// sid is random, so no two deployments share one, because a guessable
// workspace sid would help a forged request. Several instances may start
// at once. They take the store's workspace lock, and the later ones find
// the first one's workspace.
func Seed(ctx context.Context, s didrouter.Store, clock didrouter.Clock) (didrouter.Workspace, error) {
	if ws, ok, err := existingWorkspace(ctx, s); err != nil || ok {
		if err != nil {
			return didrouter.Workspace{}, fmt.Errorf("seed: %w", err)
		}
		return ws, nil
	}
	var out didrouter.Workspace
	err := s.Tx(ctx, func(tx didrouter.Tx) error {
		if err := tx.LockWorkspaces(ctx); err != nil {
			return err
		}
		if ws, ok, err := existingWorkspace(ctx, tx); err != nil || ok {
			out = ws
			return err
		}
		now := clock.Now()
		ws := didrouter.Workspace{SID: didrouter.NewSID(didrouter.PrefixWorkspace), FriendlyName: SeedWorkspaceName,
			Greeting: SeedGreeting, HoldMessage: SeedHoldMessage, DateCreated: now, DateUpdated: now}
		if err := tx.InsertWorkspace(ctx, ws); err != nil {
			return fmt.Errorf("insert workspace: %w", err)
		}
		acts := []didrouter.Activity{
			{FriendlyName: "Offline", Available: false},
			{FriendlyName: "Available", Available: true},
			{FriendlyName: "Unavailable", Available: false},
		}
		for i := range acts {
			acts[i].SID, acts[i].WorkspaceSID = didrouter.NewSID(didrouter.PrefixActivity), ws.SID
			acts[i].DateCreated, acts[i].DateUpdated = now, now
			if err := tx.InsertActivity(ctx, acts[i]); err != nil {
				return fmt.Errorf("insert activity %s: %w", acts[i].FriendlyName, err)
			}
		}
		q := didrouter.TaskQueue{SID: didrouter.NewSID(didrouter.PrefixTaskQueue), WorkspaceSID: ws.SID, FriendlyName: SeedQueueName,
			TargetWorkers: "1==1", TaskOrder: didrouter.TaskOrderFIFO, MaxReservedWorkers: 1, DateCreated: now, DateUpdated: now}
		if err := tx.InsertTaskQueue(ctx, q); err != nil {
			return fmt.Errorf("insert task queue: %w", err)
		}
		wf := didrouter.Workflow{SID: didrouter.NewSID(didrouter.PrefixWorkflow), WorkspaceSID: ws.SID, FriendlyName: SeedWorkflowName,
			Configuration: DIDWorkflowConfig(q.SID), TaskReservationTimeout: DefaultReservationTimeout,
			DateCreated: now, DateUpdated: now}
		if err := tx.InsertWorkflow(ctx, wf); err != nil {
			return fmt.Errorf("insert workflow: %w", err)
		}
		ws.DefaultActivitySID = acts[0].SID
		ws.DefaultWorkflowSID = wf.SID
		if err := tx.UpdateWorkspace(ctx, ws); err != nil {
			return fmt.Errorf("set workspace defaults: %w", err)
		}
		out = ws
		return nil
	})
	if err != nil {
		return didrouter.Workspace{}, fmt.Errorf("seed: %w", err)
	}
	return out, nil
}

// existingWorkspace returns the workspace with the seeded name, else the
// oldest one.
func existingWorkspace(ctx context.Context, s didrouter.Reader) (didrouter.Workspace, bool, error) {
	list, err := s.ListWorkspaces(ctx)
	if err != nil {
		return didrouter.Workspace{}, false, fmt.Errorf("list workspaces: %w", err)
	}
	if len(list) == 0 {
		return didrouter.Workspace{}, false, nil
	}
	// Prefer a workspace with the seeded name, then the oldest.
	better := func(a, b didrouter.Workspace) bool {
		if (a.FriendlyName == SeedWorkspaceName) != (b.FriendlyName == SeedWorkspaceName) {
			return a.FriendlyName == SeedWorkspaceName
		}
		return a.DateCreated.Before(b.DateCreated)
	}
	oldest := list[0]
	for _, w := range list[1:] {
		if better(w, oldest) {
			oldest = w
		}
	}
	return oldest, true, nil
}
