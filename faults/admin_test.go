package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/didrouter/didrouter/engine"
)

// admin calls the admin API (TaskRouter v1 paths) of one instance.
type admin struct {
	base        string
	key, secret string
	ws          string
	client      *http.Client
}

func newAdmin(base, key, secret string) *admin {
	return &admin{base: base, key: key, secret: secret, client: &http.Client{Timeout: 15 * time.Second}}
}

// do sends one request; form nil = GET. It decodes a 2xx JSON answer into out.
func (a *admin) do(ctx context.Context, method, path string, form url.Values, out any) error {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return err
	}
	req.SetBasicAuth(a.key, a.secret)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, b)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decode %s: %w", method, path, b, err)
	}
	return nil
}

type resource struct {
	SID          string `json:"sid"`
	FriendlyName string `json:"friendly_name"`
}

// find returns the sid of the listed resource named name.
func (a *admin) find(ctx context.Context, path, key, name string) (string, error) {
	var page map[string]json.RawMessage
	if err := a.do(ctx, http.MethodGet, path+"?PageSize=1000", nil, &page); err != nil {
		return "", err
	}
	var list []resource
	if err := json.Unmarshal(page[key], &list); err != nil {
		return "", fmt.Errorf("decode %s: %w", key, err)
	}
	for _, r := range list {
		if r.FriendlyName == name {
			return r.SID, nil
		}
	}
	return "", fmt.Errorf("no %s named %q", key, name)
}

func (a *admin) wsPath(rest string) string { return "/v1/Workspaces/" + a.ws + rest }

// setup is what the scenario needs in the seeded workspace.
type setup struct {
	workflow  string // the DID workflow
	queue     string // Everyone
	available string // the Available activity
	ttlFlow   string // a workflow whose queue has nobody: its tasks wait for their TTL
	agents    []agent
}

type agent struct {
	identity string // client:<identity> rings them
	did      string // their own number
	sid      string
}

// prepare shortens the DID workflow's timeouts (so that ring steps and
// reservation timeouts happen within the test), creates the agents, and a
// workflow whose tasks nobody can take.
func (a *admin) prepare(ctx context.Context, agents int, step, reservation time.Duration) (*setup, error) {
	var wsPage map[string]json.RawMessage
	if err := a.do(ctx, http.MethodGet, "/v1/Workspaces", nil, &wsPage); err != nil {
		return nil, err
	}
	var wss []resource
	if err := json.Unmarshal(wsPage["workspaces"], &wss); err != nil || len(wss) != 1 {
		return nil, fmt.Errorf("want one seeded workspace, got %s (%v)", wsPage["workspaces"], err)
	}
	a.ws = wss[0].SID
	s := &setup{}
	var err error
	if s.workflow, err = a.find(ctx, a.wsPath("/Workflows"), "workflows", engine.SeedWorkflowName); err != nil {
		return nil, err
	}
	if s.queue, err = a.find(ctx, a.wsPath("/TaskQueues"), "task_queues", engine.SeedQueueName); err != nil {
		return nil, err
	}
	if s.available, err = a.find(ctx, a.wsPath("/Activities"), "activities", "Available"); err != nil {
		return nil, err
	}
	// The seeded DID workflow with the owner step's timeout shortened.
	cfg := strings.Replace(engine.DIDWorkflowConfig(s.queue), fmt.Sprintf(`"timeout":%d`, engine.SeedOwnerTimeout),
		fmt.Sprintf(`"timeout":%d`, int(step/time.Second)), 1)
	if err := a.do(ctx, http.MethodPost, a.wsPath("/Workflows/"+s.workflow), url.Values{
		"Configuration":          {cfg},
		"TaskReservationTimeout": {fmt.Sprint(int(reservation / time.Second))},
	}, nil); err != nil {
		return nil, err
	}
	var q resource
	if err := a.do(ctx, http.MethodPost, a.wsPath("/TaskQueues"), url.Values{
		"FriendlyName": {"Nobody"}, "TargetWorkers": {`worker.nobody == "yes"`},
	}, &q); err != nil {
		return nil, err
	}
	var wf resource
	if err := a.do(ctx, http.MethodPost, a.wsPath("/Workflows"), url.Values{
		"FriendlyName":  {"TTL probes"},
		"Configuration": {fmt.Sprintf(`{"task_routing":{"filters":[],"default_filter":{"queue":%q}}}`, q.SID)},
	}, &wf); err != nil {
		return nil, err
	}
	s.ttlFlow = wf.SID
	for i := range agents {
		ag := agent{identity: fmt.Sprintf("agent%02d", i), did: fmt.Sprintf("+1512555%04d", 2000+i)}
		attrs, _ := json.Marshal(map[string]string{"phone_number": ag.did, "contact_uri": "client:" + ag.identity})
		var w resource
		if err := a.do(ctx, http.MethodPost, a.wsPath("/Workers"), url.Values{
			"FriendlyName": {ag.identity}, "Attributes": {string(attrs)}, "ActivitySid": {s.available},
		}, &w); err != nil {
			return nil, err
		}
		ag.sid = w.SID
		s.agents = append(s.agents, ag)
	}
	return s, nil
}

// ttlProbe creates a task nobody can take that times out after ttl.
func (a *admin) ttlProbe(ctx context.Context, s *setup, ttl time.Duration) (string, error) {
	var t resource
	err := a.do(ctx, http.MethodPost, a.wsPath("/Tasks"), url.Values{
		"WorkflowSid": {s.ttlFlow}, "Attributes": {`{"type":"ttl-probe"}`}, "Timeout": {fmt.Sprint(int(ttl / time.Second))},
	}, &t)
	return t.SID, err
}
