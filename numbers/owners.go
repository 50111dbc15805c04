package numbers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/didrouter/didrouter/api/apiclient"
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
	api *apiclient.Client
}

// NewDirectory checks the admin API's base URL.
func NewDirectory(baseURL, key, secret string) (*Directory, error) {
	base, err := apiclient.ParseBaseURL(baseURL)
	if err != nil {
		return nil, fmt.Errorf("didrouter URL %q: %w", baseURL, err)
	}
	if key == "" || secret == "" {
		return nil, fmt.Errorf("the admin API needs DIDROUTER_API_KEY and DIDROUTER_API_SECRET")
	}
	return &Directory{api: apiclient.New(nil, key, secret, base)}, nil
}

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
	return d.api.Pages(ctx, path, key, func(items []json.RawMessage) (bool, error) {
		for _, it := range items {
			if err := fn(it); err != nil {
				return false, err
			}
		}
		return true, nil
	})
}
