package api

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/routing"
)

// The columns of a DID file, by the attribute (or name) they fill. A header
// names them in any case, with spaces, dots or dashes for underscores, by
// any of these names; other columns are refused (a misspelt column would
// otherwise be silently ignored).
const (
	colName    = "friendly_name"
	colEmail   = "email"
	colNumber  = "phone_number"
	colContact = "contact_uri"
)

// didColumnNames lists the accepted header names of each column, the
// canonical one first. Export writes the canonical names, in this order.
func didColumnNames() [][]string {
	return [][]string{
		{colName, "friendlyname", "name", "worker", "worker_name", "agent", "agent_name"},
		{colEmail, "e_mail", "mail", "email_address"},
		{colNumber, "phonenumber", "phone", "number", "did", "direct_number", "direct_dial"},
		{colContact, "contacturi", "contact"},
	}
}

// exportColumns is the header export writes.
func exportColumns() []string {
	out := make([]string, 0, len(didColumnNames()))
	for _, names := range didColumnNames() {
		out = append(out, names[0])
	}
	return out
}

// canonicalColumn maps a header cell to its column ("" = unknown).
func canonicalColumn(header string) string {
	h := strings.ToLower(strings.TrimSpace(header))
	h = strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '.' {
			return '_'
		}
		return r
	}, h)
	for _, names := range didColumnNames() {
		if slices.Contains(names, h) {
			return names[0]
		}
	}
	return ""
}

// maxDIDRows bounds one file (one transaction).
const maxDIDRows = engine.MaxImportRows

// rowError is a *engine.RowError for a row of the file.
func rowError(row int, format string, args ...any) error {
	return &engine.RowError{Row: row, Err: didrouter.Errorf(didrouter.EINVALID, format, args...)}
}

// parseDIDFile reads a DID file into import rows. Rows are numbered as a
// spreadsheet shows them: the header is row 1, and a row's number is the
// line it starts on. The key of a row is its friendly_name, else its email
// (SSO exports often name people by email only). Commas, semicolons or tabs
// separate the cells (whichever the header uses); a UTF-8 byte order mark
// is skipped.
func parseDIDFile(data []byte, norm *routing.Normalizer) ([]engine.WorkerImport, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = separator(data)
	r.FieldsPerRecord = -1 // checked below, with the row's number
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, didrouter.Errorf(didrouter.EINVALID, "the file is empty: it needs a header row naming the columns (%s)", strings.Join(exportColumns(), ", "))
	}
	if err != nil {
		return nil, csvError(err)
	}
	cols := make([]string, len(header))
	seen := map[string]int{}
	for i, h := range header {
		if err := checkText(fmt.Sprintf("header cell %d", i+1), h); err != nil {
			return nil, rowError(1, "%s", didrouter.ErrorMessage(err))
		}
		c := canonicalColumn(h)
		if c == "" {
			return nil, rowError(1, "column %q is not one didrouter knows; use %s", strings.TrimSpace(h), acceptedColumns())
		}
		if prev, dup := seen[c]; dup {
			return nil, rowError(1, "columns %q and %q both give %s", strings.TrimSpace(header[prev]), strings.TrimSpace(h), c)
		}
		seen[c] = i
		cols[i] = c
	}
	_, hasName := seen[colName]
	_, hasEmail := seen[colEmail]
	if !hasName && !hasEmail {
		return nil, rowError(1, "the header needs a %s or an %s column to name each worker", colName, colEmail)
	}

	var rows []engine.WorkerImport
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvError(err)
		}
		line, _ := r.FieldPos(0)
		if len(rec) != len(cols) {
			return nil, rowError(line, "has %d cells, the header has %d", len(rec), len(cols))
		}
		if len(rows) == maxDIDRows {
			return nil, rowError(line, "more than %d rows: split the file", maxDIDRows)
		}
		cells := map[string]string{}
		blank := true
		for i, v := range rec {
			if err := checkText("column "+cols[i], v); err != nil {
				return nil, rowError(line, "%s", didrouter.ErrorMessage(err))
			}
			v = strings.TrimSpace(v)
			if (cols[i] == colName || cols[i] == colEmail) && formulaLead(v) && !plainData(v) {
				return nil, rowError(line, "column %s: %q begins with %q, which a spreadsheet runs as a formula; "+
					"if it is meant as text, write it with a leading single quote ('%s)", cols[i], clip(v), v[:1], clip(v))
			}
			v = unneutralize(v)
			cells[cols[i]] = v
			if v != "" {
				blank = false
			}
		}
		if blank {
			continue
		}
		row, err := didRow(line, cells, norm)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// didRow checks one row's cells and turns them into an import row. A
// column that is present sets its attribute; an empty cell removes it.
func didRow(line int, cells map[string]string, norm *routing.Normalizer) (engine.WorkerImport, error) {
	row := engine.WorkerImport{Row: line, FriendlyName: cells[colName], Attributes: map[string]string{}}
	if row.FriendlyName == "" {
		row.FriendlyName = cells[colEmail]
	}
	if row.FriendlyName == "" {
		return row, rowError(line, "no %s and no %s: the row names no worker", colName, colEmail)
	}
	if v, ok := cells[colEmail]; ok {
		if v != "" && !looksLikeEmail(v) {
			return row, rowError(line, "email %q is not an email address", v)
		}
		row.Attributes["email"] = v
	}
	if v, ok := cells[colContact]; ok {
		if v != "" {
			if err := checkContactURI(v, norm); err != nil {
				return row, rowError(line, "contact_uri %q %v", v, err)
			}
		}
		row.Attributes["contact_uri"] = v
	}
	if v, ok := cells[colNumber]; ok {
		row.Attributes["phone_number"] = v // the engine normalizes and checks it
	}
	return row, nil
}

func looksLikeEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	return at > 0 && at == strings.LastIndexByte(s, '@') && at < len(s)-1 &&
		strings.IndexFunc(s, unicode.IsSpace) < 0
}

// checkContactURI accepts what the webhooks can ring: client:<identity>,
// sip:/sips: addresses, or a phone number.
func checkContactURI(v string, norm *routing.Normalizer) error {
	lower := strings.ToLower(v)
	switch {
	case strings.HasPrefix(lower, "client:"):
		id := v[len("client:"):]
		if id == "" || strings.IndexFunc(id, func(r rune) bool {
			return unicode.IsSpace(r) || unicode.IsControl(r) || r == '<' || r == '>' || r == '&'
		}) >= 0 {
			return errors.New("is not a usable client identity (client:alice)")
		}
	case strings.HasPrefix(lower, "sip:"), strings.HasPrefix(lower, "sips:"):
		if strings.IndexFunc(v, unicode.IsSpace) >= 0 || !strings.Contains(v, "@") {
			return errors.New("is not a SIP address (sip:alice@example.com)")
		}
	default:
		if _, err := norm.Normalize(strings.TrimPrefix(lower, "tel:")); err != nil {
			return errors.New("is neither client:<identity>, sip:… nor a phone number")
		}
	}
	return nil
}

func acceptedColumns() string {
	var parts []string
	for _, names := range didColumnNames() {
		parts = append(parts, fmt.Sprintf("%s (or %s)", names[0], strings.Join(names[1:], ", ")))
	}
	return strings.Join(parts, "; ")
}

// csvError words a CSV syntax error with its row.
func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return rowError(pe.StartLine, "is not valid CSV: %v", pe.Err)
	}
	return didrouter.Errorf(didrouter.EINVALID, "the file is not valid CSV: %v", err)
}

// separator guesses the cell separator from the header line: spreadsheets
// in many locales save "CSV" with semicolons.
func separator(data []byte) rune {
	first, _, _ := bufio.NewReader(bytes.NewReader(data)).ReadLine()
	best, n := ',', bytes.Count(first, []byte{','})
	for _, c := range []rune{';', '\t'} {
		if k := bytes.Count(first, []byte(string(c))); k > n {
			best, n = c, k
		}
	}
	return best
}

// Cells that a spreadsheet would run as a formula (OWASP's "CSV
// injection"): the export is edited in spreadsheets, and a worker's name
// such as =cmd|' /C calc'!A0, set through the API, would run there.

// formulaLead reports whether a spreadsheet reads a cell beginning like s
// as a formula.
func formulaLead(s string) bool {
	return s != "" && strings.IndexByte("=+-@\t\r", s[0]) >= 0
}

// plainData reports whether a cell that begins like a formula is plainly
// data. A sign followed only by digits, spaces and the characters ( ) . -
// is a phone number such as +1 (512) 764-0580, or a number, and cannot call
// a function.
func plainData(s string) bool {
	if s == "" || (s[0] != '+' && s[0] != '-') {
		return false
	}
	digits := 0
	for _, r := range s[1:] {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == ' ' || r == '(' || r == ')' || r == '.' || r == '-':
		default:
			return false
		}
	}
	return digits > 0
}

// neutralize makes a cell safe to open in a spreadsheet, as OWASP
// recommends: a leading single quote makes it text. Plainly data stays as
// it is. A cell that already begins with quotes before such a character
// gets one more, so that unneutralize gives back exactly what was stored.
func neutralize(s string) string {
	rest := strings.TrimLeft(s, "'")
	if formulaLead(rest) && (rest != s || !plainData(s)) {
		return "'" + s
	}
	return s
}

// unneutralize undoes neutralize: export and import round-trip exactly.
func unneutralize(s string) string {
	if rest := strings.TrimLeft(s, "'"); rest != s && formulaLead(rest) {
		return s[1:]
	}
	return s
}

// writeDIDFile writes workers in the file format parseDIDFile reads, one
// row per worker, sorted by friendly name: importing it changes nothing.
// Attributes that are not strings are written empty; cells a spreadsheet
// would run as formulas are neutralized.
func writeDIDFile(w io.Writer, workers []didrouter.Worker) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(exportColumns()); err != nil {
		return err
	}
	sorted := slices.Clone(workers)
	slices.SortFunc(sorted, func(a, b didrouter.Worker) int {
		if c := strings.Compare(a.FriendlyName, b.FriendlyName); c != 0 {
			return c
		}
		return strings.Compare(a.SID, b.SID)
	})
	for _, wk := range sorted {
		attrs, _ := routing.ParseAttributes([]byte(wk.Attributes))
		str := func(k string) string { s, _ := attrs[k].(string); return s }
		cells := []string{wk.FriendlyName, str("email"), wk.PhoneNumber, str("contact_uri")}
		for i := range cells {
			cells[i] = neutralize(cells[i])
		}
		if err := cw.Write(cells); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
