package webhooks

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/didrouter/didrouter"
)

// FuzzCheckParams: whatever a webhook request carries, checkParams does
// not panic, and a request it lets through has a CallSid of Twilio's
// shape, sids of their shapes, and didrouter's own parameters as
// didrouter writes them, each once.
func FuzzCheckParams(f *testing.F) {
	sid := "CA" + strings.Repeat("0", 32)
	task := "WT" + strings.Repeat("a", 32)
	for _, seed := range []struct {
		get         bool
		query, body string
	}{
		{false, "", "CallSid=" + sid + "&From=%2B15125550100&To=%2B15125550101"},
		{false, "greeted=1&CallSid=CAforged", "CallSid=" + sid},
		{false, "task=" + task + "&reservation=WR" + strings.Repeat("b", 32) + "&dial_status=completed&held=3", "CallSid=" + sid},
		{false, "", "CallSid=CA" + strings.Repeat("0", 28) + "cdefCallStatusringing"},
		{false, "", "CallSid=CA" + strings.Repeat("0", 31) + "%00"},
		{false, "attempt=-1", "CallSid=" + sid},
		{true, "CallSid=" + sid + "&CallSid=" + sid, ""},
		{false, "task=" + task + "&task=" + task, "CallSid=" + sid + "&AccountSid=AC1"},
	} {
		f.Add(seed.get, seed.query, seed.body)
	}
	f.Fuzz(func(t *testing.T, get bool, query, body string) {
		method := http.MethodPost
		if get {
			method = http.MethodGet
		}
		u := &url.URL{Scheme: "https", Host: "calls.example.com", Path: PathPrefix + "/incoming", RawQuery: query}
		// Built by hand: httptest.NewRequest panics on a target with blanks.
		r := &http.Request{Method: method, URL: u, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body))}
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if err := r.ParseForm(); err != nil {
			return // the verifier refuses it before checkParams
		}
		if checkParams(r) != nil {
			return
		}
		c := &call{r: r}
		if !didrouter.IsSID(c.param("CallSid"), prefixCall) {
			t.Fatalf("let through CallSid %q", c.param("CallSid"))
		}
		params := twilioParams(r)
		for _, p := range twilioSIDs {
			if v := params[p.name]; len(v) > 1 || (len(v) == 1 && v[0] != "" && !didrouter.IsSID(v[0], p.prefix)) {
				t.Fatalf("let through %s %q", p.name, v)
			}
		}
		q := r.URL.Query()
		for _, p := range ownParams {
			if v := q[p.name]; len(v) > 1 || (len(v) == 1 && !p.valid(v[0])) {
				t.Fatalf("let through query %s %q", p.name, v)
			}
		}
	})
}
