package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/agenttoken"
	"github.com/didrouter/didrouter/api"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/store/storetest"
)

const (
	didsKey         = "didskey"
	didsSecret      = "didssecret0123"
	didsAgentSecret = "dids-agent-token-secret-0123456789"
)

// didsServer is the real admin API over a real store, behind httptest.
type didsServer struct {
	t     *testing.T
	store didrouter.Store
	eng   *engine.Engine
	ws    didrouter.Workspace
	url   string
	env   map[string]string
}

func newDidsServer(t *testing.T, st didrouter.Store) *didsServer {
	t.Helper()
	ctx := context.Background()
	clock := didrouter.SystemClock{}
	ws, err := engine.Seed(ctx, st, clock)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{Store: st, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := agenttoken.NewSigner(didsAgentSecret, 0)
	if err != nil {
		t.Fatal(err)
	}
	agents, err := agenttoken.NewAgents(signer, eng, st.(didrouter.WebStore), clock)
	if err != nil {
		t.Fatal(err)
	}
	h, err := api.NewHandler(api.Config{Engine: eng, Store: st, Clock: clock, APIKey: didsKey, APISecret: didsSecret, Agents: agents})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &didsServer{t: t, store: st, eng: eng, ws: ws, url: srv.URL, env: map[string]string{
		"DIDROUTER_URL": srv.URL, "DIDROUTER_API_KEY": didsKey, "DIDROUTER_API_SECRET": didsSecret,
		"DIDROUTER_AGENT_TOKEN_SECRET": didsAgentSecret,
	}}
}

// run runs "didrouter dids args…" and returns the exit code, stdout and stderr.
func (s *didsServer) run(stdin string, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	cmd := didsCommand{getenv: func(k string) string { return s.env[k] }, now: time.Now}
	code := cmd.run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func (s *didsServer) workers() map[string]didrouter.Worker {
	s.t.Helper()
	out := map[string]didrouter.Worker{}
	if err := s.store.EachWorker(context.Background(), s.ws.SID, func(w didrouter.Worker) error {
		out[w.FriendlyName] = w
		return nil
	}); err != nil {
		s.t.Fatal(err)
	}
	return out
}

func didsStores(t *testing.T, fn func(t *testing.T, st didrouter.Store)) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); fn(t, storetest.SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { t.Parallel(); fn(t, storetest.Postgres(t)) })
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDidsImportExportRoundTrip(t *testing.T) {
	didsStores(t, func(t *testing.T, st didrouter.Store) {
		s := newDidsServer(t, st)
		file := writeTemp(t, "hr.csv", "Agent,Email,DID,Contact\n"+
			"Alice Smith,alice@example.com,(512) 555-0101,client:alice\n"+
			"Bob Jones,bob@example.com,512-555-0102,client:bob\n"+
			"Carol White,,,client:carol\n")

		// Dry run first: says what would happen, writes nothing (flags after the file work too).
		code, out, errOut := s.run("", "import", file, "--dry-run")
		if code != 0 {
			t.Fatalf("dry run: %d %s", code, errOut)
		}
		for _, want := range []string{"row 2", "create  Alice Smith  +15125550101", "Carol White  no number", "dry run, nothing written", "3 created, 0 updated, 0 unchanged"} {
			if !strings.Contains(out, want) {
				t.Errorf("dry-run output lacks %q:\n%s", want, out)
			}
		}
		if n := len(s.workers()); n != 0 {
			t.Fatalf("dry run created %d workers", n)
		}

		code, out, errOut = s.run("", "import", file)
		if code != 0 || !strings.Contains(out, "3 created, 0 updated, 0 unchanged") {
			t.Fatalf("import: %d\n%s\n%s", code, out, errOut)
		}
		ws := s.workers()
		if ws["Alice Smith"].PhoneNumber != "+15125550101" || ws["Bob Jones"].PhoneNumber != "+15125550102" || ws["Carol White"].PhoneNumber != "" {
			t.Fatalf("workers after import: %+v", ws)
		}
		if w, err := s.eng.WorkerByContactURI(context.Background(), s.ws.SID, "client:bob"); err != nil || w.FriendlyName != "Bob Jones" {
			t.Errorf("the index does not know client:bob: %+v %v", w, err)
		}

		// Export (stdout and -o) and import the export: nothing changes.
		code, exported, errOut := s.run("", "export")
		if code != 0 {
			t.Fatalf("export: %d %s", code, errOut)
		}
		want := "friendly_name,email,phone_number,contact_uri\n" +
			"Alice Smith,alice@example.com,+15125550101,client:alice\n" +
			"Bob Jones,bob@example.com,+15125550102,client:bob\n" +
			"Carol White,,,client:carol\n"
		if exported != want {
			t.Fatalf("export:\n%s\nwant:\n%s", exported, want)
		}
		outFile := filepath.Join(t.TempDir(), "out.csv")
		if code, _, errOut := s.run("", "export", "-o", outFile); code != 0 {
			t.Fatalf("export -o: %d %s", code, errOut)
		}
		if b, _ := os.ReadFile(outFile); string(b) != want {
			t.Fatalf("export -o wrote:\n%s", b)
		}
		before := s.workers()
		code, out, _ = s.run(exported, "import", "-")
		if code != 0 || !strings.Contains(out, "0 created, 0 updated, 3 unchanged") {
			t.Fatalf("re-import: %d %s", code, out)
		}
		for name, w := range s.workers() {
			if w.Version != before[name].Version {
				t.Errorf("%s written by a round trip", name)
			}
		}

		// Moving a number: Bob leaves, Carol gets his number.
		code, out, errOut = s.run("name,did\nBob Jones,\nCarol White,+15125550102\n", "import", "-")
		if code != 0 || !strings.Contains(out, "Carol White  phone_number  (number no number -> +15125550102)") {
			t.Fatalf("move: %d\n%s\n%s", code, out, errOut)
		}
		if ws := s.workers(); ws["Carol White"].PhoneNumber != "+15125550102" || ws["Bob Jones"].PhoneNumber != "" {
			t.Fatalf("after the move: %+v", ws)
		}
	})
}

// A bad row stops the import with its row and reason; the store is unchanged.
func TestDidsImportBadRow(t *testing.T) {
	didsStores(t, func(t *testing.T, st didrouter.Store) {
		s := newDidsServer(t, st)
		if code, _, errOut := s.run("name,did\nAlice,+15125550101\nBob,+15125550102\n", "import", "-"); code != 0 {
			t.Fatal(errOut)
		}
		before := s.workers()
		for _, tc := range []struct{ file, want string }{
			{"name,did\nAlice,+15125550109\nBob,555-12\n", "row 3: phone_number \"555-12\" of Bob is not a valid phone number"},
			{"name,did\nAlice,+15125550109\nAlice,\n", "row 3: worker \"Alice\" is also on row 2"},
			{"name,did\nAlice,+15125550109\nDave,+15125550102\n", "row 3: phone_number +15125550102 belongs to worker"},
			{"name,did,team\nAlice,,x\n", "row 1: column \"team\""},
		} {
			path := writeTemp(t, "bad.csv", tc.file)
			code, out, errOut := s.run("", "import", path)
			if code != 1 || !strings.Contains(errOut, path+" "+tc.want) || !strings.Contains(errOut, "nothing was changed") || out != "" {
				t.Errorf("%q: exit %d\nstdout %s\nstderr %s\nwant %q", tc.file, code, out, errOut, tc.want)
			}
		}
		after := s.workers()
		for name, w := range before {
			if a := after[name]; a.Version != w.Version || a.PhoneNumber != w.PhoneNumber {
				t.Errorf("%s changed: %+v -> %+v", name, w, a)
			}
		}
		if len(after) != len(before) {
			t.Errorf("%d workers, want %d", len(after), len(before))
		}
	})
}

func TestDidsUsageAndCredentials(t *testing.T) {
	t.Parallel()
	s := newDidsServer(t, storetest.SQLite(t))
	file := writeTemp(t, "a.csv", "name\nAlice\n")
	for _, tc := range []struct {
		env  map[string]string
		args []string
		code int
		want string
	}{
		{nil, nil, 2, "usage: didrouter dids"},
		{nil, []string{"frobnicate"}, 2, "unknown subcommand"},
		{nil, []string{"import"}, 2, "name one CSV file"},
		{nil, []string{"import", file, file}, 2, "name one CSV file"},
		{nil, []string{"import", "/nonexistent.csv"}, 1, "no such file"},
		{map[string]string{"DIDROUTER_API_SECRET": ""}, []string{"import", file}, 2, "DIDROUTER_API_KEY and DIDROUTER_API_SECRET"},
		{map[string]string{"DIDROUTER_API_SECRET": "wrong"}, []string{"import", file}, 1, "refused the credentials"},
		{map[string]string{"DIDROUTER_URL": "ftp://x"}, []string{"export"}, 2, "want didrouter's base URL"},
		{map[string]string{"DIDROUTER_URL": "http://127.0.0.1:1"}, []string{"export"}, 1, "cannot reach didrouter"},
		{nil, []string{"export", "--workspace", "WS00000000000000000000000000000000"}, 1, "not found"},
		{nil, []string{"export", "extra"}, 2, "unexpected arguments"},
		{nil, []string{"token"}, 2, "name one softphone identity"},
		{map[string]string{"DIDROUTER_AGENT_TOKEN_SECRET": ""}, []string{"token", "alice"}, 2, "DIDROUTER_AGENT_TOKEN_SECRET"},
		{map[string]string{"DIDROUTER_AGENT_TOKEN_SECRET": "short"}, []string{"token", "alice"}, 2, "at least 32 characters"},
		{nil, []string{"token", "alice", "--ttl", "200h"}, 2, "longer than the maximum"},
		{map[string]string{"DIDROUTER_AGENT_TOKEN_MAX_TTL": "300h"}, []string{"token", "alice", "--ttl", "200h"}, 0, "dra2."},
		{map[string]string{"DIDROUTER_AGENT_TOKEN_MAX_TTL": "soon"}, []string{"token", "alice"}, 2, "DIDROUTER_AGENT_TOKEN_MAX_TTL"},
		{map[string]string{"DIDROUTER_PUBLIC_URL": "https://calls.example.com/"}, []string{"token", "--link", "alice"}, 0,
			"https://calls.example.com/agent/signin?t=drl1."},
		{nil, []string{"revoke"}, 2, "name one softphone identity"},
		{nil, []string{"revoke", "nobody"}, 1, "no worker has contact_uri client:nobody"},
	} {
		env := map[string]string{}
		for k, v := range s.env {
			env[k] = v
		}
		for k, v := range tc.env {
			env[k] = v
		}
		var out, errOut bytes.Buffer
		code := didsCommand{getenv: func(k string) string { return env[k] }, now: time.Now}.run(context.Background(), tc.args, strings.NewReader(""), &out, &errOut)
		if code != tc.code || !strings.Contains(out.String()+errOut.String(), tc.want) {
			t.Errorf("dids %q: exit %d, want %d with %q\nstdout %s\nstderr %s", tc.args, code, tc.code, tc.want, out.String(), errOut.String())
		}
	}
	if code, out, _ := s.run("", "help"); code != 0 || !strings.Contains(out, "contact_uri") {
		t.Errorf("help: %d %s", code, out)
	}
}

// A token from "dids token" opens GET /agent/number for its identity,
// until "dids revoke" refuses it.
func TestDidsTokenAndRevoke(t *testing.T) {
	t.Parallel()
	s := newDidsServer(t, storetest.SQLite(t))
	if code, _, errOut := s.run("name,did,contact\nAlice,(512) 764-0580,client:alice\n", "import", "-"); code != 0 {
		t.Fatal(errOut)
	}
	code, out, errOut := s.run("", "token", "client:alice", "--ttl", "1h")
	if code != 0 {
		t.Fatalf("token: %d %s", code, errOut)
	}
	tok := strings.TrimSpace(out)
	number := func() (int, string) {
		req, _ := http.NewRequest(http.MethodGet, s.url+api.AgentNumberPath, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body bytes.Buffer
		_, _ = body.ReadFrom(resp.Body)
		return resp.StatusCode, body.String()
	}
	if status, body := number(); status != 200 || !strings.Contains(body, `"display":"(512) 764-0580"`) {
		t.Fatalf("agent number with the token: %d %s", status, body)
	}
	code, out, errOut = s.run("", "revoke", "alice")
	if code != 0 || !strings.Contains(out, "revoked the agent tokens and sign-in links of alice (Alice, WK") {
		t.Fatalf("revoke: %d %s %s", code, out, errOut)
	}
	if status, body := number(); status != 401 || !strings.Contains(body, "revoked") {
		t.Errorf("the token after revoke: %d %s", status, body)
	}
}

func TestConfigDefaultCallerID(t *testing.T) {
	t.Parallel()
	parse := func(callerID, region string) (config, error) {
		env := map[string]string{
			"TWILIO_AUTH_TOKEN": "tok", "DIDROUTER_PUBLIC_URL": "https://calls.example.com",
			"DIDROUTER_DEFAULT_CALLER_ID": callerID, "DIDROUTER_DEFAULT_REGION": region,
		}
		return parseConfig("serve", nil, func(k string) string { return env[k] }, io.Discard)
	}
	for _, tc := range []struct{ raw, region, want string }{
		{"", "", ""},
		{"(512) 555-0100", "", "+15125550100"},
		{"+15125550100", "US", "+15125550100"},
		{"020 7183 8750", "GB", "+442071838750"},
	} {
		c, err := parse(tc.raw, tc.region)
		if err != nil || c.CallerID != tc.want {
			t.Errorf("%q (%s): %q %v, want %q", tc.raw, tc.region, c.CallerID, err, tc.want)
		}
	}
	for _, raw := range []string{"12", "client:alice", "main line"} {
		if _, err := parse(raw, ""); err == nil || !strings.Contains(err.Error(), "DIDROUTER_DEFAULT_CALLER_ID") {
			t.Errorf("%q: %v, want an error naming DIDROUTER_DEFAULT_CALLER_ID", raw, err)
		}
	}
}
