package faults

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/api"
	"github.com/didrouter/didrouter/degraded"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/routing"
	"github.com/didrouter/didrouter/store/storetest"
	"github.com/didrouter/didrouter/webhooks"
)

// The fuzz targets run the real webhook handler and admin API over a real
// (SQLite) store: whatever arrives, nothing panics, the webhooks never
// answer 5xx, and a 200 from a TwiML route is a TwiML document.
//
//	go test ./faults -run '^$' -fuzz FuzzWebhooks -fuzztime 3m
//	go test ./faults -run '^$' -fuzz FuzzAdminAPI -fuzztime 3m

// maxRequestTime is how long one request may take before the fuzz target
// calls it a hang (generous: the machine may be loaded).
const maxRequestTime = 8 * time.Second

const (
	fuzzPublic = "https://calls.fuzz.test"
	fuzzToken  = "fuzzToken"
	fuzzKey    = "fuzzKey"
	fuzzSecret = "fuzzSecret"
)

// system is one didrouter (engine, webhooks with degraded mode, admin
// API) on its own store, which the fuzzer can take down.
type system struct {
	store  *switchStore
	router http.Handler
	ws     string
	task   string // a real task (a call that rang alice)
	res    string // its reservation
	worker string // alice
	logs   *panicLog
}

// panicLog is a slog handler that remembers whether a panic was logged
// (both the webhooks and the API recover panics and log them).
type panicLog struct {
	mu     sync.Mutex
	panics []string
}

func (p *panicLog) Enabled(context.Context, slog.Level) bool { return true }
func (p *panicLog) WithAttrs([]slog.Attr) slog.Handler       { return p }
func (p *panicLog) WithGroup(string) slog.Handler            { return p }
func (p *panicLog) Handle(_ context.Context, r slog.Record) error {
	text := r.Message
	r.Attrs(func(a slog.Attr) bool {
		text += " " + a.Key + "=" + a.Value.String()
		return true
	})
	if strings.Contains(text, "panic") {
		p.mu.Lock()
		p.panics = append(p.panics, text)
		p.mu.Unlock()
	}
	return nil
}

func (p *panicLog) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.panics
	p.panics = nil
	return out
}

func newSystem(t testing.TB) *system {
	t.Helper()
	ctx := context.Background()
	st := &switchStore{Store: storetest.SQLite(t)}
	clock := didrouter.SystemClock{}
	ws, err := engine.Seed(ctx, st, clock)
	if err != nil {
		t.Fatal(err)
	}
	norm, err := routing.NewNormalizer("US")
	if err != nil {
		t.Fatal(err)
	}
	logs := &panicLog{}
	logger := slog.New(logs)
	eng, err := engine.New(engine.Config{Store: st, Clock: clock, Logger: logger, Normalizer: norm, InstanceID: "fuzz"})
	if err != nil {
		t.Fatal(err)
	}
	journal, err := degraded.OpenJournal(filepath.Join(t.TempDir(), "journal.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { journal.Close() })
	mode, err := degraded.New(degraded.Config{Engine: eng, Store: st, Down: st.since, Journal: journal,
		WorkspaceSID: ws.SID, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	runDone := make(chan struct{})
	go func() { mode.Run(runCtx); close(runDone) }()
	t.Cleanup(func() { stop(); <-runDone })
	for deadline := time.Now().Add(10 * time.Second); !mode.Ready(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("degraded mode never warmed up")
		}
	}
	wh, err := webhooks.NewHandler(webhooks.Config{
		Engine: eng, Store: st, Normalizer: norm, Clock: clock, Logger: logger,
		PublicURL: fuzzPublic, AuthToken: fuzzToken, WorkspaceSID: ws.SID, Degraded: mode,
	})
	if err != nil {
		t.Fatal(err)
	}
	adm, err := api.NewHandler(api.Config{Engine: eng, Store: st, Clock: clock, Logger: logger, APIKey: fuzzKey, APISecret: fuzzSecret})
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	wh.Mount(r)
	adm.Mount(r)
	s := &system{store: st, router: r, ws: ws.SID, logs: logs}

	// One agent and one call ringing her, so that seeds can name real sids.
	acts, err := st.ListActivities(ctx, ws.SID)
	if err != nil {
		t.Fatal(err)
	}
	var available string
	for _, a := range acts {
		if a.Available {
			available = a.SID
		}
	}
	code, body := s.admin(http.MethodPost, "/v1/Workspaces/"+ws.SID+"/Workers", url.Values{
		"FriendlyName": {"alice"}, "ActivitySid": {available},
		"Attributes": {`{"phone_number":"+15125550100","contact_uri":"client:alice"}`},
	}.Encode(), "application/x-www-form-urlencoded")
	var w struct{ SID string }
	if err := json.Unmarshal(body, &w); code != http.StatusCreated || err != nil {
		t.Fatalf("create worker: %d %s", code, body)
	}
	s.worker = w.SID
	form := url.Values{"CallSid": {"CAf0000000000000000000000000000001"}, "From": {"+17375550199"}, "To": {"+15125550100"}}
	// The routing step (Twilio's redirect after the greeting).
	code, body = s.webhook(http.MethodPost, webhooks.PathPrefix+"/incoming?greeted=1", form.Encode(), "application/x-www-form-urlencoded", true)
	if code != http.StatusOK {
		t.Fatalf("incoming: %d %s", code, body)
	}
	verbs, err := parseTwiML(body)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range verbs {
		if v.XMLName.Local == "Dial" {
			u, _ := url.Parse(v.attr("action"))
			s.task, s.res = u.Query().Get("task"), u.Query().Get("reservation")
		}
	}
	if s.task == "" || s.res == "" {
		t.Fatalf("the seed call did not ring alice: %s", body)
	}
	return s
}

// webhook sends one request to a webhook path (with its query); signed
// computes the signature Twilio would send for it.
func (s *system) webhook(method, pathQuery, body, contentType string, signed bool) (int, []byte) {
	req, ok := newRequest(method, pathQuery, body)
	if !ok {
		return http.StatusBadRequest, nil
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if signed {
		params, _ := url.ParseQuery(body)
		if method != http.MethodPost || !strings.HasPrefix(contentType, "application/x-www-form-urlencoded") {
			params = nil
		}
		req.Header.Set("X-Twilio-Signature", webhooks.Sign(fuzzToken, fuzzPublic+req.URL.RequestURI(), params))
	}
	rec := httptest.NewRecorder()
	s.router.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

func (s *system) admin(method, pathQuery, body, contentType string) (int, []byte) {
	req, ok := newRequest(method, pathQuery, body)
	if !ok {
		return http.StatusBadRequest, nil
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(fuzzKey+":"+fuzzSecret)))
	rec := httptest.NewRecorder()
	s.router.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

// newRequest builds a server-side request; a target the HTTP server
// itself would refuse (400, before any handler) is reported as not ok.
func newRequest(method, pathQuery, body string) (*http.Request, bool) {
	if _, err := url.ParseRequestURI(pathQuery); err != nil {
		return nil, false
	}
	return httptest.NewRequest(method, "http://didrouter.internal"+pathQuery, strings.NewReader(body)), true
}

var fuzzMethods = []string{http.MethodPost, http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodHead, "PATCH", "OPTIONS"}
var fuzzTypes = []string{"application/x-www-form-urlencoded", "", "text/plain", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded; charset=utf-8", "application/json"}

// webhookRoutes answer TwiML (status answers an empty 204).
var webhookRoutes = []string{"/incoming", "/answer", "/dial", "/wait", "/dequeued", "/status", "/outbound"}

// cleanPath keeps a fuzzed path usable as a request target.
func cleanPath(p string) string {
	p = strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f || r == '#' || r == '?' {
			return -1
		}
		return r
	}, p)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return p
}

func cleanQuery(q string) string {
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f || r == '#' {
			return -1
		}
		return r
	}, q)
}

func FuzzWebhooks(f *testing.F) {
	s := newSystem(f)
	q := "task=" + s.task + "&reservation=" + s.res
	call := "CallSid=CAf0000000000000000000000000000002&From=%2B17375550100&To=%2B15125550100"
	for _, seed := range []struct {
		method, typ uint8
		route       uint8
		suffix      string
		query       string
		body        string
		signed      bool
		down        bool
	}{
		{0, 0, 0, "", "", call, true, false},
		{0, 0, 0, "", "attempt=2", call + "&CallStatus=ringing", true, false},
		{0, 0, 0, "", "", "CallSid=&To=client%3Aalice&From=anonymous", true, false},
		{0, 0, 0, "", "", call, false, false},
		{1, 1, 0, "", "CallSid=CAx&To=%2B15125550100", "", true, false},
		{0, 0, 1, "", q, "CallSid=CAe0000000000000000000000000000001&ParentCallSid=CAf0000000000000000000000000000002&DialCallStatus=answered", true, false},
		{0, 0, 2, "", q, call + "&DialCallStatus=no-answer&CallStatus=in-progress", true, false},
		{0, 0, 2, "", q, call + "&DialCallStatus=completed&CallStatus=completed", true, false},
		{0, 0, 3, "", "task=" + s.task, call + "&QueueTime=abc", true, false},
		{0, 0, 4, "", "task=" + s.task + "&retry=9", call + "&QueueResult=queue-full", true, false},
		{0, 0, 4, "", "task=WT" + strings.Repeat("0", 32) + "&ws=WSnope", call + "&QueueResult=leave", true, false},
		{0, 0, 5, "", "", call + "&CallStatus=completed", true, false},
		{0, 0, 6, "", "", "CallSid=CAd0000000000000000000000000000001&From=client%3Aalice&To=%2B15125550123", true, false},
		{0, 3, 0, "", "", "--x\r\nContent-Disposition: form-data; name=\"CallSid\"\r\n\r\nCA1\r\n--x--\r\n", true, false},
		{0, 0, 0, "/../../v1/Workspaces", "", "%zz=1&;;=", true, false},
		{2, 0, 2, "", q + "&reservation=" + s.res, strings.Repeat("A=1&", 2000), true, false},
		// The same while the store is down (degraded mode answers).
		{0, 0, 0, "", "", call, true, true},
		{0, 0, 1, "", q, "CallSid=CAe0000000000000000000000000000001&ParentCallSid=CAf0000000000000000000000000000002&DialCallStatus=answered", true, true},
		{0, 0, 2, "", q, call + "&DialCallStatus=no-answer&CallStatus=in-progress", true, true},
		{0, 0, 2, "", q + "&ended=" + s.res, call + "&DialCallStatus=completed", true, true},
		{0, 0, 3, "", "task=" + s.task + "&ended=WRzz", call + "&QueueTime=9", true, true},
		{0, 0, 4, "", "task=" + s.task, call + "&QueueResult=hangup", true, true},
		{0, 0, 5, "", "", call + "&CallStatus=completed", true, true},
	} {
		f.Add(seed.method, seed.typ, seed.route, seed.suffix, seed.query, seed.body, seed.signed, seed.down)
	}
	f.Fuzz(func(t *testing.T, method, typ, route uint8, suffix, query, body string, signed, down bool) {
		s.store.down.Store(down)
		defer s.store.down.Store(false)
		m := fuzzMethods[int(method)%len(fuzzMethods)]
		ct := fuzzTypes[int(typ)%len(fuzzTypes)]
		r := webhookRoutes[int(route)%len(webhookRoutes)]
		path := webhooks.PathPrefix + r + cleanPath(suffix)
		if suffix == "" {
			path = webhooks.PathPrefix + r
		}
		target := path
		if query = cleanQuery(query); query != "" {
			target += "?" + query
		}
		start := time.Now()
		code, out := s.webhook(m, target, body, ct, signed)
		if took := time.Since(start); took > maxRequestTime {
			t.Fatalf("%s %s: took %s (a webhook must answer well within Twilio's 15 s)", m, target, took)
		}
		if p := s.logs.take(); len(p) > 0 {
			t.Fatalf("%s %s: logged a panic: %s", m, target, p[0])
		}
		if code >= 500 {
			t.Fatalf("%s %s (%q, body %q): answered %d: %s", m, target, ct, body, code, out)
		}
		if code == http.StatusOK && suffix == "" && r != "/status" && m != http.MethodHead {
			if _, err := parseTwiML(out); err != nil {
				t.Fatalf("%s %s: 200 that is not TwiML: %v", m, target, err)
			}
		}
	})
}

// switchStore is the real store, unreachable while down is set (as an
// outage.Store says after a failed call).
type switchStore struct {
	didrouter.Store
	down atomic.Bool
}

var errStoreDown = errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")

func (s *switchStore) since() time.Time {
	if s.down.Load() {
		return time.Unix(1, 0)
	}
	return time.Time{}
}

func (s *switchStore) Tx(ctx context.Context, fn func(didrouter.Tx) error) error {
	if s.down.Load() {
		return errStoreDown
	}
	return s.Store.Tx(ctx, fn)
}

func downRead[T any](s *switchStore, fn func() (T, error)) (T, error) {
	if s.down.Load() {
		var zero T
		return zero, errStoreDown
	}
	return fn()
}

func (s *switchStore) GetWorkspace(ctx context.Context, sid string) (didrouter.Workspace, error) {
	return downRead(s, func() (didrouter.Workspace, error) { return s.Store.GetWorkspace(ctx, sid) })
}

func (s *switchStore) ListWorkspaces(ctx context.Context) ([]didrouter.Workspace, error) {
	return downRead(s, func() ([]didrouter.Workspace, error) { return s.Store.ListWorkspaces(ctx) })
}

func (s *switchStore) GetTask(ctx context.Context, ws, sid string) (didrouter.Task, error) {
	return downRead(s, func() (didrouter.Task, error) { return s.Store.GetTask(ctx, ws, sid) })
}

func (s *switchStore) TaskByCallSID(ctx context.Context, ws, call string) (didrouter.Task, error) {
	return downRead(s, func() (didrouter.Task, error) { return s.Store.TaskByCallSID(ctx, ws, call) })
}

func (s *switchStore) GetReservation(ctx context.Context, ws, sid string) (didrouter.Reservation, error) {
	return downRead(s, func() (didrouter.Reservation, error) { return s.Store.GetReservation(ctx, ws, sid) })
}

func (s *switchStore) ListReservations(ctx context.Context, ws string, f didrouter.ReservationFilter) ([]didrouter.Reservation, error) {
	return downRead(s, func() ([]didrouter.Reservation, error) { return s.Store.ListReservations(ctx, ws, f) })
}

func (s *switchStore) GetBinding(ctx context.Context, e164 string) (didrouter.PhoneNumberBinding, error) {
	return downRead(s, func() (didrouter.PhoneNumberBinding, error) { return s.Store.GetBinding(ctx, e164) })
}

func (s *switchStore) GetWorker(ctx context.Context, ws, sid string) (didrouter.Worker, error) {
	return downRead(s, func() (didrouter.Worker, error) { return s.Store.GetWorker(ctx, ws, sid) })
}

func (s *switchStore) WorkerByPhoneNumber(ctx context.Context, ws, e164 string) (didrouter.Worker, error) {
	return downRead(s, func() (didrouter.Worker, error) { return s.Store.WorkerByPhoneNumber(ctx, ws, e164) })
}

func (s *switchStore) GetWorkflow(ctx context.Context, ws, sid string) (didrouter.Workflow, error) {
	return downRead(s, func() (didrouter.Workflow, error) { return s.Store.GetWorkflow(ctx, ws, sid) })
}

// apiPaths are the admin API's resources (under the workspace).
var apiPaths = []string{"", "/Activities", "/Workers", "/TaskQueues", "/Workflows", "/Tasks", "/Events", "/Statistics",
	"/RealTimeStatistics", "/CumulativeStatistics", "/TaskQueues/Statistics", "/DIDs/Export", "/DIDs/Import"}

func FuzzAdminAPI(f *testing.F) {
	s := newSystem(f)
	ws := "/v1/Workspaces/" + s.ws
	for _, seed := range []struct {
		method, typ uint8
		path        uint8
		suffix      string
		query       string
		body        string
	}{
		{1, 0, 2, "", "PageSize=2&Available=true", ""},
		{1, 0, 2, "/" + s.worker, "", ""},
		{0, 0, 2, "/" + s.worker, "", "Attributes=%7B%22phone_number%22%3A%22%2B15125550101%22%7D"},
		{0, 0, 2, "", "", "FriendlyName=bob&Attributes=%7Bnot+json"},
		{0, 0, 5, "", "", "Attributes=%7B%7D&Timeout=0"},
		{0, 0, 5, "/" + s.task, "", "AssignmentStatus=wrapping&Reason=x"},
		{3, 0, 5, "/" + s.task, "", ""},
		{1, 0, 5, "/" + s.task + "/Reservations/" + s.res, "", ""},
		{0, 0, 5, "/" + s.task + "/Reservations/" + s.res, "", "ReservationStatus=accepted"},
		{0, 0, 4, "", "", "FriendlyName=w&Configuration=%7B%22task_routing%22%3A%7B%22filters%22%3A%5B%7B%7D%5D%7D%7D"},
		{0, 0, 3, "", "", "FriendlyName=q&TargetWorkers=worker.x+IN+%5B"},
		{1, 0, 6, "", "StartDate=yesterday&EndDate=2030-13-01T00:00:00Z&PageSize=-1", ""},
		{1, 0, 7, "", "Minutes=-5&SplitByWaitTime=a,b", ""},
		{0, 2, 12, "", "", "worker,did\nalice,+1512\n\"unterminated"},
		{1, 0, 2, "/" + s.worker + "/Channels/voice", "", ""},
		{0, 0, 2, "/" + s.worker + "/Channels/voice", "", "Capacity=999999999999999999999"},
		{1, 0, 5, "", "PageToken=%00%ff&Ordering=DateCreated:sideways", ""},
	} {
		f.Add(seed.method, seed.typ, seed.path, seed.suffix, seed.query, seed.body)
	}
	f.Fuzz(func(t *testing.T, method, typ, path uint8, suffix, query, body string) {
		m := fuzzMethods[int(method)%len(fuzzMethods)]
		ct := fuzzTypes[int(typ)%len(fuzzTypes)]
		target := ws + apiPaths[int(path)%len(apiPaths)]
		if suffix != "" {
			target += cleanPath(suffix)
		}
		if query = cleanQuery(query); query != "" {
			target += "?" + query
		}
		start := time.Now()
		code, out := s.admin(m, target, body, ct)
		if took := time.Since(start); took > maxRequestTime {
			t.Fatalf("%s %s: took %s", m, target, took)
		}
		if p := s.logs.take(); len(p) > 0 {
			t.Fatalf("%s %s: logged a panic: %s", m, target, p[0])
		}
		if code >= 500 {
			t.Fatalf("%s %s (%q, body %q): answered %d: %s", m, target, ct, body, code, out)
		}
		if code != http.StatusNoContent && m != http.MethodHead && len(out) > 0 && !json.Valid(out) && !bytes.HasPrefix(out, []byte("worker")) {
			if ct := http.DetectContentType(out); !strings.HasPrefix(ct, "text/plain") {
				t.Fatalf("%s %s: answered %d with a body that is not JSON: %.200q", m, target, code, out)
			}
		}
	})
}

// The fuzz harness reaches the handlers' logic: a signed webhook is
// answered with TwiML, an unsigned one refused, the API authenticated.
func TestFuzzHarnessReachesHandlers(t *testing.T) {
	s := newSystem(t)
	form := "CallSid=CAa0000000000000000000000000000001&From=%2B17375550100&To=%2B15125550100"
	ct := "application/x-www-form-urlencoded"
	if code, out := s.webhook(http.MethodPost, webhooks.PathPrefix+"/incoming", form, ct, true); code != http.StatusOK {
		t.Fatalf("signed incoming: %d %s", code, out)
	} else if _, err := parseTwiML(out); err != nil {
		t.Fatal(err)
	}
	if code, _ := s.webhook(http.MethodPost, webhooks.PathPrefix+"/incoming", form, ct, false); code != http.StatusForbidden {
		t.Fatalf("unsigned incoming: %d, want 403", code)
	}
	q := "?task=" + s.task + "&reservation=" + s.res
	if code, out := s.webhook(http.MethodPost, webhooks.PathPrefix+"/wait"+q, "CallSid=CAa0000000000000000000000000000001&QueueTime=1", ct, true); code != http.StatusOK {
		t.Fatalf("signed wait with a query: %d %s", code, out)
	}
	if code, out := s.admin(http.MethodGet, "/v1/Workspaces/"+s.ws+"/Workers", "", ""); code != http.StatusOK {
		t.Fatalf("admin list: %d %s", code, out)
	}
	// With the store down, degraded mode answers a new call with TwiML.
	s.store.down.Store(true)
	defer s.store.down.Store(false)
	form = "CallSid=CAa0000000000000000000000000000002&From=%2B17375550100&To=%2B15125550100"
	code, out := s.webhook(http.MethodPost, webhooks.PathPrefix+"/incoming?greeted=1", form, ct, true)
	verbs, err := parseTwiML(out)
	if code != http.StatusOK || err != nil || len(verbs) == 0 {
		t.Fatalf("incoming with the store down: %d %s %v", code, out, err)
	}
	if last := verbs[len(verbs)-1].XMLName.Local; last != "Enqueue" && last != "Dial" {
		t.Fatalf("incoming with the store down ends with <%s>, want Dial or Enqueue: %s", last, out)
	}
}
