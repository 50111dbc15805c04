package api

import (
	"errors"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/didrouter/didrouter"
)

// form is a parsed form-encoded request body, as Twilio's clients send
// create and update parameters.
type form struct {
	values map[string][]string
}

func parseForm(r *http.Request) (form, error) {
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return form{}, didrouter.Errorf(didrouter.EINVALID, "request body is too large")
		}
		return form{}, didrouter.Errorf(didrouter.EINVALID, "malformed parameters: %v", err)
	}
	return form{values: r.PostForm}, nil
}

// str returns a parameter and whether it was sent.
func (f form) str(name string) (string, bool) {
	v, ok := f.values[name]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// get returns a parameter, "" when absent.
func (f form) get(name string) string {
	v, _ := f.str(name)
	return v
}

// ptr returns a pointer to a parameter that was sent, nil otherwise (an
// update then leaves the field unchanged).
func (f form) ptr(name string) *string {
	if v, ok := f.str(name); ok {
		return &v
	}
	return nil
}

// intPtr parses an integer parameter that was sent.
func (f form) intPtr(name string) (*int, error) {
	v, ok := f.str(name)
	if !ok {
		return nil, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return nil, didrouter.Errorf(didrouter.EINVALID, "%s must be an integer, not %q", name, v)
	}
	return &n, nil
}

// unsupported fails when any of the named TaskRouter parameters was sent:
// didrouter does not implement them yet, and silently ignoring them would
// do something other than the client asked.
func (f form) unsupported(names ...string) error {
	for _, n := range names {
		if v, ok := f.str(n); ok && v != "" {
			return didrouter.Errorf(didrouter.EINVALID, "parameter %s is not supported by didrouter", n)
		}
	}
	return nil
}

// onlyValues fails when the named parameter was sent with a value other than
// the listed ones: the others select TaskRouter behaviour didrouter lacks.
func (f form) onlyValues(name string, allowed ...string) error {
	v, ok := f.str(name)
	if !ok || v == "" {
		return nil
	}
	if slices.Contains(allowed, v) {
		return nil
	}
	return didrouter.Errorf(didrouter.EINVALID, "%s=%s is not supported by didrouter (only %s)", name, v, strings.Join(allowed, ", "))
}

// boolPtr parses a boolean parameter that was sent ("true", "1", "yes"
// and "false", "0", "no", as Twilio reads them).
func (f form) boolPtr(name string) (*bool, error) {
	v, ok := f.str(name)
	if !ok || v == "" {
		return nil, nil
	}
	b, err := parseBool(v)
	if err != nil {
		return nil, didrouter.Errorf(didrouter.EINVALID, "%s must be true or false, not %q", name, v)
	}
	return &b, nil
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes":
		return true, nil
	case "false", "0", "no":
		return false, nil
	}
	return false, errors.New("not a boolean")
}

// only fails when a parameter other than the named ones was sent with a
// value: for resources where TaskRouter has many parameters and didrouter
// honours few, naming the first unsupported one beats ignoring it.
func (f form) only(names ...string) error {
	var extra []string
	for k, v := range f.values {
		if len(v) > 0 && v[0] != "" && !slices.Contains(names, k) {
			extra = append(extra, k)
		}
	}
	if len(extra) == 0 {
		return nil
	}
	sort.Strings(extra)
	return didrouter.Errorf(didrouter.EINVALID, "parameter %s is not supported by didrouter", extra[0])
}

// checkText refuses text that Postgres cannot store but SQLite would, such
// as invalid UTF-8 or a NUL byte. Refusing it here makes both stores answer
// alike, with a 400 instead of a database error. what names the text.
func checkText(what, s string) error {
	if !utf8.ValidString(s) {
		return didrouter.Errorf(didrouter.EINVALID, "%s is not valid UTF-8 text", what)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return didrouter.Errorf(didrouter.EINVALID, "%s contains a NUL character", what)
	}
	return nil
}

// maxQuoted bounds how much of a bad name or value an error quotes.
const maxQuoted = 64

// clip shortens s for an error message, at a character boundary.
func clip(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// CheckRequestText is checkParams for the other HTTP front ends of the
// engine (the admin console, the agent desktop): their forms reach the
// same stores, so they refuse the same bytes with the same messages.
func CheckRequestText(r *http.Request) error { return checkParams(r) }

// checkParams checks the path and every query and form parameter (names
// and values) of a request whose form is parsed. Names are checked in
// sorted order, so the error names the same parameter every time.
func checkParams(r *http.Request) error {
	if err := checkText("the request path", r.URL.Path); err != nil {
		return err
	}
	names := make([]string, 0, len(r.Form))
	for k := range r.Form {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		if err := checkText("the parameter name "+strconv.Quote(clip(k)), k); err != nil {
			return err
		}
		for _, v := range r.Form[k] {
			if err := checkText("parameter "+clip(k), v); err != nil {
				return err
			}
		}
	}
	return nil
}

// maxEnumValues bounds the values of one enumerated filter: a list far
// longer than the enumeration is a mistake or an attack (70,000 values cost
// seconds of CPU and a database error).
const maxEnumValues = 32

// enumValues reads an enumerated list filter: the parameter may be sent
// several times and each value may be comma-separated. Every value must be
// one of known; duplicates are dropped.
func enumValues(name string, sent []string, known []string) ([]string, error) {
	var out []string
	n := 0
	for _, v := range sent {
		for s := range strings.SplitSeq(v, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			if n++; n > maxEnumValues {
				return nil, didrouter.Errorf(didrouter.EINVALID, "%s takes at most %d values", name, maxEnumValues)
			}
			if !slices.Contains(known, s) {
				return nil, didrouter.Errorf(didrouter.EINVALID, "%s %q is not one of %s", name, clip(s), strings.Join(known, ", "))
			}
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out, nil
}
