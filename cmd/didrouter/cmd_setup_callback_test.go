package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"
	taskrouter "github.com/twilio/twilio-go/rest/taskrouter/v1"
)

// serve wires assignment callbacks: a task created over the API in a
// workflow with an AssignmentCallbackUrl is POSTed there, signed with
// TWILIO_AUTH_TOKEN when DIDROUTER_CALLBACK_SIGNING=twilio chooses it, and
// the "accept" answer assigns it.
func TestServeAssignmentCallback(t *testing.T) {
	var (
		mu  sync.Mutex
		got []url.Values
		sig []string
	)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		mu.Lock()
		got, sig = append(got, form), append(sig, r.Header.Get("X-Twilio-Signature"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"instruction":"accept"}`))
	}))
	defer app.Close()

	cfg := testConfig(t)
	cfg.CallbackSigning = "twilio"
	base, logs := runServer(t, cfg)
	waitReady(t, base)
	tr, err := setupClient(base, cfg.APIKey, cfg.APISecret, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	wss, err := tr.ListWorkspace(nil)
	if err != nil || len(wss) != 1 {
		t.Fatalf("workspaces: %v %d", err, len(wss))
	}
	ws := *wss[0].Sid
	acts, _ := tr.ListActivity(ws, (&taskrouter.ListActivityParams{}).SetFriendlyName("Available"))
	if _, err := tr.CreateWorker(ws, (&taskrouter.CreateWorkerParams{}).SetFriendlyName("alice").
		SetAttributes(`{"contact_uri":"client:alice"}`).SetActivitySid(*acts[0].Sid)); err != nil {
		t.Fatal(err)
	}
	qs, _ := tr.ListTaskQueue(ws, (&taskrouter.ListTaskQueueParams{}).SetFriendlyName("Everyone"))
	wf, err := tr.CreateWorkflow(ws, (&taskrouter.CreateWorkflowParams{}).SetFriendlyName("Callbacks").
		SetConfiguration(`{"task_routing":{"default_filter":{"queue":"`+*qs[0].Sid+`"}}}`).
		SetAssignmentCallbackUrl(app.URL+"/assign"))
	if err != nil {
		t.Fatal(err)
	}
	task, err := tr.CreateTask(ws, (&taskrouter.CreateTaskParams{}).SetWorkflowSid(*wf.Sid).SetAttributes(`{"type":"callback"}`))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		cur, err := tr.FetchTask(ws, *task.Sid)
		if err == nil && *cur.AssignmentStatus == "assigned" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the task was not assigned by the callback's answer: %v %+v\n%s", err, cur, logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].Get("TaskSid") != *task.Sid {
		t.Fatalf("callbacks %v", got)
	}
	params := map[string]string{}
	for k := range got[0] {
		params[k] = got[0].Get(k)
	}
	v := client.NewRequestValidator(cfg.AuthToken)
	if !v.Validate(app.URL+"/assign", params, sig[0]) {
		t.Errorf("the callback's signature does not validate with TWILIO_AUTH_TOKEN")
	}
}

// The forged-call attack of issue 16: a callback URL pointing at
// didrouter's own webhooks (through DIDROUTER_PUBLIC_URL, in either
// scheme, or this server's port on loopback) is refused with Twilio's 400
// naming the parameter, as is a host off DIDROUTER_CALLBACK_HOSTS. Without
// DIDROUTER_CALLBACK_SIGNING_KEY the start-up log says callbacks go
// unsigned.
func TestServeRefusesCallbacksToItself(t *testing.T) {
	cfg := testConfig(t)
	cfg.CallbackHosts = []string{"hooks.example.test", "calls.example.test", "127.0.0.1"}
	base, logs := runServer(t, cfg)
	waitReady(t, base)
	if !strings.Contains(logs.String(), "callbacks sent unsigned") {
		t.Errorf("no warning about unsigned callbacks:\n%s", logs)
	}
	tr, err := setupClient(base, cfg.APIKey, cfg.APISecret, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	wss, err := tr.ListWorkspace(nil)
	if err != nil || len(wss) != 1 {
		t.Fatalf("workspaces: %v %d", err, len(wss))
	}
	ws := *wss[0].Sid
	wf, err := tr.CreateWorkflow(ws, (&taskrouter.CreateWorkflowParams{}).SetFriendlyName("Callbacks").
		SetConfiguration(`{"task_routing":{"default_filter":{"queue":"`+queueSID(t, tr, ws)+`"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	post := func(path string, form url.Values) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, base+"/v1/Workspaces/"+ws+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(cfg.APIKey, cfg.APISecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	forged := "/webhooks/voice/incoming?greeted=1&CallSid=CA00000000000000000000000000000000&From=%2B15125550100&To=%2B15125550199"
	for _, c := range []struct{ url, says string }{
		{"https://calls.example.test" + forged, "didrouter itself"},
		{"http://calls.example.test" + forged, "didrouter itself"},
		{"HTTPS://CALLS.EXAMPLE.TEST:443" + forged, "didrouter itself"},
		{base + forged, "didrouter itself"},
		{strings.Replace(base, "127.0.0.1", "localhost", 1) + forged, "didrouter itself"},
		{"https://elsewhere.example.test/events", "DIDROUTER_CALLBACK_HOSTS"},
	} {
		for _, p := range []struct{ path, param string }{
			{"", "EventCallbackUrl"},
			{"/Workflows/" + *wf.Sid, "AssignmentCallbackUrl"},
			{"/Workflows/" + *wf.Sid, "FallbackAssignmentCallbackUrl"},
		} {
			status, body := post(p.path, url.Values{p.param: {c.url}})
			msg, _ := body["message"].(string)
			if status != http.StatusBadRequest || body["code"] != float64(20001) ||
				!strings.HasPrefix(msg, p.param+" ") || !strings.Contains(msg, c.says) {
				t.Errorf("%s=%s: %d %v, want 400 naming %s and %q", p.param, c.url, status, body, p.param, c.says)
			}
		}
	}
	// Another port of an allowed host is another application.
	if status, body := post("", url.Values{"EventCallbackUrl": {"http://127.0.0.1:1/events"}}); status != http.StatusOK {
		t.Errorf("another port: %d %v", status, body)
	}
}

func queueSID(t *testing.T, tr *taskrouter.ApiService, ws string) string {
	t.Helper()
	qs, err := tr.ListTaskQueue(ws, (&taskrouter.ListTaskQueueParams{}).SetFriendlyName("Everyone"))
	if err != nil || len(qs) == 0 {
		t.Fatalf("queues: %v %d", err, len(qs))
	}
	return *qs[0].Sid
}
