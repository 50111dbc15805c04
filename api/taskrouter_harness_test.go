package api_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"
	taskrouter "github.com/twilio/twilio-go/rest/taskrouter/v1"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/api"
	"github.com/didrouter/didrouter/api/assignment"
	"github.com/didrouter/didrouter/api/callback"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/routing"
)

// trEnv is a running didrouter (engine with its change feed and timer loop,
// the admin API, assignment callbacks) driven through Twilio's own Go
// client, whose requests a RoundTripper sends to the test server instead of
// taskrouter.twilio.com.
type trEnv struct {
	t      *testing.T
	ctx    context.Context
	store  didrouter.Store
	clock  *didrouter.FakeClock
	eng    *engine.Engine
	ws     didrouter.Workspace
	srv    *httptest.Server
	tr     *taskrouter.ApiService
	origin time.Time
}

const authToken = "callbacktoken0123"

func newTREnv(t *testing.T, st didrouter.Store) *trEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	origin := time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)
	clock := didrouter.NewFakeClock(origin)
	ws, err := engine.Seed(ctx, st, clock)
	if err != nil {
		t.Fatal(err)
	}
	norm, err := routing.NewNormalizer("US")
	if err != nil {
		t.Fatal(err)
	}
	var disp *assignment.Dispatcher
	observed := assignment.Observe(st, func(r didrouter.Reservation) { disp.Notify(r) })
	eng, err := engine.New(engine.Config{Store: observed, Clock: clock, Normalizer: norm, TimerPoll: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	disp, err = assignment.New(assignment.Config{
		Engine: eng, Store: observed, Settings: callback.Settings{Client: &http.Client{Timeout: 5 * time.Second}, Clock: clock,
			AccountSID: "AC0123", Signer: callback.TwilioSigner{AuthToken: authToken}, Attempts: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := api.NewHandler(api.Config{Engine: eng, Store: observed, Clock: clock, APIKey: apiKey, APISecret: apiSecret,
		AccountSID: "AC0123"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	engDone := make(chan error, 1)
	go func() { engDone <- eng.Start(ctx) }()
	dispDone := make(chan error, 1)
	go func() { dispDone <- disp.Run(ctx) }()
	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-engDone
		<-dispDone
	})
	deadline := time.Now().Add(10 * time.Second)
	for !eng.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("engine did not load its index")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return &trEnv{t: t, ctx: ctx, store: st, clock: clock, eng: eng, ws: ws, srv: srv,
		tr: twilioClient(srv.URL, apiKey, apiSecret), origin: origin}
}

// twilioClient is Twilio's TaskRouter client sending to base. The request
// handler is built without TWILIO_EDGE/TWILIO_REGION, which would rename
// the host before the RoundTripper sees it.
func twilioClient(base, key, secret string) *taskrouter.ApiService {
	target, _ := url.Parse(base)
	c := &client.Client{
		Credentials: client.NewCredentials(key, secret),
		HTTPClient:  &http.Client{Transport: rewrite{target: target, next: http.DefaultTransport}},
	}
	c.SetAccountSid("AC0123")
	return taskrouter.NewApiService(&client.RequestHandler{Client: c})
}

func (e *trEnv) activity(name string) string {
	e.t.Helper()
	acts, err := e.store.ListActivities(e.ctx, e.ws.SID)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, a := range acts {
		if a.FriendlyName == name {
			return a.SID
		}
	}
	e.t.Fatalf("no activity %q", name)
	return ""
}

func (e *trEnv) queue(name string) string {
	e.t.Helper()
	qs, err := e.store.ListTaskQueues(e.ctx, e.ws.SID)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, q := range qs {
		if q.FriendlyName == name {
			return q.SID
		}
	}
	e.t.Fatalf("no queue %q", name)
	return ""
}

// worker creates a worker through the API.
func (e *trEnv) worker(name, attrs, activity string) taskrouter.TaskrouterV1Worker {
	e.t.Helper()
	w, err := e.tr.CreateWorker(e.ws.SID, (&taskrouter.CreateWorkerParams{}).SetFriendlyName(name).
		SetAttributes(attrs).SetActivitySid(e.activity(activity)))
	if err != nil {
		e.t.Fatalf("create worker %s: %v", name, err)
	}
	return *w
}

// eventually polls cond for up to 10 s (the engine's change feed and the
// callbacks run on their own goroutines).
func (e *trEnv) eventually(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// restError returns the Twilio error of err and checks its status and code.
func restError(t *testing.T, err error, status, code int) *client.TwilioRestError {
	t.Helper()
	var re *client.TwilioRestError
	if !errors.As(err, &re) {
		t.Fatalf("want a Twilio REST error %d/%d, got %T %v", status, code, err, err)
	}
	if re.Status != status || re.Code != code || re.Message == "" || re.MoreInfo == "" {
		t.Fatalf("Twilio error %+v, want status %d code %d with a message and more_info", re, status, code)
	}
	return re
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
