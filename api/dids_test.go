package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/agenttoken"
	"github.com/didrouter/didrouter/api"
)

// raw sends body with contentType and returns the status, Content-Type and body.
func (s *server) raw(method, path, contentType, body string, auth func(*http.Request)) (int, string, string) {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.srv.URL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if auth != nil {
		auth(req)
	}
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

func basic(r *http.Request) { r.SetBasicAuth(apiKey, apiSecret) }

// importFile posts a DID file and decodes the JSON answer.
func (s *server) importFile(csv string, dryRun bool) (int, map[string]any) {
	s.t.Helper()
	path := s.wsPath("/DIDs/Import")
	if dryRun {
		path += "?DryRun=true"
	}
	status, ct, body := s.raw(http.MethodPost, path, "text/csv", csv, basic)
	if ct != "application/json" {
		s.t.Fatalf("import: Content-Type %q: %s", ct, body)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		s.t.Fatalf("import: %v: %s", err, body)
	}
	return status, out
}

func (s *server) exportFile() string {
	s.t.Helper()
	status, ct, body := s.raw(http.MethodGet, s.wsPath("/DIDs/Export"), "", "", basic)
	if status != http.StatusOK || !strings.HasPrefix(ct, "text/csv") {
		s.t.Fatalf("export: %d %s: %s", status, ct, body)
	}
	return body
}

// snapshot is every worker row: any write changes a version.
func snapshot(t *testing.T, s *server) map[string]didrouter.Worker {
	t.Helper()
	out := map[string]didrouter.Worker{}
	if err := s.store.EachWorker(context.Background(), s.ws.SID, func(w didrouter.Worker) error {
		out[w.SID] = w
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func sameWorkers(t *testing.T, what string, before, after map[string]didrouter.Worker) {
	t.Helper()
	if len(before) != len(after) {
		t.Errorf("%s: %d workers, want %d", what, len(after), len(before))
	}
	for sid, w := range before {
		a, ok := after[sid]
		if !ok || a.Version != w.Version || a.Attributes != w.Attributes || a.PhoneNumber != w.PhoneNumber {
			t.Errorf("%s: worker %s changed: %+v -> %+v", what, w.FriendlyName, w, a)
		}
	}
}

func (s *server) createWorker(name, attrs string) string {
	s.t.Helper()
	r := s.post(s.wsPath("/Workers"), url.Values{"FriendlyName": {name}, "Attributes": {attrs}})
	if r.status != http.StatusCreated {
		s.t.Fatalf("create %s: %d %s", name, r.status, r.raw)
	}
	return str(r.body, "sid")
}

// An HR export (national numbers, alias headers, a swap of two numbers)
// imports in one go; exporting gives the canonical file, and importing the
// export changes nothing (round trip).
func TestDIDImportExportRoundTrip(t *testing.T) {
	stores(t, func(t *testing.T, st engineStore) {
		s := newServer(t, st)
		alice := s.createWorker("alice@example.com", `{"phone_number":"+15125550101","contact_uri":"client:alice","skills":["sales"]}`)
		bob := s.createWorker("bob@example.com", `{"phone_number":"+15125550102","contact_uri":"client:bob"}`)

		file := "\ufeffName,E-mail,Phone Number,Contact\r\n" +
			"alice@example.com,alice@example.com,(512) 555-0102,client:alice\r\n" + // takes bob's number...
			"bob@example.com,,512-555-0101,client:bob\r\n" + // ...and bob takes hers
			"carol@example.com,carol@example.com,+44 20 7183 8750,client:carol\r\n" +
			",,,\r\n" + // blank rows are skipped
			"dave@example.com,,,sip:dave@pbx.example.com\r\n"
		status, out := s.importFile(file, false)
		if status != http.StatusOK {
			t.Fatalf("import: %d %v", status, out)
		}
		if out["created"] != 2.0 || out["updated"] != 2.0 || out["unchanged"] != 0.0 || out["dry_run"] != false {
			t.Fatalf("counts %v", out)
		}
		rows := out["workers"].([]any)
		first := rows[0].(map[string]any)
		if first["row"] != 2.0 || first["action"] != "updated" || first["worker_sid"] != alice ||
			first["phone_number"] != "+15125550102" || first["previous_phone_number"] != "+15125550101" {
			t.Errorf("row 2: %v", first)
		}
		if last := rows[3].(map[string]any); last["row"] != 6.0 || last["action"] != "created" || last["phone_number"] != nil {
			t.Errorf("row 6: %v", last)
		}
		// Attributes not in the file are kept; the display form is served.
		r := s.get(s.wsPath("/Workers/" + alice))
		if !strings.Contains(str(r.body, "attributes"), `"skills":["sales"]`) || !strings.Contains(str(r.body, "attributes"), `"email":"alice@example.com"`) {
			t.Errorf("alice's attributes: %s", str(r.body, "attributes"))
		}
		if got := str(r.body, "phone_number_display"); got != "(512) 555-0102" {
			t.Errorf("phone_number_display %q, want (512) 555-0102", got)
		}
		if w, _ := st.GetWorker(context.Background(), s.ws.SID, bob); w.PhoneNumber != "+15125550101" {
			t.Errorf("bob has %q", w.PhoneNumber)
		}

		export := s.exportFile()
		want := "friendly_name,email,phone_number,contact_uri\n" +
			"alice@example.com,alice@example.com,+15125550102,client:alice\n" +
			"bob@example.com,,+15125550101,client:bob\n" +
			"carol@example.com,carol@example.com,+442071838750,client:carol\n" +
			"dave@example.com,,,sip:dave@pbx.example.com\n"
		if export != want {
			t.Fatalf("export:\n%s\nwant:\n%s", export, want)
		}
		before := snapshot(t, s)
		status, out = s.importFile(export, false)
		if status != http.StatusOK || out["unchanged"] != 4.0 {
			t.Fatalf("re-import of the export: %d %v", status, out)
		}
		sameWorkers(t, "re-import", before, snapshot(t, s))
		if again := s.exportFile(); again != export {
			t.Errorf("second export differs:\n%s", again)
		}

		// Semicolons (spreadsheets in many locales), email as the only key.
		status, out = s.importFile("email;did\nerin@example.com;+1 512 555 0105\n", false)
		if status != http.StatusOK || out["created"] != 1.0 {
			t.Fatalf("semicolon file: %d %v", status, out)
		}
		if w, err := st.WorkerByPhoneNumber(context.Background(), s.ws.SID, "+15125550105"); err != nil || w.FriendlyName != "erin@example.com" {
			t.Errorf("erin: %+v %v", w, err)
		}
	})
}

// A bad row stops the import with its row number and reason, and the store
// is exactly as before; a dry run shows the changes and writes nothing.
func TestDIDImportBadRowChangesNothing(t *testing.T) {
	stores(t, func(t *testing.T, st engineStore) {
		s := newServer(t, st)
		s.createWorker("alice", `{"phone_number":"+15125550101","contact_uri":"client:alice"}`)
		s.createWorker("bob", `{"phone_number":"+15125550102","contact_uri":"client:bob"}`)
		const head = "friendly_name,phone_number,contact_uri\n"
		const good = "alice,+15125550109,client:alice\n" // valid on its own: must not be applied
		for _, tc := range []struct {
			name, file string
			status     int
			row        float64
			msg        string
		}{
			{"unparseable number", head + good + "carol,555-12,client:carol\n", 400, 3, "not a valid phone number"},
			{"duplicate owner", head + good + "alice,,client:alice2\n", 400, 3, "also on row 2"},
			{"one number twice", head + good + "carol,(512) 555-0109,client:carol\n", 409, 3, "also on row 2"},
			{"number of a worker not in the file", head + good + "carol,+15125550102,client:carol\n", 409, 3, "not in this import"},
			{"bad contact", head + good + "carol,,alice\n", 400, 3, "contact_uri"},
			{"bad email", "name,email\nalice,alice-at-example\n", 400, 2, "not an email address"},
			{"unknown column", "name,phone,department\nalice,,sales\n", 400, 1, "department"},
			{"no key column", "phone_number\n+15125550109\n", 400, 1, "friendly_name"},
			{"short row", head + good + "carol,+15125550110\n", 400, 3, "has 2 cells"},
			{"no name", head + good + ",+15125550110,client:x\n", 400, 3, "names no worker"},
			{"broken quoting", head + good + "\"carol,+15125550110,client:x\n", 400, 3, "not valid CSV"},
		} {
			before := snapshot(t, s)
			for _, dry := range []bool{false, true} {
				status, out := s.importFile(tc.file, dry)
				msg, _ := out["message"].(string)
				if status != tc.status || out["row"] != tc.row || !strings.Contains(msg, tc.msg) {
					t.Errorf("%s (dry run %v): %d %v; want %d row %v %q", tc.name, dry, status, out, tc.status, tc.row, tc.msg)
				}
			}
			sameWorkers(t, tc.name, before, snapshot(t, s))
		}
		// Not a file: an empty body, a form-encoded body.
		if status, out := s.importFile("", false); status != 400 || !strings.Contains(out["message"].(string), "header row") {
			t.Errorf("empty: %d %v", status, out)
		}
		status, _, body := s.raw(http.MethodPost, s.wsPath("/DIDs/Import"), "application/x-www-form-urlencoded", "a=b", basic)
		if status != 400 || !strings.Contains(body, "--data-binary") {
			t.Errorf("form body: %d %s", status, body)
		}
		if status, _, _ := s.raw(http.MethodPost, s.wsPath("/DIDs/Import"), "text/csv", head, nil); status != http.StatusUnauthorized {
			t.Errorf("without credentials: %d", status)
		}

		// Dry run of a good file: the answer says what would change.
		before := snapshot(t, s)
		status, out := s.importFile(head+"alice,+15125550102,client:alice\nbob,+15125550101,client:bob\ncarol,,client:carol\n", true)
		if status != http.StatusOK || out["dry_run"] != true || out["updated"] != 2.0 || out["created"] != 1.0 {
			t.Fatalf("dry run: %d %v", status, out)
		}
		if c := out["workers"].([]any)[2].(map[string]any); c["worker_sid"] != nil || c["action"] != "created" {
			t.Errorf("dry-run creation %v", c)
		}
		sameWorkers(t, "dry run", before, snapshot(t, s))
	})
}

func TestAgentNumber(t *testing.T) {
	stores(t, func(t *testing.T, st engineStore) {
		s := newServer(t, st)
		alice := s.createWorker("alice", `{"phone_number":"(512) 764-0580","contact_uri":"client:alice"}`)
		s.createWorker("bob", `{"contact_uri":"client:bob"}`)
		s.createWorker("carol", `{"phone_number":"+442071838750","contact_uri":"client:carol"}`)
		get := func(query string, auth func(*http.Request)) (int, map[string]any, http.Header) {
			req, _ := http.NewRequest(http.MethodGet, s.srv.URL+api.AgentNumberPath+query, nil)
			if auth != nil {
				auth(req)
			}
			resp, err := s.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&out)
			return resp.StatusCode, out, resp.Header
		}
		bearer := func(tok string) func(*http.Request) {
			return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
		}
		// Admin credentials: any identity.
		status, out, hdr := get("?identity=alice", basic)
		if status != 200 || out["worker_sid"] != alice || out["phone_number"] != "+15127640580" || out["display"] != "(512) 764-0580" ||
			out["friendly_name"] != "alice" || out["identity"] != "alice" || out["workspace_sid"] != s.ws.SID {
			t.Fatalf("alice: %d %v", status, out)
		}
		if hdr.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("no CORS header")
		}
		if _, out, _ := get("?identity=carol", basic); out["display"] != "+44 20 7183 8750" {
			t.Errorf("carol: %v", out)
		}
		if status, out, _ := get("?identity=bob", basic); status != 200 || out["phone_number"] != nil || out["display"] != nil {
			t.Errorf("bob without a DID: %d %v", status, out)
		}
		if status, _, _ := get("?identity=nobody", basic); status != 404 {
			t.Errorf("unknown identity: %d", status)
		}
		if status, _, _ := get("", basic); status != 400 {
			t.Errorf("no identity: %d", status)
		}
		// An agent token: its own identity only.
		now := s.clock.Now()
		mint := func(identity string, issued, expires time.Time) string {
			t.Helper()
			tok, err := s.signer.Token(identity, issued, expires)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		tok := mint("alice", now, now.Add(time.Hour))
		if status, out, _ := get("", bearer(tok)); status != 200 || out["worker_sid"] != alice {
			t.Errorf("token: %d %v", status, out)
		}
		if status, _, _ := get("?identity=alice", bearer(tok)); status != 200 {
			t.Errorf("token with its identity: %d", status)
		}
		if status, _, _ := get("?identity=bob", bearer(tok)); status != 403 {
			t.Errorf("token for another identity: %d", status)
		}
		other, _ := agenttoken.NewSigner("another-secret-of-32-characters-x", 0)
		foreign, _ := other.Token("alice", now, now.Add(time.Hour))
		for name, bad := range map[string]string{
			"expired":        mint("alice", now.Add(-2*time.Hour), now.Add(-time.Second)),
			"another secret": foreign,
			"altered":        strings.Replace(tok, ".YWxpY2U.", ".Ym9i.", 1),
			"garbage":        "dra2.x.y.z.w",
			"empty":          "",
			// The old format, signed with a key derived from the admin secret.
			"dra1": oldAgentToken(apiSecret, "alice", now.Add(time.Hour)),
		} {
			if status, _, _ := get("?identity=alice", bearer(bad)); status != 401 {
				t.Errorf("%s token: %d, want 401", name, status)
			}
		}
		// No lifetime beyond the cap (7 days), however the token was minted.
		long := forgeAgentToken(agentSecret, "alice", now, now.AddDate(7975, 0, 0))
		if status, out, _ := get("", bearer(long)); status != 401 || !strings.Contains(str(out, "message"), "DIDROUTER_AGENT_TOKEN_MAX_TTL") {
			t.Errorf("a token valid until the year 9999: %d %v, want 401", status, out)
		}
		if status, _, _ := get("", bearer(mint("alice", now, now.Add(7*24*time.Hour)))); status != 200 {
			t.Errorf("a token of exactly the maximum lifetime: %d", status)
		}
		if status, _, _ := get("?identity=alice", nil); status != 401 {
			t.Errorf("no credentials: %d", status)
		}
		if status, _, _ := get("?identity=alice", func(r *http.Request) { r.SetBasicAuth(apiKey, "wrong") }); status != 401 {
			t.Errorf("wrong secret: %d", status)
		}
		// CORS preflight.
		req, _ := http.NewRequest(http.MethodOptions, s.srv.URL+api.AgentNumberPath, nil)
		req.Header.Set("Origin", "https://softphone.example.com")
		req.Header.Set("Access-Control-Request-Method", "GET")
		resp, err := s.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent || !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
			t.Errorf("preflight: %s %v", resp.Status, resp.Header)
		}
	})
}
