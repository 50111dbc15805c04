package scim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/provision"
	"github.com/didrouter/didrouter/routing"
	"github.com/didrouter/didrouter/scim"
	"github.com/didrouter/didrouter/store/storetest"
)

const token = "scim-test-token-0123456789abcdef"

type world struct {
	t     *testing.T
	ctx   context.Context
	st    didrouter.Store
	eng   *engine.Engine
	ws    didrouter.Workspace
	acts  map[string]string
	srv   *httptest.Server
	calls int
}

func stores(t *testing.T, fn func(t *testing.T, w *world)) {
	storetest.Each(t, func(t *testing.T, st didrouter.Store) { fn(t, newWorld(t, st)) })
}

func newWorld(t *testing.T, st didrouter.Store) *world {
	ctx := t.Context()
	clock := didrouter.NewFakeClock(time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC))
	ws, err := engine.Seed(ctx, st, clock)
	if err != nil {
		t.Fatal(err)
	}
	norm, err := routing.NewNormalizer("US")
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{Store: st, Clock: clock, Normalizer: norm})
	if err != nil {
		t.Fatal(err)
	}
	p, err := provision.New(eng, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	h, err := scim.New(scim.Config{Provisioner: p, WorkspaceSID: ws.SID, Token: token, PublicURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	h.Mount(r)
	go func() { _ = p.Run(ctx, slog.New(slog.DiscardHandler)) }()
	acts, err := st.ListActivities(ctx, ws.SID)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, ctx: ctx, st: st, eng: eng, ws: ws, acts: map[string]string{}, srv: srv}
	for _, a := range acts {
		w.acts[a.FriendlyName] = a.SID
	}
	return w
}

type answer struct {
	status int
	body   map[string]any
	raw    string
}

// do sends a SCIM request as a client would (Bearer token, scim+json).
func (w *world) do(method, path string, body any) answer {
	w.t.Helper()
	return w.doAuth(method, path, body, "Bearer "+token)
}

func (w *world) doAuth(method, path string, body any, auth string) answer {
	w.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			w.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(w.ctx, method, w.srv.URL+"/scim/v2"+path, rd)
	if err != nil {
		w.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json; charset=utf-8")
	}
	resp, err := w.srv.Client().Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, raw: string(raw)}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &a.body); err != nil {
			w.t.Fatalf("%s %s: answer is not JSON: %s", method, path, raw)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/scim+json" {
			w.t.Fatalf("%s %s: Content-Type %q", method, path, ct)
		}
	}
	return a
}

func (w *world) want(a answer, status int) answer {
	w.t.Helper()
	if a.status != status {
		w.t.Fatalf("status %d, want %d: %s", a.status, status, a.raw)
	}
	if status >= 400 {
		if a.body["status"] != fmt.Sprint(status) || a.body["detail"] == "" {
			w.t.Fatalf("error not in SCIM's shape: %s", a.raw)
		}
		if s, _ := a.body["schemas"].([]any); len(s) != 1 || s[0] != scim.SchemaError {
			w.t.Fatalf("error schema: %s", a.raw)
		}
	}
	return a
}

func q(filter string) string { return "?filter=" + url.QueryEscape(filter) }

func (w *world) worker(sid string) didrouter.Worker {
	w.t.Helper()
	wk, err := w.st.GetWorker(w.ctx, w.ws.SID, sid)
	if err != nil {
		w.t.Fatal(err)
	}
	return wk
}

func (w *world) setActivity(sid, name string) {
	w.t.Helper()
	act := w.acts[name]
	if _, err := w.eng.UpdateWorker(w.ctx, w.ws.SID, sid, engine.WorkerUpdate{ActivitySID: &act}); err != nil {
		w.t.Fatal(err)
	}
}

// ring places a call to did on the workspace's DID workflow and returns
// the worker it rings ("" = nobody); the call is then ended so the next
// one starts clean.
func (w *world) ring(did string) string {
	w.t.Helper()
	return w.ringOn("", fmt.Sprintf(`{"phone_number":%q,"type":"inbound"}`, did))
}

func (w *world) ringOn(workflow, attrs string) string {
	w.t.Helper()
	w.calls++
	res, err := w.eng.CreateTask(w.ctx, engine.TaskInsert{WorkspaceSID: w.ws.SID, WorkflowSID: workflow,
		Attributes: attrs, CallSID: fmt.Sprintf("CA%032d", w.calls)})
	if err != nil {
		w.t.Fatal(err)
	}
	rung := ""
	if res.Worker != nil {
		rung = res.Worker.SID
	}
	if _, err := w.eng.CancelTask(w.ctx, w.ws.SID, res.Task.SID, "test call over"); err != nil {
		w.t.Fatal(err)
	}
	return rung
}

func str(v any) string { s, _ := v.(string); return s }

// resources returns a list answer's resources, checking its shape.
func resources(t *testing.T, a answer) []map[string]any {
	t.Helper()
	if s, _ := a.body["schemas"].([]any); len(s) != 1 || s[0] != scim.SchemaList {
		t.Fatalf("not a ListResponse: %s", a.raw)
	}
	list, _ := a.body["Resources"].([]any)
	out := make([]map[string]any, 0, len(list))
	for _, x := range list {
		out = append(out, x.(map[string]any))
	}
	if n, _ := a.body["itemsPerPage"].(float64); int(n) != len(out) {
		t.Fatalf("itemsPerPage %v for %d resources", a.body["itemsPerPage"], len(out))
	}
	return out
}

// waitGone waits for the provisioner's Run, fed by the store's change
// feed, to remove a worker.
func (w *world) waitGone(sid string) {
	w.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := w.st.GetWorker(w.ctx, w.ws.SID, sid); didrouter.ErrorCode(err) == didrouter.ENOTFOUND {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	w.t.Fatalf("worker %s was not removed after its call", sid)
}
