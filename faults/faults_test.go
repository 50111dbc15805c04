package faults

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/didrouter/didrouter/replay"
	"github.com/didrouter/didrouter/webhooks"
)

// scenario sizes one run.
type scenario struct {
	agents      int
	step        time.Duration // the owner's ring step (60 s in production)
	reservation time.Duration // reservation timeout (120 s in production)
	ttl         time.Duration // TTL of the probe tasks
	burstEvery  time.Duration
	burstSize   int
	loadFor     time.Duration // how long new calls arrive
	killAt      time.Duration // SIGKILL instance 1
	restartAt   time.Duration // start it again
	dbAt        time.Duration // crash Postgres …
	dbDown      time.Duration // … and start it again after this long (outage.Store rides it out)
	outageAt    time.Duration // crash Postgres again …
	outageFor   time.Duration // … for longer than storeWait: degraded mode answers
	storeWait   time.Duration // DIDROUTER_STORE_WAIT
	termAt      time.Duration // SIGTERM instance 2
	shutdown    time.Duration // DIDROUTER_SHUTDOWN_TIMEOUT
	slack       time.Duration // how late a timer may fire (poll 1 s + claim + load)
	drain       time.Duration // replay's bound on calls still up after the last one started
	people      people
}

func defaultScenario() scenario {
	return scenario{
		agents: 12, step: 8 * time.Second, reservation: 12 * time.Second, ttl: 3 * time.Second,
		burstEvery: 2 * time.Second, burstSize: 2, loadFor: 36 * time.Second,
		killAt: 6 * time.Second, restartAt: 10 * time.Second,
		dbAt: 13 * time.Second, dbDown: 3 * time.Second,
		outageAt: 20 * time.Second, outageFor: 10 * time.Second, storeWait: 2 * time.Second,
		termAt: 33 * time.Second, shutdown: 10 * time.Second, slack: 3 * time.Second, drain: 30 * time.Second,
		people: people{
			maxAnswer: 2300 * time.Millisecond, maxTalk: 3500 * time.Millisecond, patience: 15 * time.Second,
			lostDelay: 4 * time.Second, answered: 0.5, noAnswer: 0.3, busy: 0.05, duplicates: 0.1, // 15 % hang up
		},
	}
}

// longScenario is DIDROUTER_FAULTS_LONG=1: the production ring step, a
// 30 s database outage, several minutes of calls.
func longScenario() scenario {
	s := defaultScenario()
	s.agents, s.step, s.reservation = 12, 60*time.Second, 20*time.Second
	s.burstEvery, s.burstSize, s.loadFor = 2*time.Second, 2, 4*time.Minute
	s.killAt, s.restartAt = 20*time.Second, 40*time.Second
	s.dbAt, s.dbDown = 60*time.Second, 3*time.Second
	s.outageAt, s.outageFor, s.storeWait = 80*time.Second, 30*time.Second, 6*time.Second
	s.termAt = 150 * time.Second
	s.people.patience = 100 * time.Second
	s.ttl = 5 * time.Second
	s.drain = 2 * time.Minute
	return s
}

// faultLog is the timeline of injected faults.
type faultLog struct {
	mu      sync.Mutex
	start   time.Time
	entries []string
	outages []window
	// disturbed are the spans in which routing may knowingly differ from
	// "owner first, else Everyone": around the SIGKILL and the SIGTERM (a
	// webhook cut mid-way and retried elsewhere), and during an outage
	// and the settle time after it (routing held, or from an instance's
	// share of the agents).
	disturbed []window
	probes    map[string]bool // TTL probe tasks created on the instance then killed
	inflight  string          // the CallSid of the request in flight at SIGTERM
	drain     time.Duration   // SIGTERM → exit
	exit      error
	errs      []string
}

func (f *faultLog) note(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entries = append(f.entries, fmt.Sprintf("%5.1fs ", time.Since(f.start).Seconds())+fmt.Sprintf(format, args...))
}

func (f *faultLog) disturb(from, to time.Time) {
	f.mu.Lock()
	f.disturbed = append(f.disturbed, window{from, to})
	f.mu.Unlock()
}

func (f *faultLog) disturbedAt(at time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, w := range f.disturbed {
		if !at.Before(w.from) && !at.After(w.to) {
			return true
		}
	}
	return false
}

func (f *faultLog) fail(format string, args ...any) {
	f.note("FAILED: "+format, args...)
	f.mu.Lock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}

// TestFaults runs three didrouter processes on one throwaway Postgres,
// drives bursts of calls with replay (package replay, as `didrouter
// replay --target i1,i2,i3` runs it) spread over all three,
// and meanwhile SIGKILLs one instance, crashes and restarts Postgres, and
// SIGTERMs another; then it checks the database for double-booked workers,
// calls without exactly one task, late or lost timers, and counts 5xx answers.
func TestFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the fault scenario runs processes for about a minute")
	}
	sc := defaultScenario()
	if os.Getenv("DIDROUTER_FAULTS_LONG") == "1" {
		sc = longScenario()
	}
	pg := startCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), sc.loadFor+sc.people.patience+3*time.Minute)
	defer cancel()
	if err := pg.createDatabase(ctx, "didrouter"); err != nil {
		t.Fatalf("create database: %v", err)
	}
	tmp := t.TempDir()
	set := settings{
		bin: buildBinary(t, tmp), databaseURL: pg.url("didrouter"), publicURL: "https://lb.faults.test",
		authToken: "faultsToken", apiKey: "faultsKey", apiSecret: "faultsSecret0123456",
		shutdown: sc.shutdown, storeWait: sc.storeWait, logDir: tmp,
	}
	insts := []*instance{
		newInstance("i1", freePort(t), set), newInstance("i2", freePort(t), set), newInstance("i3", freePort(t), set),
	}
	t.Cleanup(func() {
		for _, in := range insts {
			in.stop()
		}
		if t.Failed() || os.Getenv("DIDROUTER_FAULTS_KEEP") != "" {
			keep := filepath.Join(os.TempDir(), fmt.Sprintf("didrouter-faults-%d", time.Now().UnixNano()))
			if err := os.MkdirAll(keep, 0o755); err == nil {
				for _, in := range insts {
					_ = os.WriteFile(filepath.Join(keep, in.name+".log"), []byte(in.logText()), 0o644)
				}
				_ = os.WriteFile(filepath.Join(keep, "postgres.log"), []byte(pg.logTail()), 0o644)
				t.Logf("instance logs kept in %s", keep)
			}
		}
		if t.Failed() {
			for _, in := range insts {
				t.Logf("log of %s (tail):\n%s", in.name, lastLines(in.logText(), 40))
			}
			t.Logf("postgres log (tail):\n%s", pg.logTail())
		}
	})
	// The first instance migrates and seeds; the others join it.
	if err := insts[0].start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := installAudit(ctx, pg.url("didrouter")); err != nil {
		t.Fatalf("install the audit triggers: %v", err)
	}
	var wg sync.WaitGroup
	for _, in := range insts[1:] {
		wg.Go(func() {
			if err := in.start(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	adm := newAdmin(insts[0].base(), set.apiKey, set.apiSecret)
	s, err := adm.prepare(ctx, sc.agents, sc.step, sc.reservation)
	if err != nil {
		t.Fatalf("set up workers and workflows: %v", err)
	}
	time.Sleep(500 * time.Millisecond) // the other instances hear of the workers through the change feed

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	script := sc.script(s, rand.New(rand.NewPCG(seed, 0)))
	late := &lateActions{
		next:  &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second},
		delay: sc.people.lostDelay, share: 0.5, rng: rand.New(rand.NewPCG(seed, 1)), decided: map[string]bool{},
	}
	targets := make([]string, len(insts))
	for i, in := range insts {
		targets[i] = in.base()
	}
	cfg := replay.Config{
		Targets: targets, PublicURL: set.publicURL, AuthToken: set.authToken, APIKey: set.apiKey, APISecret: set.apiSecret,
		Retries: 3, DuplicateRate: sc.people.duplicates, Speed: 1, Drain: sc.drain, FallbackAnswerAfter: time.Second,
		Client: &http.Client{Transport: late, Timeout: 15 * time.Second, // Twilio's webhook timeout
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
	flog := &faultLog{start: time.Now(), probes: map[string]bool{}}

	// Faults, on their own timeline, while replay plays the calls.
	faultsDone := make(chan struct{})
	go func() {
		defer close(faultsDone)
		injectFaults(ctx, sc, flog, pg, insts, adm, s, set)
	}()
	played, err := replay.Run(ctx, cfg, script)
	<-faultsDone
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	flog.note("every call has ended (replay done)")
	time.Sleep(sc.slack) // let background routing and the last timers settle

	// Every journal has been replayed (the drained instance flushed its own).
	deadline := time.Now().Add(30 * time.Second)
	for _, in := range insts {
		for {
			b, err := os.ReadFile(in.journal())
			if err == nil && len(b) == 0 || os.IsNotExist(err) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s's journal still holds %d bytes: not everything reached the database:\n%s", in.name, len(b), journalSummary(b))
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	time.Sleep(sc.slack) // timers of the last imported calls

	conn, err := pgx.Connect(ctx, pg.url("didrouter"))
	if err != nil {
		t.Fatalf("connect for the checks: %v", err)
	}
	defer conn.Close(context.Background())
	outcomes := played.Outcomes()
	callIDs := make([]string, 0, len(outcomes)+1)
	for _, o := range outcomes {
		callIDs = append(callIDs, o.CallSID)
	}
	if flog.inflight != "" {
		callIDs = append(callIDs, flog.inflight)
	}
	rep, err := checkDatabase(ctx, conn, callIDs, sc.step, sc.slack, flog.outages)
	if err != nil {
		t.Fatalf("checks: %v", err)
	}
	degradedCalls := routedFromMemory(insts)
	judged := judgeReplay(played, degradedCalls, journaledCalls(insts), flog, s)
	var text strings.Builder
	_ = played.WriteText(&text)
	summary := summarize(sc, flog, played, judged, late.delayed.Load(), rep, insts)
	t.Log("\n" + summary)
	if t.Failed() || len(judged.failures) > 0 {
		t.Logf("replay's report:\n%s", text.String())
	}
	if path := os.Getenv("DIDROUTER_FAULTS_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(summary+"\n"+text.String()), 0o644); err != nil {
			t.Errorf("write %s: %v", path, err)
		}
	}

	for _, e := range flog.errs {
		t.Errorf("fault injection: %s", e)
	}
	for _, a := range rep.Anomalies {
		t.Errorf("anomaly: %s", a)
	}
	if len(rep.Anomalies) > 0 {
		traceSIDs(t, insts, rep.Anomalies)
	}
	for _, f := range judged.failures {
		t.Errorf("replay: %s", f)
	}
	// The known gaps are reported, not failed (they are degraded mode's and
	// the fallback's, see BENCHMARKS.md); DIDROUTER_FAULTS_STRICT=1 fails them.
	for _, c := range judged.knownGaps {
		if os.Getenv("DIDROUTER_FAULTS_STRICT") == "1" {
			t.Errorf("known gap: %s", c)
		} else {
			t.Logf("known gap (reported; DIDROUTER_FAULTS_STRICT=1 fails it): %s", c)
		}
	}
	for _, in := range insts {
		if strings.Contains(in.logText(), "panic") {
			t.Errorf("%s logged a panic", in.name)
		}
	}
}

// judgement is what the fault test makes of replay's report.
type judgement struct {
	failures []string // fail the test
	// knownGaps are calls that went wrong after one of their webhooks hit
	// a database outage, in the two ways BENCHMARKS.md describes (degraded
	// mode's and the fallback's gaps, not fixed yet): the task ended in
	// another state than the call, or the caller was left waiting, after a
	// follow-up was journaled (see journaledCalls); the caller was left
	// waiting after a fallback answer held them in the queue.
	knownGaps  []string
	fallbacks  int64 // fallback TwiML answers (the server held the caller through an error)
	retried5xx int64
	overlapsFromMemory,
	routingExplained, routingChecked int
}

// judgeReplay holds replay's report to what must hold under faults:
// every webhook answered 2xx in the end and none 5xx even before a retry
// (a 5xx sent elsewhere still counts), no call dropped (an error ends a
// call), no last-resort apology, one task record per call; a worker
// offered two calls at once only when one of them was routed from memory
// while the database was down (degraded mode's known risk); a call to an
// available, idle owner that did not ring the owner first only when its
// incoming webhook arrived during a fault (routing held or from a share of
// the agents during an outage, a webhook cut by a kill and retried) or it
// was routed from memory. Fallback TwiML that kept the caller is counted,
// not failed: the instances answer it while the database is down.
func judgeReplay(rep *replay.Report, degraded, journaled map[string]bool, flog *faultLog, s *setup) judgement {
	var j judgement
	for k, n := range rep.Errors {
		if strings.HasSuffix(k, "/fallback-twiml") {
			j.fallbacks += n
			continue
		}
		j.failures = append(j.failures, fmt.Sprintf("%d webhooks failed in the end: %s", n, k))
	}
	for k, n := range rep.Retries {
		if strings.Contains(k, "/http-5") {
			j.retried5xx += n
			j.failures = append(j.failures, fmt.Sprintf("%d webhooks answered 5xx (then sent to another instance): %s", n, k))
		}
	}
	for _, o := range rep.Outcomes() {
		switch o.Result {
		case "error":
			j.failures = append(j.failures, fmt.Sprintf("call %s dropped: %s\n  %s", o.CallSID, strings.Join(o.Errors, "; "), o.Timeline))
		case "cut":
			switch {
			case journaled[o.CallSID]:
				j.knownGaps = append(j.knownGaps, "caller left waiting after a journaled follow-up: "+o.Timeline)
				continue
			case o.Fallbacks > 0:
				j.knownGaps = append(j.knownGaps, "caller left waiting after a fallback answer held them: "+o.Timeline)
				continue
			}
			j.failures = append(j.failures, "caller left waiting until replay's drain ran out: "+o.Timeline)
		}
	}
	incoming := map[string]time.Time{}
	for _, o := range rep.Outcomes() {
		incoming[o.CallSID] = o.IncomingSent
	}
	involves := func(calls []string) bool {
		for _, c := range calls {
			if degraded[c] {
				return true
			}
		}
		return false
	}
	for _, c := range rep.Checks {
		switch {
		case c.Skipped != "":
			j.failures = append(j.failures, fmt.Sprintf("check %q skipped: %s", c.Name, c.Skipped))
		case strings.HasPrefix(c.Name, "no worker offered"):
			for i, calls := range c.FailedCalls {
				if involves(calls) {
					j.overlapsFromMemory++
					continue
				}
				j.failures = append(j.failures, fmt.Sprintf("%s: calls %v (%s)", c.Name, calls, example(c, i)))
			}
		case strings.HasPrefix(c.Name, "owner first"):
			j.routingChecked = c.Checked
			for i, calls := range c.FailedCalls {
				if involves(calls) || flog.disturbedAt(incoming[calls[0]]) {
					j.routingExplained++
					continue
				}
				j.failures = append(j.failures, fmt.Sprintf("%s: call %s at %.1f s (%s)%s", c.Name, calls[0],
					incoming[calls[0]].Sub(flog.start).Seconds(), example(c, i), ownerCalls(rep, s, calls[0])))
			}
		default: // one task record per call, in the state the call ended in
			for i, calls := range c.FailedCalls {
				if journaled[calls[0]] && strings.Contains(example(c, i), "but its task") {
					j.knownGaps = append(j.knownGaps, "after a journaled follow-up: "+strings.ReplaceAll(example(c, i), "\n  ", ": "))
					continue
				}
				j.failures = append(j.failures, fmt.Sprintf("%s: %s", c.Name, example(c, i)))
			}
		}
	}
	return j
}

// ownerCalls lists the timelines of a call and of the other calls that
// rang its number's owner within a minute of it (to tell a misroute from a
// case the check could not see).
func ownerCalls(rep *replay.Report, s *setup, sid string) string {
	var call replay.CallOutcome
	outcomes := rep.Outcomes()
	for _, o := range outcomes {
		if o.CallSID == sid {
			call = o
		}
	}
	owner := ""
	for _, a := range s.agents {
		if a.did == call.To {
			owner = "client:" + a.identity
		}
	}
	if owner == "" {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n  the call: %s\n  other calls that rang its owner %s:", call.Timeline, owner)
	for _, o := range outcomes {
		if o.CallSID != sid && strings.Contains(o.Timeline, owner+" ") && o.IncomingSent.Sub(call.IncomingSent).Abs() < time.Minute {
			fmt.Fprintf(&b, "\n  - at %+.3f s: %s", o.IncomingSent.Sub(call.IncomingSent).Seconds(), o.Timeline)
		}
	}
	return b.String()
}

func example(c replay.Check, i int) string {
	if i < len(c.Examples) {
		return c.Examples[i]
	}
	return "see replay's report"
}

// injectFaults runs the fault timeline: SIGKILL, restart, Postgres crash,
// SIGTERM with a request in flight.
func injectFaults(ctx context.Context, sc scenario, flog *faultLog, pg *cluster, insts []*instance, adm *admin, s *setup, set settings) {
	at := func(d time.Duration) bool { return sleepCtx(ctx, time.Until(flog.start.Add(d))) }
	victim, drained := insts[0], insts[1]

	// Timers set by an instance that then dies: TTL probes created on it
	// shortly before the kill, due shortly after.
	if !at(sc.killAt - sc.ttl + time.Second) {
		return
	}
	for range 3 {
		sid, err := adm.ttlProbe(ctx, s, sc.ttl)
		if err != nil {
			flog.fail("create a TTL probe on %s: %v", victim.name, err)
			continue
		}
		flog.mu.Lock()
		flog.probes[sid] = true
		flog.mu.Unlock()
	}
	if !at(sc.killAt) {
		return
	}
	killed := time.Now()
	if err := victim.signal(syscall.SIGKILL); err != nil {
		flog.fail("SIGKILL %s: %v", victim.name, err)
	}
	victim.wait(5 * time.Second)
	flog.note("SIGKILL %s", victim.name)
	flog.disturb(killed.Add(-2*time.Second), killed.Add(time.Second))

	if !at(sc.restartAt) {
		return
	}
	if err := victim.start(ctx); err != nil {
		flog.fail("restart %s: %v", victim.name, err)
	} else {
		flog.note("%s restarted and ready", victim.name)
	}

	if !at(sc.dbAt) {
		return
	}
	if !outage(ctx, flog, pg, sc.dbDown, "brief restart") {
		return
	}

	if !at(sc.outageAt) {
		return
	}
	if !outage(ctx, flog, pg, sc.outageFor, "long outage: degraded mode") {
		return
	}

	if !at(sc.termAt) {
		return
	}
	// A webhook in flight when SIGTERM arrives: its body is still being
	// sent. The instance must answer it before exiting. (Its call is then
	// ended by a status callback to another instance.)
	sid := fmt.Sprintf("CA%032x", rand.Uint64())
	flog.mu.Lock()
	flog.inflight = sid
	flog.mu.Unlock()
	form := url.Values{
		"AccountSid": {"ACfa" + strings.Repeat("0", 30)}, "CallSid": {sid}, "From": {"+17375550000"},
		"To": {s.agents[0].did}, "Direction": {"inbound"}, "CallStatus": {"ringing"}, "ApiVersion": {"2010-04-01"},
	}
	inflight, err := startSlowIncoming(drained.addr, set.publicURL, set.authToken, form)
	if err != nil {
		flog.fail("start a slow request to %s: %v", drained.name, err)
	}
	// Let the instance read the request's head: a connection still in the
	// accept queue when the listener closes is refused, and replay sends
	// that request elsewhere (like any refused one).
	sleepCtx(ctx, 300*time.Millisecond)
	sent := time.Now()
	if err := drained.signal(syscall.SIGTERM); err != nil {
		flog.fail("SIGTERM %s: %v", drained.name, err)
		return
	}
	flog.note("SIGTERM %s (one request in flight)", drained.name)
	flog.disturb(sent.Add(-2*time.Second), sent.Add(time.Second))
	if inflight != nil {
		sleepCtx(ctx, 500*time.Millisecond)
		if _, err := inflight.finish(); err != nil {
			flog.fail("the request in flight at SIGTERM was not answered: %v", err)
		} else {
			flog.note("the request in flight at SIGTERM was answered with TwiML")
		}
		form.Set("CallStatus", "completed")
		if code, err := postSigned(ctx, insts[2].base(), set.publicURL, set.authToken, "/status", form); err != nil || code/100 != 2 {
			flog.fail("status callback of the call in flight at SIGTERM: %d %v", code, err)
		}
	}
	exited, exitErr := drained.wait(sc.shutdown + 10*time.Second)
	flog.mu.Lock()
	flog.drain, flog.exit = time.Since(sent), exitErr
	flog.mu.Unlock()
	switch {
	case !exited:
		flog.fail("%s did not exit within %s of SIGTERM", drained.name, sc.shutdown+10*time.Second)
	case exitErr != nil:
		flog.fail("%s exited with %v after SIGTERM", drained.name, exitErr)
	default:
		flog.note("%s exited 0, %.2f s after SIGTERM", drained.name, flog.drain.Seconds())
	}
}

// outage crashes Postgres and starts it again after down.
func outage(ctx context.Context, flog *faultLog, pg *cluster, down time.Duration, what string) bool {
	from := time.Now()
	if err := pg.crash(ctx); err != nil {
		flog.fail("crash Postgres: %v", err)
		return false
	}
	flog.note("Postgres stopped (immediate: like a crash) — %s", what)
	sleepCtx(ctx, down)
	if err := pg.start(ctx); err != nil {
		flog.fail("start Postgres again: %v", err)
		return false
	}
	to := time.Now()
	flog.mu.Lock()
	flog.outages = append(flog.outages, window{from, to})
	flog.mu.Unlock()
	flog.disturb(from.Add(-time.Second), to.Add(postponed+2*time.Second))
	flog.note("Postgres back after %.1f s", to.Sub(from).Seconds())
	return true
}

// slowRequest is an /incoming webhook whose body is sent in two halves.
type slowRequest struct {
	conn net.Conn
	rest string
}

func startSlowIncoming(addr, public, token string, form url.Values) (*slowRequest, error) {
	body := form.Encode()
	sig := webhooks.Sign(token, public+webhooks.PathPrefix+"/incoming", form)
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	head := fmt.Sprintf("POST %s/incoming HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\n"+
		"X-Twilio-Signature: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", webhooks.PathPrefix, addr, sig, len(body))
	half := len(body) / 2
	if _, err := conn.Write([]byte(head + body[:half])); err != nil {
		conn.Close()
		return nil, err
	}
	return &slowRequest{conn: conn, rest: body[half:]}, nil
}

func (s *slowRequest) finish() ([]verb, error) {
	defer s.conn.Close()
	_ = s.conn.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := s.conn.Write([]byte(s.rest)); err != nil {
		return nil, fmt.Errorf("send the rest of the body: %w", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(s.conn), nil)
	if err != nil {
		return nil, fmt.Errorf("read the answer: %w", err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	if _, err := bufio.NewReader(resp.Body).WriteTo(&b); err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("answered %s: %s", resp.Status, b.String())
	}
	return parseTwiML([]byte(b.String()))
}

func installAudit(ctx context.Context, dbURL string) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, auditSQL)
	return err
}

// summarize writes the figures of one run.
func summarize(sc scenario, flog *faultLog, played *replay.Report, j judgement, late int64, rep *report, insts []*instance) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Fault scenario (%d agents, owner step %s, reservation timeout %s; Postgres down %s, then %s)\n\n",
		sc.agents, sc.step, sc.reservation, sc.dbDown, sc.outageFor)
	b.WriteString("Timeline:\n")
	for _, e := range flog.entries {
		b.WriteString("- " + e + "\n")
	}
	rings, fellBack := 0, 0
	for _, o := range played.Outcomes() {
		rings += o.Rings
		if o.Fallbacks > 0 {
			fellBack++
		}
	}
	fmt.Fprintf(&b, "\nCalls (replay, %d placed + 1 in flight at SIGTERM): results %s; first offer %s; %d rings; "+
		"%d calls went on through a fallback answer.\n", played.Placed, counts(played.Results), counts(played.Offers), rings, fellBack)
	var retried int64
	for _, n := range played.Retries {
		retried += n
	}
	fmt.Fprintf(&b, "Webhooks: %d answered (by instance: %s); %d deliveries sent again to another instance (%s); "+
		"%d delivered twice on purpose (%s); %d dial actions delayed %s; %d answered 5xx; errors after retries: %s.\n",
		played.Requests, counts(played.ByTarget), retried, counts(played.Retries), sum(played.Duplicates), counts(played.Duplicates),
		late, sc.people.lostDelay, j.retried5xx, counts(played.Errors))
	for _, c := range played.Checks {
		fmt.Fprintf(&b, "Replay check %q: %d checked, %d failed, %d undecidable", c.Name, c.Checked, c.Failed, c.Unverifiable)
		switch {
		case strings.HasPrefix(c.Name, "owner first"):
			fmt.Fprintf(&b, " (%d during a fault or routed from memory: expected)", j.routingExplained)
		case strings.HasPrefix(c.Name, "no worker offered"):
			fmt.Fprintf(&b, " (%d involving a call routed from memory: degraded mode's known risk)", j.overlapsFromMemory)
		}
		b.WriteString(".\n")
	}
	for _, kind := range []string{"incoming", "route"} { // route: the routing step after the greeting
		if l, ok := played.Latency[kind]; ok {
			fmt.Fprintf(&b, "Webhook latency of %s: p50 %.1f ms, p99 %.1f ms, max %.2f s.\n", kind, l.P50, l.P99, l.Max/1000)
		}
	}
	fallbacks := 0
	var why []string
	for _, in := range insts {
		for _, line := range strings.Split(in.logText(), "\n") {
			if strings.Contains(line, "answering fallback twiml") {
				fallbacks++
				var e struct{ Route, Err string }
				_ = json.Unmarshal([]byte(line), &e)
				why = append(why, fmt.Sprintf("%s /%s: %.200s", in.name, e.Route, e.Err))
			}
		}
	}
	waits, backs := 0, 0
	for _, in := range insts {
		waits += strings.Count(in.logText(), `"msg":"database unreachable"`)
		backs += strings.Count(in.logText(), `"msg":"database reachable again"`)
	}
	fmt.Fprintf(&b, "Fallback TwiML answers (logged by the instances): %d; seen by replay: %d. Instances that saw the database go away: %d, come back: %d.\n",
		fallbacks, j.fallbacks, waits, backs)
	for _, w := range first(why, 10) {
		b.WriteString("  - fallback on " + w + "\n")
	}
	degradedDials, journaled, replays, conflicts := 0, 0, 0, 0
	var conflictLines []string
	for _, in := range insts {
		text := in.logText()
		for _, l := range strings.Split(text, "\n") {
			if strings.Contains(l, "imported call conflicted") || strings.Contains(l, "already had another task") ||
				strings.Contains(l, "answered a reservation that had ended") {
				var e struct{ Msg, Conflict, Status string }
				_ = json.Unmarshal([]byte(l), &e)
				conflictLines = append(conflictLines, fmt.Sprintf("%s: %s %s%s", in.name, e.Msg, e.Status, e.Conflict))
			}
		}
		degradedDials += strings.Count(text, "store unreachable: reserved from memory")
		journaled += strings.Count(text, "journaled")
		replays += strings.Count(text, `"msg":"journal replayed"`)
		conflicts += strings.Count(text, "imported call conflicted") + strings.Count(text, "already had another task") +
			strings.Count(text, "answered a reservation that had ended")
	}
	fmt.Fprintf(&b, "Degraded mode: %d calls rung from memory, %d journaled follow-ups (answers, dial outcomes, hang-ups), "+
		"%d journal replays completed, %d replay conflicts.\n", degradedDials, journaled, replays, conflicts)
	for _, l := range first(conflictLines, 8) {
		b.WriteString("  - " + l + "\n")
	}
	fmt.Fprintf(&b, "Faults injected: 1 SIGKILL (+ restart), Postgres crashed twice (%s, then %s down; webhooks wait up to %s), "+
		"1 SIGTERM with a request in flight (exit after %.2f s, exit error %v).\n",
		sc.dbDown, sc.outageFor, sc.storeWait, flog.drain.Seconds(), flog.exit)
	keys := make([]string, 0, len(rep.Records))
	for k := range rep.Records {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b.WriteString("Records checked:")
	for _, k := range keys {
		fmt.Fprintf(&b, " %s %d;", k, rep.Records[k])
	}
	b.WriteString("\nTimer lateness (fired − deadline):\n")
	kinds := make([]string, 0, len(rep.Lateness))
	for k := range rep.Lateness {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		ls := slices.Clone(rep.Lateness[k])
		slices.Sort(ls)
		fmt.Fprintf(&b, "- %s: %d fired, median %.2f s, max %.2f s\n", k, len(ls),
			ls[len(ls)/2].Seconds(), ls[len(ls)-1].Seconds())
	}
	fmt.Fprintf(&b, "Calls that went wrong after one of their webhooks hit an outage, in a known way (see BENCHMARKS.md, "+
		"\"What does not hold\"): %d.\n", len(j.knownGaps))
	for _, c := range j.knownGaps {
		b.WriteString("- " + c + "\n")
	}
	fmt.Fprintf(&b, "Anomalies: %d database; replay failures not explained by the faults: %d.\n", len(rep.Anomalies), len(j.failures))
	for _, a := range first(rep.Anomalies, 20) {
		b.WriteString("- " + a + "\n")
	}
	for _, f := range first(j.failures, 20) {
		b.WriteString("- " + f + "\n")
	}
	return b.String()
}

func counts[V int | int64](m map[string]V) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", strings.TrimPrefix(k, "http://"), m[k])
	}
	return strings.Join(parts, ", ")
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// routedFromMemory lists the calls the instances rang from memory while
// the database was down (their decision log lines say so).
func routedFromMemory(insts []*instance) map[string]bool {
	out := map[string]bool{}
	for _, in := range insts {
		for _, l := range strings.Split(in.logText(), "\n") {
			if !strings.Contains(l, "reserved from memory") {
				continue
			}
			var e struct {
				CallSID string `json:"call_sid"`
			}
			if json.Unmarshal([]byte(l), &e) == nil && e.CallSID != "" {
				out[e.CallSID] = true
			}
		}
	}
	return out
}

// journaledCalls lists the calls one of whose webhooks an instance
// answered from its journal while the database was down (an agent's
// answer, a dial outcome, a hang-up): the database learns of those when
// the journal is replayed, and a webhook of the same call that reaches
// another instance first decides from what the database still says.
// Agent legs have their own CallSid: calls are matched by task.
func journaledCalls(insts []*instance) map[string]bool {
	type line struct {
		CallSID string `json:"call_sid"`
		TaskSID string `json:"task_sid"`
		Why     string `json:"why"`
	}
	var lines []line
	tasks := map[string]bool{}
	for _, in := range insts {
		for _, raw := range strings.Split(in.logText(), "\n") {
			var l line
			if json.Unmarshal([]byte(raw), &l) != nil || l.TaskSID == "" {
				continue
			}
			lines = append(lines, l)
			if strings.Contains(l.Why, "journaled") {
				tasks[l.TaskSID] = true
			}
		}
	}
	out := map[string]bool{}
	for _, l := range lines {
		if tasks[l.TaskSID] && l.CallSID != "" {
			out[l.CallSID] = true
		}
	}
	return out
}

// journalSummary lists a journal's entries not marked done.
func journalSummary(b []byte) string {
	type line struct {
		Seq                         int64
		Op, Task, Call, Reservation string
		Done                        int64
	}
	pending := map[int64]line{}
	for _, raw := range strings.Split(string(b), "\n") {
		var l line
		if json.Unmarshal([]byte(raw), &l) != nil {
			continue
		}
		if l.Done != 0 {
			delete(pending, l.Done)
		} else {
			pending[l.Seq] = l
		}
	}
	var out []string
	for _, l := range pending {
		out = append(out, fmt.Sprintf("  #%d %s task=%s call=%s reservation=%s", l.Seq, l.Op, l.Task, l.Call, l.Reservation))
	}
	slices.Sort(out)
	return strings.Join(first(out, 20), "\n")
}

var sidPattern = regexp.MustCompile(`\b(CA|WT|WK|WR)[0-9a-f]{32}\b`)

// traceSIDs logs what the instances logged about the sids the anomalies name.
func traceSIDs(t *testing.T, insts []*instance, anomalies []string) {
	seen := map[string]bool{}
	for _, a := range first(anomalies, 5) {
		for _, sid := range sidPattern.FindAllString(a, -1) {
			if seen[sid] {
				continue
			}
			seen[sid] = true
			var lines []string
			for _, in := range insts {
				for _, l := range strings.Split(in.logText(), "\n") {
					if strings.Contains(l, sid) {
						lines = append(lines, in.name+" "+l)
					}
				}
			}
			t.Logf("log lines about %s:\n%s", sid, strings.Join(first(lines, 40), "\n"))
		}
	}
}

func first(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
