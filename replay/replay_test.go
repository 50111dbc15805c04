package replay_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/replay"
	"github.com/didrouter/didrouter/store/storetest"
	"github.com/didrouter/didrouter/webhooks"
)

// smallBurst is a generated script that finishes in about a second at
// speed 20: every outcome, owners available and not, numbers without owner.
func smallBurst(t *testing.T, calls int, rate float64) *replay.Script {
	t.Helper()
	g := replay.DefaultGenerator()
	g.Calls, g.Rate, g.DIDs, g.Workers, g.Seed = calls, rate, 12, 10, 7
	g.RingS, g.TalkS, g.HangupAfterS = 1, 2, 3
	g.Answered, g.NoAnswer, g.Busy, g.Hangup = 0.6, 0.15, 0.1, 0.15
	s, err := g.Script()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func config(srv *httptest.Server) replay.Config {
	return replay.Config{
		Target: srv.URL, AuthToken: authToken, APIKey: apiKey, APISecret: apiSecret,
		SeedWorkers: true, Speed: 20, Duration: 30 * time.Second,
		FallbackAnswerAfter: 500 * time.Millisecond,
	}
}

func check(t *testing.T, rep *replay.Report, name string) replay.Check {
	t.Helper()
	for _, c := range rep.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", name, rep.Checks)
	return replay.Check{}
}

const (
	checkOwner = "owner first, else Everyone"
	checkOnce  = "no worker offered two calls at once"
	checkTasks = "exactly one task record per call"
)

// A generated burst against a correct server: every call is played to its
// end, no webhook fails, and every check passes having checked something.
func TestReplayGenerated(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		srv := server(t, st, nil)
		script := smallBurst(t, 40, 2)
		rep, err := replay.Run(context.Background(), config(srv), script)
		if err != nil {
			t.Fatal(err)
		}
		var text bytes.Buffer
		if err := rep.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		if !rep.OK {
			t.Fatalf("run against a correct server failed:\n%s", text.String())
		}
		if rep.Placed != 40 || rep.Results["answered"] == 0 || rep.Results["abandoned"] == 0 {
			t.Errorf("placed %d, results %v\n%s", rep.Placed, rep.Results, text.String())
		}
		for _, name := range []string{checkOwner, checkOnce, checkTasks} {
			if c := check(t, rep, name); c.Checked == 0 {
				t.Errorf("check %q checked nothing\n%s", name, text.String())
			}
		}
		for _, kind := range []string{"incoming", "answer", "dial", "status"} {
			if l := rep.Latency[kind]; l.Count == 0 || l.P50 <= 0 || l.Max < l.P99 {
				t.Errorf("latency of %s: %+v", kind, l)
			}
		}
		if !strings.Contains(text.String(), "p99.9 ms") {
			t.Errorf("text report lacks the percentile table:\n%s", text.String())
		}
	})
}

// A JSONL script with its workers: the owner answers; a call to a number
// whose owner is offline goes to the other worker; a caller hangs up in
// the queue.
func TestReplayScript(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		srv := server(t, st, nil)
		script, err := replay.ReadScript(strings.NewReader(`
# workers
{"worker":"alice","did":"+15125550101","available":true}
{"worker":"bob","did":"+15125550102","available":false}
{"worker":"carol","available":true}
{"offset_ms":0,"from":"+13125550100","to":"+15125550101","outcome":"answered","after_s":1,"talk_s":20}
{"offset_ms":100,"from":"+13125550101","to":"+15125550102","outcome":"answered","after_s":1,"talk_s":20}
{"offset_ms":200,"from":"+13125550102","to":"+15125550102","outcome":"hangup","after_s":30}
`))
		if err != nil {
			t.Fatal(err)
		}
		rep, err := replay.Run(context.Background(), config(srv), script)
		if err != nil {
			t.Fatal(err)
		}
		var text bytes.Buffer
		_ = rep.WriteText(&text)
		if !rep.OK || rep.Results["answered"] != 2 || rep.Results["abandoned"] != 1 || rep.Offers["queue"] != 1 {
			t.Fatalf("results %v, offers %v\n%s", rep.Results, rep.Offers, text.String())
		}
	})
}

// misrouter rejects the first reservation of every call before the caller
// hears anything, so a call to an idle, available owner goes to Everyone.
type misrouter struct {
	webhooks.Engine
}

func (m misrouter) CreateTask(ctx context.Context, n engine.TaskInsert) (engine.TaskResult, error) {
	res, err := m.Engine.CreateTask(ctx, n)
	if err != nil || !res.Created || res.Reservation == nil {
		return res, err
	}
	return m.Engine.RejectReservation(ctx, res.Task.WorkspaceSID, res.Reservation.SID, didrouter.ReservationRejected)
}

// A server that passes over idle owners fails the routing check loudly,
// naming the call and the owner.
func TestReplayCatchesMisrouting(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		srv := server(t, st, func(e webhooks.Engine) webhooks.Engine { return misrouter{e} })
		// Alice is available and on no other call: her calls must ring her.
		script, err := replay.ReadScript(strings.NewReader(`
{"worker":"alice","did":"+15125550101","available":true}
{"worker":"carol","available":true}
{"offset_ms":0,"from":"+13125550100","to":"+15125550101","outcome":"answered","after_s":0.2,"talk_s":0.2}
{"offset_ms":2000,"from":"+13125550100","to":"+15125550101","outcome":"answered","after_s":0.2,"talk_s":0.2}
`))
		if err != nil {
			t.Fatal(err)
		}
		cfg := config(srv)
		cfg.Speed = 4
		rep, err := replay.Run(context.Background(), cfg, script)
		if err != nil {
			t.Fatal(err)
		}
		var text bytes.Buffer
		_ = rep.WriteText(&text)
		c := check(t, rep, checkOwner)
		if rep.OK || c.Passed || c.Failed == 0 {
			t.Fatalf("misrouting went unnoticed:\n%s", text.String())
		}
		if !strings.Contains(c.Examples[0], "although its owner") || !strings.Contains(text.String(), "FAIL  owner first") {
			t.Errorf("failure does not say what went wrong:\n%s", text.String())
		}
		if !check(t, rep, checkOnce).Passed || !check(t, rep, checkTasks).Passed {
			t.Errorf("only the routing check should fail:\n%s", text.String())
		}
	})
}

// A fake server that rings the same agent for every call, keeps no task
// records and has no API: the one-call-at-a-time check fails.
func TestReplayCatchesDoubleOffers(t *testing.T) {
	t.Parallel()
	var srv *httptest.Server
	var calls atomic.Int64
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		switch r.URL.Path {
		case webhooks.PathPrefix + "/incoming":
			calls.Add(1)
			_, _ = w.Write([]byte(`<Response><Dial timeout="30" action="` + srv.URL + webhooks.PathPrefix +
				`/dial"><Client url="` + srv.URL + webhooks.PathPrefix + `/answer">rp0000000</Client></Dial></Response>`))
		case webhooks.PathPrefix + "/answer":
			_, _ = w.Write([]byte(`<Response/>`))
		case webhooks.PathPrefix + "/status":
			w.WriteHeader(http.StatusNoContent)
		default:
			_, _ = w.Write([]byte(`<Response><Hangup/></Response>`))
		}
	}))
	defer srv.Close()
	g := replay.DefaultGenerator()
	g.Calls, g.Rate, g.DIDs, g.Workers, g.OwnerAvailable = 10, 100, 2, 2, 1
	g.Answered, g.NoAnswer, g.Busy, g.Hangup = 1, 0, 0, 0
	g.RingS, g.TalkS = 1, 5
	script, err := g.Script()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := replay.Run(context.Background(), replay.Config{Target: srv.URL, AuthToken: authToken, Speed: 10}, script)
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	_ = rep.WriteText(&text)
	if c := check(t, rep, checkOnce); c.Passed || c.Failed == 0 || !strings.Contains(c.Examples[0], "while still on call") {
		t.Fatalf("double offers went unnoticed:\n%s", text.String())
	}
	if rep.OK || calls.Load() != 10 {
		t.Errorf("ok %v, %d calls", rep.OK, calls.Load())
	}
	if c := check(t, rep, checkTasks); c.Skipped == "" {
		t.Errorf("task check without API credentials: %+v", c)
	}
}

// Only loopback targets, unless allowed.
func TestReplayRefusesRemoteTargets(t *testing.T) {
	t.Parallel()
	s := &replay.Script{Calls: []replay.Call{{To: "+15125550101", From: "+13125550100", Outcome: "answered"}}}
	for _, target := range []string{"http://10.1.2.3:8080", "https://calls.example.com", "http://[2001:db8::1]/"} {
		_, err := replay.Run(context.Background(), replay.Config{Target: target, AuthToken: "x"}, s)
		if err == nil || !strings.Contains(err.Error(), "allow-remote") {
			t.Errorf("target %s: %v", target, err)
		}
	}
}

// A caller nobody can serve would wait for ever: after Drain the call hangs
// up, the server cancels its task, and the run ends.
func TestReplayDrainHangsUpWaitingCallers(t *testing.T) {
	t.Parallel()
	srv := server(t, storetest.SQLite(t), nil)
	script, err := replay.ReadScript(strings.NewReader(`
{"worker":"bob","did":"+15125550102","available":false}
{"offset_ms":0,"from":"+13125550100","to":"+15125550102","outcome":"answered","after_s":1,"talk_s":1}
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg := config(srv)
	cfg.Duration, cfg.Drain = 0, 1500*time.Millisecond
	start := time.Now()
	rep, err := replay.Run(context.Background(), cfg, script)
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	_ = rep.WriteText(&text)
	if time.Since(start) > 20*time.Second || rep.Results["cut"] != 1 || rep.Offers["queue"] != 1 || !rep.OK {
		t.Fatalf("results %v offers %v after %s\n%s", rep.Results, rep.Offers, time.Since(start), text.String())
	}
}

// Several targets: webhooks are spread over them round-robin; a target that
// refuses connections and one that answers 503 now and then are retried on
// the next target, counted; webhooks delivered twice on purpose leave one
// task per call; every check still passes (the API fails over too: the
// dead target comes first).
func TestReplaySeveralTargets(t *testing.T) {
	t.Parallel()
	srv := server(t, storetest.SQLite(t), nil)
	upstream, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(upstream)
	var seen atomic.Int64
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, webhooks.PathPrefix) && seen.Add(1)%4 == 0 {
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer flaky.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()

	cfg := config(srv)
	cfg.Target, cfg.Targets, cfg.PublicURL = "", []string{dead, srv.URL, flaky.URL}, srv.URL
	cfg.Retries, cfg.DuplicateRate = 3, 0.2
	rep, err := replay.Run(context.Background(), cfg, smallBurst(t, 40, 2))
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	_ = rep.WriteText(&text)
	if !rep.OK || rep.Placed != 40 {
		t.Fatalf("run over several targets failed:\n%s", text.String())
	}
	if rep.ByTarget[srv.URL] == 0 || rep.ByTarget[flaky.URL] == 0 || rep.ByTarget[dead] != 0 {
		t.Errorf("answers by target %v\n%s", rep.ByTarget, text.String())
	}
	var transport, unavailable int64
	for k, n := range rep.Retries {
		switch {
		case strings.HasSuffix(k, "/transport"):
			transport += n
		case strings.HasSuffix(k, "/http-503"):
			unavailable += n
		}
	}
	if transport == 0 || unavailable == 0 || rep.Duplicates["incoming"] == 0 {
		t.Errorf("retries %v, duplicates %v\n%s", rep.Retries, rep.Duplicates, text.String())
	}
	if !strings.Contains(text.String(), "answers by target") || !strings.Contains(text.String(), "sent again to another target") {
		t.Errorf("text report lacks the spread and the retries:\n%s", text.String())
	}
	if c := check(t, rep, checkTasks); c.Checked != 40 || !c.Passed {
		t.Errorf("task check %+v", c)
	}
	// Several targets need the public URL they share.
	cfg.PublicURL = ""
	if _, err := replay.Run(context.Background(), cfg, smallBurst(t, 1, 2)); err == nil || !strings.Contains(err.Error(), "public-url") {
		t.Errorf("several targets without a public URL: %v", err)
	}
}

// Without retries a refused delivery is an error of the run, as before.
func TestReplayNoRetriesByDefault(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	s := &replay.Script{Calls: []replay.Call{{To: "+15125550101", From: "+13125550100", Outcome: "answered"}}}
	rep, err := replay.Run(context.Background(), replay.Config{Target: dead, AuthToken: "x", Drain: time.Second}, s)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK || rep.Errors["incoming/transport"] != 1 || len(rep.Retries) != 0 || rep.Results["error"] != 1 {
		t.Errorf("errors %v retries %v results %v", rep.Errors, rep.Retries, rep.Results)
	}
}

// A target that does not answer within the client's timeout is retried on
// the next one, counted as a timeout; the status callback's answer (204)
// and an immediate <Hangup/> end each call cleanly.
func TestReplayRetriesTimeouts(t *testing.T) {
	t.Parallel()
	answer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/status") {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write([]byte(`<Response><Hangup/></Response>`))
	})
	fast := httptest.NewServer(answer)
	defer fast.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
		answer(w, r)
	}))
	defer slow.Close()
	s := &replay.Script{}
	for i := range 4 {
		s.Calls = append(s.Calls, replay.Call{OffsetMS: int64(i * 10), To: "+15125550101", From: "+13125550100", Outcome: "answered"})
	}
	rep, err := replay.Run(context.Background(), replay.Config{
		Targets: []string{slow.URL, fast.URL}, PublicURL: "https://calls.example.test", AuthToken: "x",
		Retries: 1, SkipTaskCheck: true, Client: &http.Client{Timeout: 300 * time.Millisecond},
	}, s)
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	_ = rep.WriteText(&text)
	if !rep.OK || rep.Retries["incoming/timeout"]+rep.Retries["status/timeout"] == 0 || rep.ByTarget[fast.URL] != 8 {
		t.Errorf("retries %v, answers by target %v\n%s", rep.Retries, rep.ByTarget, text.String())
	}
}
