package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/didrouter/didrouter/api/apiclient"
)

// apiClient talks to didrouter's admin API (TaskRouter v1 shapes) of the
// targets. The replay's own requests are the methods below.
type apiClient struct {
	*apiclient.Client
}

type apiWorkspace struct {
	SID          string `json:"sid"`
	FriendlyName string `json:"friendly_name"`
}

// workspace finds the workspace calls route in: the seeded one, else the first.
func (c apiClient) workspace(ctx context.Context) (string, error) {
	var list struct {
		Workspaces []apiWorkspace `json:"workspaces"`
	}
	if err := c.JSON(ctx, http.MethodGet, "/v1/Workspaces?PageSize=1000", nil, &list); err != nil {
		return "", fmt.Errorf("list workspaces: %w", err)
	}
	if len(list.Workspaces) == 0 {
		return "", errors.New("the target has no workspace")
	}
	for _, w := range list.Workspaces {
		if w.FriendlyName == "Flex Task Assignment" {
			return w.SID, nil
		}
	}
	return list.Workspaces[0].SID, nil
}

// activities returns the sids of the Available and Offline activities.
func (c apiClient) activities(ctx context.Context, ws string) (available, offline string, err error) {
	var list struct {
		Activities []struct {
			SID          string `json:"sid"`
			FriendlyName string `json:"friendly_name"`
			Available    bool   `json:"available"`
		} `json:"activities"`
	}
	if err := c.JSON(ctx, http.MethodGet, "/v1/Workspaces/"+ws+"/Activities?PageSize=1000", nil, &list); err != nil {
		return "", "", fmt.Errorf("list activities: %w", err)
	}
	for _, a := range list.Activities {
		switch {
		case a.FriendlyName == "Available" || (available == "" && a.Available):
			available = a.SID
		case a.FriendlyName == "Offline" || (offline == "" && !a.Available):
			offline = a.SID
		}
	}
	if available == "" || offline == "" {
		return "", "", errors.New("the workspace needs an available and an unavailable activity")
	}
	return available, offline, nil
}

// fleetWorker is a worker as the target has it.
type fleetWorker struct {
	SID       string
	Name      string
	DID       string
	Contact   string
	Available bool
}

type apiWorker struct {
	SID          string `json:"sid"`
	FriendlyName string `json:"friendly_name"`
	Attributes   string `json:"attributes"`
	Available    bool   `json:"available"`
	ActivitySID  string `json:"activity_sid"`
}

func (w apiWorker) fleet() fleetWorker {
	var attrs struct {
		Phone   any `json:"phone_number"`
		Contact any `json:"contact_uri"`
	}
	_ = json.Unmarshal([]byte(w.Attributes), &attrs) // odd attributes: no DID, no contact
	f := fleetWorker{SID: w.SID, Name: w.FriendlyName, Available: w.Available}
	f.DID, _ = attrs.Phone.(string)
	f.Contact, _ = attrs.Contact.(string)
	return f
}

// workers lists every worker of the workspace.
func (c apiClient) workers(ctx context.Context, ws string) ([]apiWorker, error) {
	var out []apiWorker
	err := c.Pages(ctx, "/v1/Workspaces/"+ws+"/Workers?PageSize=1000", "workers", func(items []json.RawMessage) (bool, error) {
		for _, raw := range items {
			var w apiWorker
			if err := json.Unmarshal(raw, &w); err != nil {
				return false, err
			}
			out = append(out, w)
		}
		return true, nil
	})
	return out, err
}

// seedWorkers makes the target's workers match the script's: created or
// updated (number, contact_uri client:name, activity) by friendly name.
// A number owned by a worker the script does not name is an error.
func (c apiClient) seedWorkers(ctx context.Context, ws string, want []Worker, parallel int, progress func(done int)) error {
	available, offline, err := c.activities(ctx, ws)
	if err != nil {
		return err
	}
	have, err := c.workers(ctx, ws)
	if err != nil {
		return err
	}
	byName := make(map[string]apiWorker, len(have))
	for _, w := range have {
		byName[w.FriendlyName] = w
	}
	work := make(chan Worker)
	errs := make(chan error, parallel)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		done int
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for w := range work {
				if err := c.seedOne(ctx, ws, w, byName, available, offline); err != nil {
					errs <- fmt.Errorf("seed worker %s: %w", w.Name, err)
					cancel()
					return
				}
				mu.Lock()
				done++
				if progress != nil && done%1000 == 0 {
					progress(done)
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for _, w := range want {
		select {
		case work <- w:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return ctx.Err()
}

func (c apiClient) seedOne(ctx context.Context, ws string, w Worker, byName map[string]apiWorker, available, offline string) error {
	attrs := map[string]any{"contact_uri": "client:" + w.Name}
	if w.DID != "" {
		attrs["phone_number"] = w.DID
	}
	ab, _ := json.Marshal(attrs) // strings only
	activity := offline
	if w.Available {
		activity = available
	}
	form := url.Values{"Attributes": {string(ab)}, "ActivitySid": {activity}}
	if cur, ok := byName[w.Name]; ok {
		f := cur.fleet()
		if f.DID == w.DID && f.Contact == "client:"+w.Name && cur.ActivitySID == activity {
			return nil
		}
		return c.JSON(ctx, http.MethodPost, "/v1/Workspaces/"+ws+"/Workers/"+cur.SID, form, nil)
	}
	form.Set("FriendlyName", w.Name)
	return c.JSON(ctx, http.MethodPost, "/v1/Workspaces/"+ws+"/Workers", form, nil)
}

// taskRecord is a task of this run, as the API lists it.
type taskRecord struct {
	SID    string
	Status string
	Type   string // the task's "type" attribute: inbound, voicemail, callback, …
}

// runTasks lists the tasks whose call_sid attribute starts with prefix,
// newest first, stopping at tasks created well before since.
func (c apiClient) runTasks(ctx context.Context, ws, prefix string, since time.Time) (map[string][]taskRecord, error) {
	out := map[string][]taskRecord{}
	cutoff := since.Add(-2 * time.Minute)
	err := c.Pages(ctx, "/v1/Workspaces/"+ws+"/Tasks?PageSize=1000&Ordering=DateCreated:desc", "tasks", func(items []json.RawMessage) (bool, error) {
		for _, raw := range items {
			var t struct {
				SID         string `json:"sid"`
				Status      string `json:"assignment_status"`
				Attributes  string `json:"attributes"`
				DateCreated string `json:"date_created"`
			}
			if err := json.Unmarshal(raw, &t); err != nil {
				return false, err
			}
			if created, err := time.Parse(time.RFC3339, t.DateCreated); err == nil && created.Before(cutoff) {
				return false, nil
			}
			var attrs struct {
				CallSID string `json:"call_sid"`
				Type    string `json:"type"`
			}
			_ = json.Unmarshal([]byte(t.Attributes), &attrs) // tasks of others may hold anything
			if strings.HasPrefix(attrs.CallSID, prefix) {
				out[attrs.CallSID] = append(out[attrs.CallSID], taskRecord{SID: t.SID, Status: t.Status, Type: attrs.Type})
			}
		}
		return true, nil
	})
	return out, err
}
