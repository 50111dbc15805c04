package web_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/agenttoken"
	"github.com/didrouter/didrouter/api"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/routing"
	"github.com/didrouter/didrouter/store/postgres"
	"github.com/didrouter/didrouter/store/storetest"
	"github.com/didrouter/didrouter/web"
	"github.com/didrouter/didrouter/webhooks"
)

const (
	apiKey      = "SKwebtest"
	apiSecret   = "webtestsecret0123"
	agentSecret = "web-test-agent-token-secret-0123456789"
	twilioToken = "web-test-twilio-auth-token"
)

// stores runs fn on a fresh Postgres and a fresh SQLite store.
func stores(t *testing.T, fn func(t *testing.T, st didrouter.Store)) {
	storetest.Each(t, fn)
}

// site is one running didrouter instance: engine (with its change feed),
// admin API and web pages over a real store, on a real HTTP server.
type site struct {
	t      *testing.T
	ctx    context.Context
	store  didrouter.Store
	clock  *didrouter.FakeClock
	eng    *engine.Engine
	ws     didrouter.Workspace
	pages  *web.Handler
	srv    *httptest.Server
	url    string
	signer *agenttoken.Signer
}

type siteOptions struct {
	publicURL string // "" = the server's own URL
	presence  engine.PresenceTracker
	limit     web.Limit
	noLinks   bool // no DIDROUTER_AGENT_TOKEN_SECRET
	noAdmin   bool // the admin API is off
	heartbeat time.Duration
	clock     *didrouter.FakeClock // share one clock between instances
	voice     web.Voice            // the browser phone's token minter
	away      time.Duration        // engine.Config.AgentAway (presence rules)
	missed    int                  // engine.Config.MissedCallsUnavailable
	// recordings fetches voicemail recordings (nil: playback off)
	recordings *web.RecordingSource
}

func newSite(t *testing.T, st didrouter.Store, o siteOptions) *site {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	clock := o.clock
	if clock == nil {
		clock = didrouter.NewFakeClock(time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC))
	}
	ws, err := engine.Seed(ctx, st, clock)
	if err != nil {
		t.Fatal(err)
	}
	norm, err := routing.NewNormalizer("US")
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{Store: st, Clock: clock, Normalizer: norm,
		AgentAway: o.away, MissedCallsUnavailable: o.missed})
	if err != nil {
		t.Fatal(err)
	}
	var signer *agenttoken.Signer
	if !o.noLinks {
		if signer, err = agenttoken.NewSigner(agentSecret, 0); err != nil {
			t.Fatal(err)
		}
	}
	agents, err := agenttoken.NewAgents(signer, eng, st.(didrouter.WebStore), clock)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	if o.publicURL == "" {
		o.publicURL = base
	}
	r := chi.NewRouter()
	var check func(key, secret string) bool
	if !o.noAdmin {
		admin, err := api.NewHandler(api.Config{Engine: eng, Store: st, Clock: clock, APIKey: apiKey, APISecret: apiSecret, Agents: agents})
		if err != nil {
			t.Fatal(err)
		}
		admin.Mount(r)
		check = admin.CheckCredentials
	}
	presence := o.presence
	if presence == nil && o.away > 0 {
		presence = eng
	}
	pages, err := web.New(web.Config{Engine: eng, Store: st, Web: st.(didrouter.WebStore), Clock: clock,
		PublicURL: o.publicURL, Agents: agents, AdminCheck: check, Presence: presence, SignInLimit: o.limit,
		Heartbeat: o.heartbeat, Voice: o.voice, Recordings: o.recordings})
	if err != nil {
		t.Fatal(err)
	}
	pages.Mount(r)
	// Twilio's side: the voice webhooks, signature-checked with twilioToken.
	hooks, err := webhooks.NewHandler(webhooks.Config{Engine: eng, Store: st, Normalizer: norm, Clock: clock,
		PublicURL: base, AuthToken: twilioToken, WorkspaceSID: ws.SID})
	if err != nil {
		t.Fatal(err)
	}
	hooks.Mount(r)
	srv.Config.Handler = r
	srv.Config.RegisterOnShutdown(pages.CloseStreams)
	srv.Start()
	engDone := make(chan error, 1)
	go func() { engDone <- eng.Start(ctx) }()
	feedDone := make(chan error, 1)
	go func() { feedDone <- pages.Run(ctx) }()
	t.Cleanup(func() {
		pages.CloseStreams()
		srv.Close()
		cancel()
		<-engDone
		<-feedDone
	})
	deadline := time.Now().Add(10 * time.Second)
	for !eng.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("engine did not load its index")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return &site{t: t, ctx: ctx, store: st, clock: clock, eng: eng, ws: ws, pages: pages, srv: srv, url: base, signer: signer}
}

// peer opens a second instance on the same Postgres database.
func (s *site) peer() *site {
	s.t.Helper()
	pg, err := postgres.Open(context.Background(), s.store.(*postgres.Store).ConnString(), nil)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(pg.Close)
	return newSite(s.t, pg, siteOptions{clock: s.clock})
}

func (s *site) activity(name string) string {
	s.t.Helper()
	acts, err := s.store.ListActivities(s.ctx, s.ws.SID)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, a := range acts {
		if a.FriendlyName == name {
			return a.SID
		}
	}
	s.t.Fatalf("no activity %q", name)
	return ""
}

// worker creates a worker through the engine.
func (s *site) worker(name, attrs string) didrouter.Worker {
	s.t.Helper()
	w, err := s.eng.CreateWorker(s.ctx, s.ws.SID, engine.WorkerInsert{FriendlyName: name, Attributes: attrs})
	if err != nil {
		s.t.Fatal(err)
	}
	return w
}

func (s *site) getWorker(sid string) didrouter.Worker {
	s.t.Helper()
	w, err := s.store.GetWorker(s.ctx, s.ws.SID, sid)
	if err != nil {
		s.t.Fatal(err)
	}
	return w
}

// link mints a sign-in link for identity, valid for 15 minutes from now.
func (s *site) link(identity string) string {
	s.t.Helper()
	now := s.clock.Now()
	tok, err := s.signer.Link(identity, now, now.Add(agenttoken.DefaultLinkTTL))
	if err != nil {
		s.t.Fatal(err)
	}
	return s.url + web.SignInPath + "?t=" + url.QueryEscape(tok)
}

// apiPost calls the admin API.
func (s *site) apiPost(path string, form url.Values) (int, map[string]any) {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(apiKey, apiSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// browser is an HTTP client with its own cookies, as one browser.
type browser struct {
	t    *testing.T
	s    *site
	c    *http.Client
	csrf string
}

func (s *site) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: s.t, s: s, c: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(method, target string, form url.Values, header map[string]string) answer {
	b.t.Helper()
	if !strings.HasPrefix(target, "http") {
		target = b.s.url + target
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(raw)}
}

func (b *browser) get(path string) answer { return b.do(http.MethodGet, path, nil, nil) }

func (b *browser) post(path string, form url.Values) answer {
	return b.do(http.MethodPost, path, form, map[string]string{"Origin": b.s.url})
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn opens a sign-in link and presses its button; the browser then
// holds the session and knows its CSRF token.
func (b *browser) signIn(identity string) {
	b.t.Helper()
	link := b.s.link(identity)
	page := b.get(link)
	if page.status != 200 || !strings.Contains(page.body, "Sign in as") {
		b.t.Fatalf("sign-in page: %d %s", page.status, page.body)
	}
	u, _ := url.Parse(link)
	a := b.post(web.SignInPath, url.Values{"t": {u.Query().Get("t")}})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != web.AgentPath {
		b.t.Fatalf("sign in: %d %s", a.status, a.body)
	}
	desk := b.get(web.AgentPath)
	m := csrfRE.FindStringSubmatch(desk.body)
	if desk.status != 200 || m == nil {
		b.t.Fatalf("desktop after sign-in: %d %s", desk.status, desk.body)
	}
	b.csrf = m[1]
}

// events reads an open event stream.
type events struct {
	t      *testing.T
	cancel context.CancelFunc
	ch     chan sse
	status int
}

type sse struct{ event, data string }

func (b *browser) events() *events { b.t.Helper(); return b.eventsAt(web.AgentEvents) }

// eventsAt opens the event stream at path.
func (b *browser) eventsAt(path string) *events {
	b.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.s.url+path, nil)
	c := *b.c
	c.Timeout = 0
	resp, err := c.Do(req)
	if err != nil {
		cancel()
		b.t.Fatal(err)
	}
	e := &events{t: b.t, cancel: cancel, ch: make(chan sse, 100), status: resp.StatusCode}
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); resp.Body.Close() }) }
	b.t.Cleanup(stop)
	e.cancel = stop
	go func() {
		defer close(e.ch)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var cur sse
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if cur.event != "" {
					e.ch <- cur
				}
				cur = sse{}
			case strings.HasPrefix(line, "event: "):
				cur.event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				cur.data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return e
}

// next waits up to d for an event of type event whose data satisfies ok.
func (e *events) next(event string, d time.Duration, ok func(data string) bool) string {
	e.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case ev, open := <-e.ch:
			if !open {
				e.t.Fatalf("the event stream closed while waiting for %s", event)
			}
			if ev.event == event && (ok == nil || ok(ev.data)) {
				return ev.data
			}
		case <-deadline:
			e.t.Fatalf("no %s event within %s", event, d)
		}
	}
}

// closed waits for the stream to end.
func (e *events) closed(d time.Duration) bool {
	deadline := time.After(d)
	for {
		select {
		case _, open := <-e.ch:
			if !open {
				return true
			}
		case <-deadline:
			return false
		}
	}
}

// state decodes a state event.
func state(t *testing.T, data string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(data), &m); err != nil {
		t.Fatalf("state %q: %v", data, err)
	}
	return m
}

// storedSession is the store's row of the browser's agent session.
func (b *browser) storedSession() (didrouter.WebSession, bool) {
	b.t.Helper()
	u, _ := url.Parse(b.s.url + web.AgentPath)
	return thiefSession(b.t, b.s, b.c.Jar.Cookies(u))
}

// thiefSession looks up the session of the agent cookie among cookies.
func thiefSession(t *testing.T, s *site, cookies []*http.Cookie) (didrouter.WebSession, bool) {
	t.Helper()
	for _, c := range cookies {
		if c.Name != "didrouter_agent" {
			continue
		}
		sum := sha256.Sum256([]byte(c.Value))
		sess, err := s.store.(didrouter.WebStore).GetWebSession(s.ctx, hex.EncodeToString(sum[:]))
		if didrouter.ErrorCode(err) == didrouter.ENOTFOUND {
			return didrouter.WebSession{}, false
		}
		if err != nil {
			t.Fatal(err)
		}
		return sess, true
	}
	return didrouter.WebSession{}, false
}
