package engine_test

import (
	"testing"

	"github.com/didrouter/didrouter"
)

// TestConfigCacheFollowsOtherInstances: engine a serves workspaces and
// bindings from its cache; when another instance changes them, a's change
// feed evicts them and a reads the new rows.
func TestConfigCacheFollowsOtherInstances(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	sa, sb, ws, clock := seededPair(t)
	a := newEngine(t, sa, clock, "a")
	runEngine(t, a)

	const number = "+15127640580"
	got, err := a.Workspace(ctx, ws.SID)
	if err != nil || got.Greeting != ws.Greeting {
		t.Fatalf("Workspace = %+v, %v", got, err)
	}
	if _, err := a.Binding(ctx, number); didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
		t.Fatalf("Binding of an unbound number: %v, want not found", err)
	}
	if _, err := a.Binding(ctx, number); didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
		t.Fatalf("Binding of an unbound number, cached: %v, want not found", err)
	}

	// Instance b (its own store connection) changes both.
	changed := ws
	changed.Greeting = "Welcome to the night line."
	flows, err := sb.ListWorkflows(ctx, ws.SID)
	if err != nil || len(flows) == 0 {
		t.Fatalf("workflows: %v", err)
	}
	if err := sb.Tx(ctx, func(tx didrouter.Tx) error {
		if err := tx.UpdateWorkspace(ctx, changed); err != nil {
			return err
		}
		return tx.PutBinding(ctx, didrouter.PhoneNumberBinding{PhoneNumber: number, WorkspaceSID: ws.SID, WorkflowSID: flows[0].SID})
	}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new greeting", func() bool {
		got, err := a.Workspace(ctx, ws.SID)
		return err == nil && got.Greeting == changed.Greeting
	})
	eventually(t, "the new binding", func() bool {
		b, err := a.Binding(ctx, number)
		return err == nil && b.WorkflowSID == flows[0].SID
	})

	// Assignment callbacks: none at first; a workflow edited elsewhere to
	// use one is seen.
	if used, err := a.AssignmentCallbacksUsed(ctx, ws.SID); err != nil || used {
		t.Fatalf("AssignmentCallbacksUsed = %v, %v; want false", used, err)
	}
	withURL := flows[0]
	withURL.AssignmentCallbackURL = "https://crm.example.test/assign"
	if err := sb.Tx(ctx, func(tx didrouter.Tx) error { return tx.UpdateWorkflow(ctx, withURL) }); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the workflow's callback URL", func() bool {
		used, err := a.AssignmentCallbacksUsed(ctx, ws.SID)
		return err == nil && used
	})

	if err := sb.Tx(ctx, func(tx didrouter.Tx) error { return tx.DeleteBinding(ctx, number) }); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the binding gone", func() bool {
		_, err := a.Binding(ctx, number)
		return didrouter.ErrorCode(err) == didrouter.ENOTFOUND
	})
}
