package web_test

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/web"
)

const importCSV = "friendly_name,email,phone_number,contact_uri\n" +
	"Alice,alice@example.com,(512) 764-0580,client:alice\n" +
	"Bob,,512-764-0581,client:bob\n"

var applyCSVRE = regexp.MustCompile(`(?s)<textarea name="csv" hidden>(.*?)</textarea>`)

// An import is previewed first (the engine's dry run, the API's
// DryRun=true): a table of what would change, nothing written. Apply
// posts the previewed file back and writes it.
func TestAdminImportPreviewThenApply(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := newSite(t, st, siteOptions{})
		alice := s.worker("Alice", `{"phone_number":"+15127640599"}`)
		b := s.admin()
		if page := b.get(web.AdminAgentImport); page.status != 200 || !strings.Contains(page.body, `type="file"`) {
			t.Fatalf("import form: %d", page.status)
		}
		pre := b.upload(web.AdminAgentImport, nil, "team.csv", importCSV)
		if pre.status != 200 || !strings.Contains(pre.body, `id="preview"`) || !strings.Contains(pre.body, "Preview: 1 to create, 1 to update, 0 unchanged") {
			t.Fatalf("preview: %d %s", pre.status, pre.body)
		}
		body := html.UnescapeString(pre.body)
		for _, want := range []string{`<tr data-row="2"><td class="num">2</td><td>updated</td>`, "(512) 764-0599 → (512) 764-0580",
			`<tr data-row="3"><td class="num">3</td><td>created</td><td>Bob</td>`} {
			if !strings.Contains(body, want) {
				t.Errorf("the preview lacks %q:\n%s", want, body)
			}
		}
		// The API's dry run of the same file says the same.
		status, api := s.apiPostCSV("/v1/Workspaces/"+s.ws.SID+"/DIDs/Import?DryRun=true", importCSV)
		if status != 200 || num(api["created"]) != "1" || num(api["updated"]) != "1" {
			t.Errorf("the API's dry run: %d %v", status, api)
		}
		// Nothing is written by a preview.
		if s.workerNamed("Bob").SID != "" || s.getWorker(alice.SID).PhoneNumber != "+15127640599" {
			t.Fatal("the preview wrote")
		}
		m := applyCSVRE.FindStringSubmatch(pre.body)
		if m == nil {
			t.Fatalf("no Apply form:\n%s", pre.body)
		}
		// A browser drops the newline that opens a textarea's text.
		posted := strings.TrimPrefix(html.UnescapeString(m[1]), "\n")
		if posted != importCSV {
			t.Errorf("the Apply form holds %q, want the file", posted)
		}
		done := b.upload(web.AdminAgentImport, map[string]string{"apply": "1", "csv": posted}, "", "")
		if done.status != 200 || !strings.Contains(done.body, "Imported: 1 created, 1 updated, 0 unchanged.") {
			t.Fatalf("apply: %d %s", done.status, done.body)
		}
		bob := s.workerNamed("Bob")
		if bob.PhoneNumber != bobDID || s.getWorker(alice.SID).PhoneNumber != aliceDID {
			t.Errorf("after apply: Bob %+v, Alice %s", bob, s.getWorker(alice.SID).PhoneNumber)
		}
		// Once more: nothing to change.
		again := b.upload(web.AdminAgentImport, nil, "team.csv", importCSV)
		if !strings.Contains(again.body, "0 to create, 0 to update, 2 unchanged") {
			t.Errorf("a second preview: %s", again.body)
		}
	})
}

// A bad row fails the preview (and the import) with its row number and the
// reason; nothing is written.
func TestAdminImportBadRows(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := newSite(t, st, siteOptions{})
		s.worker("Carol", `{"phone_number":"`+daveDID+`"}`)
		b := s.admin()
		for _, tc := range []struct {
			name, file, want string
			status           int
		}{
			{"a bad number", importCSV + "Dan,,555-2671,\n", "Row 4: ", http.StatusBadRequest},
			{"a bad email", "name,email\nDan,not-an-email\n", "Row 2: email", http.StatusBadRequest},
			{"an unknown column", "name,shoe_size\nDan,44\n", "Row 1: column", http.StatusBadRequest},
			{"a number someone else has", "name,did\nDan,(512) 764-0582\n", "Row 2: ", http.StatusConflict},
			{"a short row", "name,did\nDan\n", "Row 2: has 1 cells", http.StatusBadRequest},
		} {
			a := b.upload(web.AdminAgentImport, nil, "bad.csv", tc.file)
			if a.status != tc.status || !strings.Contains(a.body, `id="import-error"`) || !strings.Contains(html.UnescapeString(a.body), tc.want) {
				t.Errorf("%s: %d %s", tc.name, a.status, a.body)
			}
			if strings.Contains(a.body, `id="apply"`) {
				t.Errorf("%s: the page offers to apply", tc.name)
			}
			// Applying it anyway writes nothing either.
			a = b.upload(web.AdminAgentImport, map[string]string{"apply": "1", "csv": tc.file}, "", "")
			if a.status != tc.status {
				t.Errorf("%s: apply: %d", tc.name, a.status)
			}
		}
		for _, name := range []string{"Alice", "Bob", "Dan"} {
			if s.workerNamed(name).SID != "" {
				t.Errorf("a failed import created %s", name)
			}
		}
		if a := b.upload(web.AdminAgentImport, nil, "", ""); a.status != http.StatusBadRequest || !strings.Contains(a.body, "Choose a CSV file") {
			t.Errorf("no file: %d %s", a.status, a.body)
		}
		big := "name\n" + strings.Repeat("x", 1<<20) + "\n"
		if a := b.upload(web.AdminAgentImport, nil, "big.csv", big); a.status != http.StatusRequestEntityTooLarge {
			t.Errorf("a file too large: %d", a.status)
		}
	})
}

// The export is the API's export, byte for byte.
func TestAdminExport(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := newSite(t, st, siteOptions{})
		s.worker("Alice", aliceAttrs)
		s.worker("=HYPERLINK(\"x\")", `{"phone_number":"`+bobDID+`"}`)
		b := s.admin()
		a := b.get(web.AdminAgentExport)
		want := s.apiRaw("/v1/Workspaces/" + s.ws.SID + "/DIDs/Export")
		if a.status != 200 || a.body != want || !strings.HasPrefix(a.header.Get("Content-Type"), "text/csv") ||
			!strings.Contains(a.header.Get("Content-Disposition"), "attachment") {
			t.Errorf("export %d %v:\n%s\nAPI:\n%s", a.status, a.header, a.body, want)
		}
		if !strings.Contains(a.body, "+15127640580") {
			t.Errorf("export lacks Alice's number:\n%s", a.body)
		}
	})
}

// apiPostCSV posts a DID file to the admin API.
func (s *site) apiPostCSV(path, file string) (int, map[string]any) {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.url+path, strings.NewReader(file))
	req.Header.Set("Content-Type", "text/csv")
	req.SetBasicAuth(apiKey, apiSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		s.t.Fatal(fmt.Errorf("decode: %w", err))
	}
	return resp.StatusCode, out
}
