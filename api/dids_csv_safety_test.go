package api_test

import (
	"encoding/csv"
	"net/http"
	"strings"
	"testing"
)

// Issue 16, finding 2: the export is opened in spreadsheets, so cells that
// a spreadsheet would run as formulas are neutralized with a leading single
// quote (E.164 numbers stay as they are), import takes that quote off again
// (the round trip is exact), and import refuses names and emails that would
// run as formulas.
func TestDIDExportNeutralizesFormulas(t *testing.T) {
	stores(t, func(t *testing.T, st engineStore) {
		s := newServer(t, st)
		names := []string{
			"=cmd|' /C calc'!A0",
			"+SUM(1,2)",
			"-2+3",
			"@SUM(A1)",
			"'=already quoted",
			"''@two quotes",
			"'plain quote",
			"+1 (512) 555-0199",
		}
		for i, n := range names {
			attrs := `{"email":"=HYPERLINK(\"http://evil.example\")@x.example","phone_number":"+1512555011` + string(rune('0'+i)) + `"}`
			if i > 0 {
				attrs = `{"phone_number":"+1512555011` + string(rune('0'+i)) + `"}`
			}
			s.createWorker(n, attrs)
		}
		export := s.exportFile()
		rows, err := csv.NewReader(strings.NewReader(export)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		cells := map[string][]string{}
		for _, r := range rows[1:] {
			cells[r[0]] = r
		}
		// The name cells, neutralized where a spreadsheet would run them.
		want := []string{
			"'=cmd|' /C calc'!A0",
			"'+SUM(1,2)",
			"'@SUM(A1)",
			"''=already quoted",
			"'''@two quotes",
			"'plain quote",
			"'-2+3",
			"+1 (512) 555-0199", // a phone number: plainly data
		}
		for _, cell := range want {
			if _, ok := cells[cell]; !ok {
				t.Errorf("export has no row with the name cell %q:\n%s", cell, export)
			}
		}
		for _, r := range rows[1:] {
			for _, c := range r {
				if c != "" && strings.IndexByte("=@\t\r", c[0]) >= 0 {
					t.Errorf("export cell %q would run as a formula", c)
				}
			}
			if !strings.HasPrefix(r[2], "+1512555011") {
				t.Errorf("phone number cell %q: E.164 numbers stay as they are", r[2])
			}
		}
		if e := cells["'=cmd|' /C calc'!A0"][1]; e != `'=HYPERLINK("http://evil.example")@x.example` {
			t.Errorf("email cell %q", e)
		}

		// The round trip is exact: importing the export changes nothing.
		before := snapshot(t, s)
		status, out := s.importFile(export, false)
		if status != http.StatusOK || out["unchanged"] != float64(len(names)) {
			t.Fatalf("re-import of the export: %d %v", status, out)
		}
		sameWorkers(t, "re-import", before, snapshot(t, s))
		if again := s.exportFile(); again != export {
			t.Errorf("second export differs:\n%s\nfirst:\n%s", again, export)
		}

		// Import refuses raw formulas in names and emails, naming row and column.
		for _, tc := range []struct{ file, col string }{
			{"friendly_name,email\nok,ok@example.com\n=1+2,\n", "friendly_name"},
			{"friendly_name,email\nok,ok@example.com\nbob,@SUM(1)@example.com\n", "email"},
			{"friendly_name\nok\n+cmd|' /C calc'!A0\n", "friendly_name"},
			{"friendly_name\nok\n-Bob\n", "friendly_name"},
			{"friendly_name,email\nok,ok@example.com\nbob,\"\r=1@example.com\"\n", "email"},
		} {
			before := snapshot(t, s)
			status, out := s.importFile(tc.file, false)
			msg, _ := out["message"].(string)
			if status != http.StatusBadRequest || out["row"] != 3.0 || !strings.Contains(msg, "row 3") ||
				!strings.Contains(msg, tc.col) || !strings.Contains(msg, "formula") {
				t.Errorf("%q: %d %v", tc.file, status, out)
			}
			sameWorkers(t, tc.file, before, snapshot(t, s))
		}
		// A tab or a carriage return starts a formula too. Names are trimmed,
		// so only an email (set through the API, never through an import)
		// can begin with one.
		s.createWorker("tab", `{"email":"\t=SUM(1)@x.example"}`)
		s.createWorker("cr", `{"email":"\r=SUM(1)@x.example"}`)
		rows, err = csv.NewReader(strings.NewReader(s.exportFile())).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows[1:] {
			if want := map[string]string{"tab": "'\t=SUM(1)@x.example", "cr": "'\r=SUM(1)@x.example"}[r[0]]; want != "" && r[1] != want {
				t.Errorf("%s's email cell %q, want %q", r[0], r[1], want)
			}
		}

		// Written as text (a leading quote), they import without it.
		status, out = s.importFile("friendly_name\n'=1+2\n", false)
		if status != http.StatusOK || out["created"] != 1.0 || out["workers"].([]any)[0].(map[string]any)["friendly_name"] != "=1+2" {
			t.Errorf("quoted formula: %d %v", status, out)
		}
	})
}

// Bad bytes in a DID file are refused naming row and column, on both stores
// alike (issue 16, finding 5).
func TestDIDImportBadBytes(t *testing.T) {
	stores(t, func(t *testing.T, st engineStore) {
		s := newServer(t, st)
		for kind, bad := range badBytes {
			for _, tc := range []struct {
				file, where string
				row         float64
			}{
				{"friendly_name,email\nok,ok@example.com\nbob" + bad + ",bob@example.com\n", "column friendly_name", 3},
				{"friendly_name,email\nbob,bob" + bad + "@example.com\n", "column email", 2},
				{"friendly_name,contact_uri\nbob,client:bob" + bad + "\n", "column contact_uri", 2},
				{"friendly_name,phone" + bad + "\nbob,\n", "header cell 2", 1},
			} {
				before := snapshot(t, s)
				status, out := s.importFile(tc.file, false)
				msg, _ := out["message"].(string)
				if status != http.StatusBadRequest || out["row"] != tc.row || !strings.Contains(msg, tc.where) || !strings.Contains(msg, kind) {
					t.Errorf("%q: %d %v; want 400, row %v, %s, %s", tc.file, status, out, tc.row, tc.where, kind)
				}
				sameWorkers(t, tc.file, before, snapshot(t, s))
			}
		}
	})
}
