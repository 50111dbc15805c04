package engine_test

import (
	"sync"
	"testing"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

// Every deployment gets a workspace sid of its own, because a sid known in
// advance would help a forged request.
func TestSeedSIDsAreRandom(t *testing.T) {
	t.Parallel()
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			a, err := engine.Seed(t.Context(), k.open(t), didrouter.NewFakeClock(t0))
			if err != nil {
				t.Fatal(err)
			}
			b, err := engine.Seed(t.Context(), k.open(t), didrouter.NewFakeClock(t0))
			if err != nil {
				t.Fatal(err)
			}
			if a.SID == b.SID || !didrouter.IsSID(a.SID, "WS") || !didrouter.IsSID(b.SID, "WS") {
				t.Fatalf("two stores seeded workspaces %s and %s: want two different random sids", a.SID, b.SID)
			}
			if a.DefaultActivitySID == b.DefaultActivitySID || a.DefaultWorkflowSID == b.DefaultWorkflowSID {
				t.Fatalf("two stores share seeded sids: %+v %+v", a, b)
			}
		})
	}
}

// Instances that start at once on one empty store seed one workspace: the
// first takes the store's workspace lock, the others find its workspace.
func TestSeedConcurrently(t *testing.T) {
	t.Parallel()
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			st := k.open(t)
			clock := didrouter.NewFakeClock(t0)
			const n = 8
			var (
				wg   sync.WaitGroup
				wss  [n]didrouter.Workspace
				errs [n]error
			)
			for i := range n {
				wg.Go(func() { wss[i], errs[i] = engine.Seed(t.Context(), st, clock) })
			}
			wg.Wait()
			for i := range n {
				if errs[i] != nil || wss[i].SID != wss[0].SID {
					t.Fatalf("seeder %d: %s, %v; seeder 0: %s", i, wss[i].SID, errs[i], wss[0].SID)
				}
			}
			list, err := st.ListWorkspaces(t.Context())
			if err != nil || len(list) != 1 {
				t.Fatalf("%d workspaces after %d concurrent seeds (%v)", len(list), n, err)
			}
			acts, err := st.ListActivities(t.Context(), wss[0].SID)
			if err != nil || len(acts) != 3 {
				t.Fatalf("%d activities, want 3 (%v)", len(acts), err)
			}
		})
	}
}
