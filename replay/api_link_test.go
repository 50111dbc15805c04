package replay

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/didrouter/didrouter/api/apiclient"
)

// didrouter builds next_page_url from its public URL (issue 16, finding
// 12), which need not be how replay reaches it: replay follows the link's
// path and query on its target, and sends nothing to the link's host.
func TestPagesFollowLinksOfThePublicURL(t *testing.T) {
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.URL.RequestURI())
		page := map[string]any{"workers": []any{map[string]any{"sid": "WK" + r.URL.Query().Get("Page")}}, "meta": map[string]any{"next_page_url": nil}}
		if r.URL.Query().Get("Page") == "" {
			page["meta"] = map[string]any{"next_page_url": "https://calls.example.test/v1/Workspaces/WS1/Workers?Page=1&PageToken=WK0"}
		}
		_ = json.NewEncoder(w).Encode(page)
	}))
	defer srv.Close()
	c := apiClient{apiclient.New(srv.Client(), "k", "s", srv.URL)}
	n := 0
	err := c.Pages(context.Background(), "/v1/Workspaces/WS1/Workers", "workers", func(items []json.RawMessage) (bool, error) {
		n += len(items)
		return true, nil
	})
	if err != nil || n != 2 {
		t.Fatalf("pages: %d items, %v", n, err)
	}
	if want := "/v1/Workspaces/WS1/Workers?Page=1&PageToken=WK0"; len(seen) != 2 || seen[1] != want {
		t.Errorf("requests %q, want the second to be %s", seen, want)
	}
	if err := c.JSON(context.Background(), http.MethodGet, "https://elsewhere.example/other", nil, nil); err == nil ||
		!strings.Contains(err.Error(), "outside the targets") {
		t.Errorf("a link outside the API: %v", err)
	}
}
