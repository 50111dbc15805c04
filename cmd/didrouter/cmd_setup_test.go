package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/store/sqlite"
)

// runSetupCmd runs `didrouter setup` in the environment env and returns
// its exit code and output.
func runSetupCmd(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := setupCommand{getenv: envOf(env)}.run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// bareWorkspace writes a workspace with activities but no queue or
// workflow into a new SQLite file, as an older or hand-made store may be;
// serve then seeds nothing.
func bareWorkspace(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "didrouter.db")
	ctx := context.Background()
	st, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC()
	err = st.Tx(ctx, func(tx didrouter.Tx) error {
		ws := didrouter.Workspace{SID: didrouter.NewSID(didrouter.PrefixWorkspace), FriendlyName: "Hand made", DateCreated: now, DateUpdated: now}
		if err := tx.InsertWorkspace(ctx, ws); err != nil {
			return err
		}
		a := didrouter.Activity{SID: didrouter.NewSID(didrouter.PrefixActivity), WorkspaceSID: ws.SID, FriendlyName: "Offline",
			DateCreated: now, DateUpdated: now}
		if err := tx.InsertActivity(ctx, a); err != nil {
			return err
		}
		ws.DefaultActivitySID = a.SID
		return tx.UpdateWorkspace(ctx, ws)
	})
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// On a workspace without them, setup creates the queue and the DID
// workflow; a second run finds both and changes nothing.
func TestSetupCreatesThenFinds(t *testing.T) {
	cfg := testConfig(t)
	cfg.DataPath = bareWorkspace(t)
	base, _ := runServer(t, cfg)
	waitReady(t, base)
	env := map[string]string{"DIDROUTER_API_KEY": "key", "DIDROUTER_API_SECRET": testAPISecret}

	code, out, errOut := runSetupCmd(t, env, "--url", base)
	if code != 0 {
		t.Fatalf("first run: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{`(Hand made)`, `task queue "Everyone": created WQ`, `workflow "Direct Inward Dial": created WW`} {
		if !strings.Contains(out, want) {
			t.Errorf("first run does not say %q:\n%s", want, out)
		}
	}
	st, err := sqlite.Open(context.Background(), cfg.DataPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	wss, _ := st.ListWorkspaces(context.Background())
	qs, _ := st.ListTaskQueues(context.Background(), wss[0].SID)
	wfs, _ := st.ListWorkflows(context.Background(), wss[0].SID)
	if len(qs) != 1 || len(wfs) != 1 || qs[0].TargetWorkers != "1==1" || qs[0].TaskOrder != didrouter.TaskOrderFIFO ||
		!sameJSON(wfs[0].Configuration, engine.DIDWorkflowConfig(qs[0].SID)) || wfs[0].TaskReservationTimeout != 120 {
		t.Fatalf("after setup: queues %+v workflows %+v", qs, wfs)
	}

	env["DIDROUTER_URL"] = base // the environment instead of --url this time
	code, out, errOut = runSetupCmd(t, env)
	if code != 0 {
		t.Fatalf("second run: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{`task queue "Everyone": found ` + qs[0].SID, `workflow "Direct Inward Dial": found ` + wfs[0].SID,
		"nothing to do"} {
		if !strings.Contains(out, want) {
			t.Errorf("second run does not say %q:\n%s", want, out)
		}
	}
	qs2, _ := st.ListTaskQueues(context.Background(), wss[0].SID)
	wfs2, _ := st.ListWorkflows(context.Background(), wss[0].SID)
	if len(qs2) != 1 || len(wfs2) != 1 || !wfs2[0].DateUpdated.Equal(wfs[0].DateUpdated) {
		t.Errorf("the second run changed something: %+v %+v", qs2, wfs2)
	}
}

// On the store serve seeds, everything is found at once.
func TestSetupOnSeededServer(t *testing.T) {
	cfg := testConfig(t)
	base, _ := runServer(t, cfg)
	waitReady(t, base)
	env := map[string]string{"DIDROUTER_API_KEY": "key", "DIDROUTER_API_SECRET": testAPISecret}
	code, out, errOut := runSetupCmd(t, env, "--url", base)
	if code != 0 || !strings.Contains(out, "nothing to do") || !strings.Contains(out, "(Flex Task Assignment)") ||
		strings.Contains(out, "note:") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}

	// Wrong or missing credentials, a bad URL, an unknown workspace.
	env["DIDROUTER_API_SECRET"] = "wrong"
	code, _, errOut = runSetupCmd(t, env, "--url", base)
	if code != 1 || !strings.Contains(errOut, "refused the credentials") {
		t.Errorf("wrong secret: exit %d: %s", code, errOut)
	}
	env["DIDROUTER_API_SECRET"] = ""
	code, _, errOut = runSetupCmd(t, env, "--url", base)
	if code != 2 || !strings.Contains(errOut, "DIDROUTER_API_SECRET") {
		t.Errorf("no secret: exit %d: %s", code, errOut)
	}
	env["DIDROUTER_API_SECRET"] = testAPISecret
	code, _, errOut = runSetupCmd(t, env, "--url", "ftp://x")
	if code != 2 || !strings.Contains(errOut, "DIDROUTER_URL") {
		t.Errorf("bad URL: exit %d: %s", code, errOut)
	}
	code, _, errOut = runSetupCmd(t, env, "--url", base, "--workspace", "WS00000000000000000000000000000000")
	if code != 1 || !strings.Contains(errOut, "not found") {
		t.Errorf("unknown workspace: exit %d: %s", code, errOut)
	}
}
