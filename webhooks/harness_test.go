package webhooks_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/api"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/routing"
	"github.com/didrouter/didrouter/store/storetest"
	"github.com/didrouter/didrouter/webhooks"
)

const (
	authToken = "test-auth-token"
	apiKey    = "SKtestkey"
	apiSecret = "test-secret"
)

// stores runs fn against a fresh Postgres store and a fresh SQLite store.
func stores(t *testing.T, fn func(t *testing.T, st didrouter.Store)) {
	storetest.Each(t, fn)
}

// instance is one didrouter server: an engine with the webhooks and the
// admin API behind a real HTTP server.
type instance struct {
	t      *testing.T
	store  didrouter.Store
	clock  *didrouter.FakeClock
	eng    *engine.Engine
	ws     didrouter.Workspace
	srv    *httptest.Server
	client *http.Client
}

var callCounter atomic.Int64

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// newInstance seeds st (idempotent) and serves it. Instances sharing a
// store must share the clock.
func newInstance(t *testing.T, st didrouter.Store, clock *didrouter.FakeClock) *instance {
	t.Helper()
	return newInstanceWith(t, st, clock, nil)
}

// newInstanceWith is newInstance with changes to the webhooks' configuration.
func newInstanceWith(t *testing.T, st didrouter.Store, clock *didrouter.FakeClock, adjust func(*webhooks.Config)) *instance {
	t.Helper()
	ctx := context.Background()
	ws, err := engine.Seed(ctx, st, clock)
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	norm, err := routing.NewNormalizer("US")
	if err != nil {
		t.Fatal(err)
	}
	logger := testLogger(t)
	eng, err := engine.New(engine.Config{Store: st, Clock: clock, Logger: logger, Normalizer: norm, InstanceID: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	cfg := webhooks.Config{
		Engine: eng, Store: st, Normalizer: norm, Clock: clock, Logger: logger,
		PublicURL: srv.URL, AuthToken: authToken, WorkspaceSID: ws.SID, WaitPause: 2 * time.Second,
	}
	if adjust != nil {
		adjust(&cfg)
	}
	wh, err := webhooks.NewHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := api.NewHandler(api.Config{Engine: eng, Store: st, Clock: clock, Logger: logger, APIKey: apiKey, APISecret: apiSecret})
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	wh.Mount(r)
	admin.Mount(r)
	handler = r
	// Whatever the scenario, it must leave Busy equal to the live
	// reservations (see checkCounts).
	t.Cleanup(func() {
		if !t.Failed() && !t.Skipped() {
			checkCounts(t, st, ws.SID)
		}
	})
	return &instance{t: t, store: st, clock: clock, eng: eng, ws: ws, srv: srv, client: srv.Client()}
}

func newClock() *didrouter.FakeClock {
	return didrouter.NewFakeClock(time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC))
}

// --- TwiML ---

// node is a parsed TwiML element (attribute order is random in twilio-go's
// output, so tests look at the tree, never at the text).
type node struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Text     string     `xml:",chardata"`
	Children []node     `xml:",any"`
}

func (n node) name() string { return n.XMLName.Local }

func (n node) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// verbs lists the names of the children.
func (n node) verbs() []string {
	var out []string
	for _, c := range n.Children {
		out = append(out, c.name())
	}
	return out
}

// only returns the single child named name, failing otherwise.
func (n node) only(t *testing.T, name string) node {
	t.Helper()
	var found []node
	for _, c := range n.Children {
		if c.name() == name {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one <%s> in <%s>, have verbs %v", name, n.name(), n.verbs())
	}
	return found[0]
}

func (n node) has(name string) bool {
	for _, c := range n.Children {
		if c.name() == name {
			return true
		}
	}
	return false
}

func parseTwiML(t *testing.T, body []byte) node {
	t.Helper()
	var doc node
	if err := xml.Unmarshal(body, &doc); err != nil {
		t.Fatalf("TwiML does not parse: %v\n%s", err, body)
	}
	if doc.name() != "Response" {
		t.Fatalf("root is <%s>, want <Response>", doc.name())
	}
	return doc
}

// --- requests ---

// twilio posts form to the absolute URL u as Twilio does, signed.
func (in *instance) twilio(u string, form url.Values) (*http.Response, []byte) {
	in.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		in.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", webhooks.Sign(authToken, u, form))
	return in.do(req)
}

func (in *instance) do(req *http.Request) (*http.Response, []byte) {
	in.t.Helper()
	resp, err := in.client.Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		in.t.Fatal(err)
	}
	return resp, body
}

// twiml posts a signed webhook and parses its TwiML answer.
func (in *instance) twiml(u string, form url.Values) node {
	in.t.Helper()
	resp, body := in.twilio(u, form)
	if resp.StatusCode != http.StatusOK {
		in.t.Fatalf("POST %s: %s: %s", u, resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/xml") {
		in.t.Fatalf("POST %s: Content-Type %q, want text/xml", u, ct)
	}
	return parseTwiML(in.t, body)
}

func (in *instance) webhookURL(route string) string {
	return in.srv.URL + webhooks.PathPrefix + route
}

// call is one inbound call in a test.
type call struct {
	sid, from, to string
}

func newCall(to string) call {
	n := callCounter.Add(1)
	return call{sid: fmt.Sprintf("CA%032x", n), from: fmt.Sprintf("+1737555%04d", n%10000), to: to}
}

func (c call) form(extra ...string) url.Values {
	f := url.Values{
		"AccountSid": {"AC00000000000000000000000000000000"},
		"CallSid":    {c.sid},
		"From":       {c.from},
		"To":         {c.to},
		"Direction":  {"inbound"},
		"CallStatus": {"ringing"},
		"ApiVersion": {"2010-04-01"},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		f.Set(extra[i], extra[i+1])
	}
	return f
}

// incoming places a call as Twilio does: the first answer greets the caller
// and redirects back to /incoming, where the call is routed. The document
// returned is what the caller goes through: the greeting's verbs, then the
// second answer's.
func (in *instance) incoming(c call) node {
	in.t.Helper()
	first := in.twiml(in.webhookURL("/incoming"), c.form())
	n := len(first.Children)
	if n == 0 || first.Children[n-1].name() != "Redirect" {
		return first // no greeting (or a fallback answer): nothing to follow
	}
	to := strings.TrimSpace(first.Children[n-1].Text)
	if !strings.Contains(to, "greeted=1") {
		return first // the fallback's retry: the test follows it itself
	}
	if first.Children[n-1].attr("method") != http.MethodPost {
		in.t.Fatalf("greeting redirect %q is not a POST", to)
	}
	second := in.twiml(to, c.form()) // PublicURL is the test server
	second.Children = append(first.Children[:n-1:n-1], second.Children...)
	return second
}

// --- admin API ---

func (in *instance) api(method, path string, form url.Values) (int, map[string]any) {
	in.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, in.srv.URL+path, body)
	if err != nil {
		in.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.SetBasicAuth(apiKey, apiSecret)
	resp, raw := in.do(req)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			in.t.Fatalf("%s %s: not JSON: %v\n%s", method, path, err, raw)
		}
	}
	return resp.StatusCode, out
}

func (in *instance) activity(name string) string {
	in.t.Helper()
	acts, err := in.store.ListActivities(context.Background(), in.ws.SID)
	if err != nil {
		in.t.Fatal(err)
	}
	for _, a := range acts {
		if a.FriendlyName == name {
			return a.SID
		}
	}
	in.t.Fatalf("no activity %q", name)
	return ""
}

// worker creates a worker through the admin API.
func (in *instance) worker(name, did, activity string) string {
	in.t.Helper()
	attrs := map[string]string{"contact_uri": "client:" + name}
	if did != "" {
		attrs["phone_number"] = did
	}
	b, _ := json.Marshal(attrs)
	status, w := in.api(http.MethodPost, "/v1/Workspaces/"+in.ws.SID+"/Workers", url.Values{
		"FriendlyName": {name}, "Attributes": {string(b)}, "ActivitySid": {in.activity(activity)},
	})
	if status != http.StatusCreated {
		in.t.Fatalf("create worker %s: %d %v", name, status, w)
	}
	return w["sid"].(string)
}

func (in *instance) setActivity(workerSID, activity string) {
	in.t.Helper()
	status, w := in.api(http.MethodPost, "/v1/Workspaces/"+in.ws.SID+"/Workers/"+workerSID,
		url.Values{"ActivitySid": {in.activity(activity)}})
	if status != http.StatusOK {
		in.t.Fatalf("set activity of %s: %d %v", workerSID, status, w)
	}
}

func (in *instance) task(sid string) didrouter.Task {
	in.t.Helper()
	task, err := in.store.GetTask(context.Background(), in.ws.SID, sid)
	if err != nil {
		in.t.Fatal(err)
	}
	return task
}

func (in *instance) taskOf(c call) didrouter.Task {
	in.t.Helper()
	task, err := in.store.TaskByCallSID(context.Background(), in.ws.SID, c.sid)
	if err != nil {
		in.t.Fatalf("task of call %s: %v", c.sid, err)
	}
	return task
}

func (in *instance) workerRow(sid string) didrouter.Worker {
	in.t.Helper()
	w, err := in.store.GetWorker(context.Background(), in.ws.SID, sid)
	if err != nil {
		in.t.Fatal(err)
	}
	return w
}

func (in *instance) reservation(sid string) didrouter.Reservation {
	in.t.Helper()
	r, err := in.store.GetReservation(context.Background(), in.ws.SID, sid)
	if err != nil {
		in.t.Fatal(err)
	}
	return r
}

// advance moves time on and fires the due timers, as the timer loop would.
func (in *instance) advance(d time.Duration) {
	in.t.Helper()
	in.clock.Advance(d)
	if _, err := in.eng.RunDueTimers(context.Background()); err != nil {
		in.t.Fatalf("run due timers: %v", err)
	}
}

// --- assertions on TwiML ---

// dialed checks that doc rings exactly one <Client> and returns its
// identity with the <Dial>.
func dialed(t *testing.T, doc node) (string, node) {
	t.Helper()
	d := doc.only(t, "Dial")
	if len(d.Children) != 1 || d.Children[0].name() != "Client" {
		t.Fatalf("<Dial> rings %v, want one <Client>", d.verbs())
	}
	return strings.TrimSpace(d.Children[0].Text), d
}

// query returns a parameter of an absolute URL in TwiML.
func query(t *testing.T, raw, name string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("bad URL %q: %v", raw, err)
	}
	return u.Query().Get(name)
}
