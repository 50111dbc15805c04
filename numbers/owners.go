package numbers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Owner is a didrouter worker whose DID is a number.
type Owner struct {
	WorkspaceSID  string `json:"workspace_sid"`
	WorkspaceName string `json:"workspace_name"`
	WorkerSID     string `json:"worker_sid"`
	WorkerName    string `json:"worker_name"`
	PhoneNumber   string `json:"phone_number"`
}

// Directory reads workers from didrouter's admin API (TaskRouter v1
// paths, HTTP Basic auth with the API key and secret).
type Directory struct {
	BaseURL   *url.URL // e.g. http://127.0.0.1:8080
	APIKey    string
	APISecret string
	Client    *http.Client // nil: http.DefaultClient
}

// NewDirectory checks the admin API's base URL.
func NewDirectory(baseURL, key, secret string) (*Directory, error) {
	u, err := url.Parse(strings.TrimRight(strings.TrimSpace(baseURL), "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("didrouter URL %q: want the admin API's base URL, e.g. http://127.0.0.1:8080", baseURL)
	}
	if key == "" || secret == "" {
		return nil, fmt.Errorf("the admin API needs DIDROUTER_API_KEY and DIDROUTER_API_SECRET")
	}
	return &Directory{BaseURL: u, APIKey: key, APISecret: secret}, nil
}

// maxPages bounds the pages followed in one list, against a server that
// links a page to itself.
const maxPages = 10000

// Owners returns the workers with a DID (their phone_number attribute),
// by number, across every workspace.
func (d *Directory) Owners(ctx context.Context) (map[string][]Owner, error) {
	type workspace struct {
		SID          string `json:"sid"`
		FriendlyName string `json:"friendly_name"`
	}
	var spaces []workspace
	err := d.list(ctx, "/v1/Workspaces?PageSize=100", "workspaces", func(raw json.RawMessage) error {
		var ws workspace
		if err := json.Unmarshal(raw, &ws); err != nil {
			return err
		}
		spaces = append(spaces, ws)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := map[string][]Owner{}
	for _, ws := range spaces {
		path := "/v1/Workspaces/" + url.PathEscape(ws.SID) + "/Workers?PageSize=1000"
		err := d.list(ctx, path, "workers", func(raw json.RawMessage) error {
			var w struct {
				SID          string `json:"sid"`
				FriendlyName string `json:"friendly_name"`
				Attributes   string `json:"attributes"`
			}
			if err := json.Unmarshal(raw, &w); err != nil {
				return err
			}
			did := didOf(w.Attributes)
			if did == "" {
				return nil
			}
			out[did] = append(out[did], Owner{WorkspaceSID: ws.SID, WorkspaceName: ws.FriendlyName,
				WorkerSID: w.SID, WorkerName: w.FriendlyName, PhoneNumber: did})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// didOf returns the phone_number attribute (E.164, as didrouter stores
// it), or "" when there is none.
func didOf(attributes string) string {
	var attrs map[string]any
	if json.Unmarshal([]byte(attributes), &attrs) != nil {
		return ""
	}
	s, _ := attrs["phone_number"].(string)
	return strings.TrimSpace(s)
}

// list GETs path and each next page, handing every item under key to fn.
func (d *Directory) list(ctx context.Context, path, key string, fn func(json.RawMessage) error) error {
	next, err := d.resolve(path)
	if err != nil {
		return err
	}
	for page := 0; next != "" && page < maxPages; page++ {
		var body struct {
			Meta struct {
				NextPageURL *string `json:"next_page_url"`
			} `json:"meta"`
		}
		raw, err := d.get(ctx, next)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(raw, &body); err != nil {
			return fmt.Errorf("didrouter API %s: %w", next, err)
		}
		var items map[string]json.RawMessage
		_ = json.Unmarshal(raw, &items)
		var list []json.RawMessage
		if err := json.Unmarshal(items[key], &list); err != nil {
			return fmt.Errorf("didrouter API %s: no %q list in the answer", next, key)
		}
		for _, it := range list {
			if err := fn(it); err != nil {
				return fmt.Errorf("didrouter API %s: %w", next, err)
			}
		}
		next = ""
		if body.Meta.NextPageURL != nil && *body.Meta.NextPageURL != "" {
			if next, err = d.resolve(*body.Meta.NextPageURL); err != nil {
				return err
			}
		}
	}
	return nil
}

// resolve turns a link into a URL on the configured server: the server
// may build links from its public URL, but the credentials go only to
// the host the user named.
func (d *Directory) resolve(link string) (string, error) {
	ref, err := url.Parse(link)
	if err != nil {
		return "", fmt.Errorf("didrouter API link %q: %w", link, err)
	}
	u := *d.BaseURL
	u.Path = strings.TrimRight(d.BaseURL.Path, "/") + ref.Path
	if ref.IsAbs() && strings.HasPrefix(ref.Path, d.BaseURL.Path) {
		u.Path = ref.Path // already has the base's path prefix
	}
	u.RawPath = ""
	u.RawQuery = ref.RawQuery
	return u.String(), nil
}

func (d *Directory) get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(d.APIKey, d.APISecret)
	req.Header.Set("Accept", "application/json")
	c := d.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("didrouter API: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("didrouter API %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		msg := strings.TrimSpace(string(body))
		var e struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(body, &e) == nil && e.Message != "" {
			msg = e.Message
		}
		if len(msg) > 200 {
			msg = msg[:200]
		}
		hint := ""
		if resp.StatusCode == http.StatusUnauthorized {
			hint = " (check DIDROUTER_API_KEY and DIDROUTER_API_SECRET)"
		}
		return nil, fmt.Errorf("didrouter API %s answered %s: %s%s", u, resp.Status, msg, hint)
	}
	return body, nil
}
