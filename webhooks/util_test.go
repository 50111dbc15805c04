package webhooks_test

import (
	"encoding/json"
	"net/url"
	"testing"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/webhooks"
)

func signFor(u string, form url.Values) string { return webhooks.Sign(authToken, u, form) }

func mustJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("bad JSON %q: %v", s, err)
	}
}

func engineFilterAll() didrouter.WorkerFilter {
	return didrouter.WorkerFilter{Page: didrouter.Page{Size: 1000}}
}
