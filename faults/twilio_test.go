package faults

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/didrouter/didrouter/webhooks"
)

// lb plays the load balancer in front of the instances and Twilio's side
// of each webhook: every request is signed for the public URL and sent to
// a random running instance (no stickiness); a request that fails in
// transport (refused: the instance is gone or draining; cut: it was killed
// mid-request) is sent again to another instance, as a load balancer's
// next-upstream or Twilio's retry would.
type lb struct {
	public    string
	token     string
	client    *http.Client
	instances []*instance

	requests  atomic.Int64
	retried   atomic.Int64 // transport failures that were sent again
	failed    atomic.Int64 // requests that failed on every attempt
	slow      atomic.Int64 // answers that took over a second
	slowestNS atomic.Int64
	mu        sync.Mutex
	byStatus  map[int]int
	byInst    map[string]int
	bad       []string // non-2xx answers, described
	lastSorry int      // answers with the last-resort apology (the caller is hung up)
}

const maxAttempts = 6

func newLB(public, token string, instances []*instance) *lb {
	return &lb{
		public: public, token: token, instances: instances,
		client: &http.Client{
			Timeout: 15 * time.Second, // Twilio's webhook timeout
			Transport: &http.Transport{
				MaxIdleConnsPerHost: 16,
				IdleConnTimeout:     30 * time.Second,
			},
		},
		byStatus: map[int]int{},
		byInst:   map[string]int{},
	}
}

// post sends a signed webhook for publicURL (the URL Twilio calls) to one
// of the instances and returns the answer.
func (l *lb) post(ctx context.Context, rng *rand.Rand, publicURL string, form url.Values) (int, []byte, string, error) {
	rest, ok := strings.CutPrefix(publicURL, l.public)
	if !ok {
		return 0, nil, "", fmt.Errorf("URL %q is not under the public URL %s", publicURL, l.public)
	}
	sig := webhooks.Sign(l.token, publicURL, form)
	var lastErr error
	tried := map[string]bool{}
	for attempt := range maxAttempts {
		in := l.pick(rng, tried)
		if in == nil {
			lastErr = fmt.Errorf("no instance is running")
			if !sleepCtx(ctx, 300*time.Millisecond) {
				return 0, nil, "", ctx.Err()
			}
			continue
		}
		tried[in.name] = true
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.base()+rest, strings.NewReader(form.Encode()))
		if err != nil {
			return 0, nil, "", err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", sig)
		req.Header.Set("User-Agent", "TwilioProxy/1.1")
		l.requests.Add(1)
		sent := time.Now()
		resp, err := l.client.Do(req)
		if err != nil {
			lastErr = err
			if ctx.Err() != nil {
				return 0, nil, "", ctx.Err()
			}
			l.retried.Add(1)
			if !sleepCtx(ctx, time.Duration(50*(attempt+1))*time.Millisecond) {
				return 0, nil, "", ctx.Err()
			}
			continue
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			lastErr = err
			l.retried.Add(1)
			continue
		}
		took := time.Since(sent)
		if took > time.Second {
			l.slow.Add(1)
		}
		for {
			cur := l.slowestNS.Load()
			if int64(took) <= cur || l.slowestNS.CompareAndSwap(cur, int64(took)) {
				break
			}
		}
		l.mu.Lock()
		l.byStatus[resp.StatusCode]++
		l.byInst[in.name]++
		if resp.StatusCode >= 300 {
			l.bad = append(l.bad, fmt.Sprintf("%s %s: %d %s", in.name, pathOf(publicURL), resp.StatusCode, bytes.TrimSpace(body)))
		}
		if bytes.Contains(body, []byte("cannot take your call right now")) {
			l.lastSorry++
		}
		l.mu.Unlock()
		return resp.StatusCode, body, in.name, nil
	}
	l.failed.Add(1)
	return 0, nil, "", fmt.Errorf("%s failed on %d attempts: %w", pathOf(publicURL), maxAttempts, lastErr)
}

func (l *lb) slowest() time.Duration { return time.Duration(l.slowestNS.Load()) }

// pick chooses a running instance, preferring ones not tried yet.
func (l *lb) pick(rng *rand.Rand, tried map[string]bool) *instance {
	var fresh, all []*instance
	for _, in := range l.instances {
		if !in.running() {
			continue
		}
		all = append(all, in)
		if !tried[in.name] {
			fresh = append(fresh, in)
		}
	}
	if len(fresh) > 0 {
		return fresh[rng.IntN(len(fresh))]
	}
	if len(all) > 0 {
		return all[rng.IntN(len(all))]
	}
	return nil
}

func pathOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	return p.Path
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// verb is one TwiML element.
type verb struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Text     string     `xml:",chardata"`
	Children []verb     `xml:",any"`
}

func (v verb) attr(name string) string {
	for _, a := range v.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func parseTwiML(body []byte) ([]verb, error) {
	var doc verb
	if err := xml.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("TwiML does not parse: %w: %q", err, body)
	}
	if doc.XMLName.Local != "Response" {
		return nil, fmt.Errorf("TwiML root is <%s>, want <Response>: %q", doc.XMLName.Local, body)
	}
	return doc.Children, nil
}

// Agent behaviours when rung.
const (
	agentAnswers  = "answers"
	agentNoAnswer = "no-answer"
	agentLost     = "lost-action" // does not answer, and Twilio's dial action arrives late
	callerHangsUp = "caller-hangs-up"
)

// timing scales the simulated people.
type timing struct {
	lostDelay  time.Duration // how late a "lost" dial action arrives after the ring ends
	patience   time.Duration // how long a caller waits for someone (from the start of the call) before hanging up
	maxAnswer  time.Duration // an answering agent picks up within this
	maxTalk    time.Duration
	tolerance  time.Duration // edge double-booking: overlap tolerated (clock and network skew)
	hangupRate float64
}

// phone tracks which simulated call each agent's phone is busy with, to
// see double-booking from Twilio's side too.
type phones struct {
	mu        sync.Mutex
	busy      map[string]phoneUse // agent identity → current use
	conflicts []conflict
}

// conflict is an agent rung for a call while still busy with another.
type conflict struct {
	at          time.Time
	text        string
	call, other string
}

func (c conflict) involves(calls map[string]bool) bool { return calls[c.call] || calls[c.other] }

type phoneUse struct {
	call  string
	until time.Time
}

func (p *phones) ring(agent, call string, until time.Time, tolerance time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if u, ok := p.busy[agent]; ok && u.call != call && u.until.Sub(now) > tolerance {
		p.conflicts = append(p.conflicts, conflict{at: now, call: call, other: u.call, text: fmt.Sprintf("%s rung for %s while busy with %s for %.1f s more",
			agent, call, u.call, u.until.Sub(now).Seconds())})
	}
	p.busy[agent] = phoneUse{call: call, until: until}
}

func (p *phones) free(agent, call string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if u, ok := p.busy[agent]; ok && u.call == call {
		delete(p.busy, agent)
	}
}

// callSpec is one simulated inbound call.
type callSpec struct {
	sid       string
	from, to  string
	duplicate bool // Twilio delivers /incoming twice (to two instances)
	seed      uint64
}

// callResult is what happened to one simulated call.
type callResult struct {
	sid          string
	connected    bool   // an agent picked up and the reservation was accepted
	agent        string // who
	abandoned    bool   // the caller gave up waiting
	hungUp       bool   // the caller hung up while it rang
	serverHangup bool   // didrouter hung up (task over, or last resort)
	dropped      string // why the call failed at Twilio (non-200 answer, bad TwiML, transport)
	rings        int
	webhooks     int
	instances    map[string]bool
}

// caller plays one call through Twilio.
type caller struct {
	lb     *lb
	phones *phones
	tm     timing
	spec   callSpec
	rng    *rand.Rand
	res    callResult
	start  time.Time
}

func (c *caller) url(route string) string { return c.lb.public + webhooks.PathPrefix + route }

func (c *caller) form(extra ...string) url.Values {
	f := url.Values{
		"AccountSid": {"ACfaults00000000000000000000000000"},
		"CallSid":    {c.spec.sid},
		"From":       {c.spec.from},
		"To":         {c.spec.to},
		"Direction":  {"inbound"},
		"CallStatus": {"in-progress"},
		"ApiVersion": {"2010-04-01"},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		f.Set(extra[i], extra[i+1])
	}
	return f
}

// post sends one webhook of this call; a failed answer drops the call, as
// Twilio plays "an application error has occurred" and hangs up.
func (c *caller) post(ctx context.Context, u string, form url.Values) ([]verb, bool) {
	c.res.webhooks++
	status, body, inst, err := c.lb.post(ctx, c.rng, u, form)
	if inst != "" {
		c.res.instances[inst] = true
	}
	if err != nil {
		if ctx.Err() == nil {
			c.res.dropped = err.Error()
		}
		return nil, false
	}
	if status != http.StatusOK {
		c.res.dropped = fmt.Sprintf("%s answered %d", pathOf(u), status)
		return nil, false
	}
	verbs, err := parseTwiML(body)
	if err != nil {
		c.res.dropped = err.Error()
		return nil, false
	}
	return verbs, true
}

func (c *caller) run(ctx context.Context) callResult {
	c.begin()
	verbs, ok := c.post(ctx, c.url("/incoming"), c.form("CallStatus", "ringing"))
	if ok && c.spec.duplicate {
		// Twilio retries the webhook (it did not see our answer in time):
		// the same CallSid reaches another instance. Both answers describe
		// the same task; Twilio follows the last one.
		if again, ok2 := c.post(ctx, c.url("/incoming"), c.form("CallStatus", "ringing")); ok2 {
			verbs = again
		}
	}
	return c.follow(ctx, verbs, ok)
}

func (c *caller) begin() {
	c.start = time.Now()
	c.res = callResult{sid: c.spec.sid, instances: map[string]bool{}}
}

// follow plays the call on from the answer to its /incoming webhook.
func (c *caller) follow(ctx context.Context, verbs []verb, ok bool) callResult {
	for i := 0; ok && i < 200; i++ {
		verbs, ok = c.play(ctx, verbs)
	}
	// Twilio's status callback when the call has ended (its answer is ignored).
	c.res.webhooks++
	_, _, inst, _ := c.lb.post(ctx, c.rng, c.url("/status"), c.form("CallStatus", "completed",
		"CallDuration", fmt.Sprint(int(time.Since(c.start).Seconds()))))
	if inst != "" {
		c.res.instances[inst] = true
	}
	return c.res
}

// play runs one TwiML document and returns the next one (false: the call ended).
func (c *caller) play(ctx context.Context, verbs []verb) ([]verb, bool) {
	for _, v := range verbs {
		switch v.XMLName.Local {
		case "Say":
		case "Pause":
			if !sleepCtx(ctx, seconds(v.attr("length"), time.Second)) {
				return nil, false
			}
		case "Redirect":
			return c.post(ctx, strings.TrimSpace(v.Text), c.form())
		case "Hangup":
			c.res.serverHangup = true
			return nil, false
		case "Dial":
			return c.dial(ctx, v)
		case "Enqueue":
			return c.enqueue(ctx, v)
		default:
			c.res.dropped = "unexpected TwiML verb <" + v.XMLName.Local + ">"
			return nil, false
		}
	}
	return nil, false // the document ended: Twilio hangs up
}

func seconds(s string, def time.Duration) time.Duration {
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil || n <= 0 {
		return def
	}
	return time.Duration(n) * time.Second
}

// dial rings the agent of the <Dial> noun and plays what they do.
func (c *caller) dial(ctx context.Context, v verb) ([]verb, bool) {
	c.res.rings++
	timeout := seconds(v.attr("timeout"), 30*time.Second)
	action := v.attr("action")
	if len(v.Children) != 1 || v.Children[0].XMLName.Local != "Client" {
		c.res.dropped = "dial without one <Client> noun"
		return nil, false
	}
	noun := v.Children[0]
	agent, answerURL := strings.TrimSpace(noun.Text), noun.attr("url")
	behaviour := c.behaviour()
	var answerAfter, talk time.Duration
	busyFor := timeout
	switch behaviour {
	case agentAnswers:
		answerAfter = time.Duration(300+c.rng.IntN(int(c.tm.maxAnswer/time.Millisecond))) * time.Millisecond
		answerAfter = min(answerAfter, timeout-time.Second)
		talk = time.Duration(500+c.rng.IntN(int(c.tm.maxTalk/time.Millisecond))) * time.Millisecond
		busyFor = answerAfter + talk
	case callerHangsUp:
		busyFor = time.Duration(c.rng.Int64N(int64(timeout-time.Second))) + 500*time.Millisecond
	}
	c.phones.ring(agent, c.spec.sid, time.Now().Add(busyFor), c.tm.tolerance)
	defer c.phones.free(agent, c.spec.sid)

	dialStatus, callStatus := "no-answer", "in-progress"
	switch behaviour {
	case agentAnswers:
		if !sleepCtx(ctx, answerAfter) {
			return nil, false
		}
		leg := c.form("CallSid", "CA"+randomHex(c.rng), "ParentCallSid", c.spec.sid, "Direction", "outbound-dial",
			"To", "client:"+agent)
		verbs, ok := c.post(ctx, answerURL, leg)
		if !ok {
			c.res.dropped = "" // Twilio drops the agent's leg, not the caller
			dialStatus = "failed"
			break
		}
		dialStatus = "completed"
		if slices.ContainsFunc(verbs, func(v verb) bool { return v.XMLName.Local == "Hangup" }) {
			break // the reservation was gone: the agent's leg is hung up, the dial ends
		}
		c.res.connected, c.res.agent = true, agent
		if !sleepCtx(ctx, talk) {
			return nil, false
		}
	case agentNoAnswer:
		if !sleepCtx(ctx, timeout) {
			return nil, false
		}
	case agentLost:
		if !sleepCtx(ctx, timeout) {
			return nil, false
		}
		c.phones.free(agent, c.spec.sid)
		if !sleepCtx(ctx, c.tm.lostDelay) {
			return nil, false
		}
	case callerHangsUp:
		if !sleepCtx(ctx, busyFor) {
			return nil, false
		}
		c.res.hungUp = true
		dialStatus, callStatus = "canceled", "completed"
	}
	c.phones.free(agent, c.spec.sid)
	verbs, ok := c.post(ctx, action, c.form("DialCallStatus", dialStatus, "CallStatus", callStatus))
	if callStatus == "completed" {
		return nil, false // the caller is gone: Twilio plays nothing more
	}
	return verbs, ok
}

func (c *caller) behaviour() string {
	switch x := c.rng.Float64(); {
	case x < c.tm.hangupRate || time.Since(c.start) > c.tm.patience:
		return callerHangsUp
	case x < 0.55:
		return agentAnswers
	case x < 0.80:
		return agentNoAnswer
	default:
		return agentLost
	}
}

// enqueue holds the caller in a queue: the waitUrl is polled until it says
// <Leave/>, or the caller runs out of patience.
func (c *caller) enqueue(ctx context.Context, v verb) ([]verb, bool) {
	waitURL, action := v.attr("waitUrl"), v.attr("action")
	entered := time.Now()
	queueTime := func() string { return fmt.Sprint(int(time.Since(entered).Seconds())) }
	for {
		if time.Since(c.start) > c.tm.patience {
			c.res.abandoned = true
			c.post(ctx, action, c.form("QueueResult", "hangup", "QueueTime", queueTime(), "CallStatus", "completed"))
			return nil, false
		}
		verbs, ok := c.post(ctx, waitURL, c.form("QueueTime", queueTime(), "QueuePosition", "1", "CurrentQueueSize", "1"))
		if !ok {
			if c.res.dropped == "" {
				return nil, false
			}
			// A failed waitUrl: Twilio takes the caller out of the queue.
			c.res.dropped = ""
			return c.post(ctx, action, c.form("QueueResult", "error", "QueueTime", queueTime()))
		}
		for _, w := range verbs {
			switch w.XMLName.Local {
			case "Leave":
				return c.post(ctx, action, c.form("QueueResult", "leave", "QueueTime", queueTime()))
			case "Hangup":
				c.res.serverHangup = true
				c.post(ctx, action, c.form("QueueResult", "hangup", "QueueTime", queueTime(), "CallStatus", "completed"))
				return nil, false
			case "Pause":
				left := c.tm.patience - time.Since(c.start)
				if !sleepCtx(ctx, min(seconds(w.attr("length"), time.Second), max(left, 0)+10*time.Millisecond)) {
					return nil, false
				}
			case "Say":
			default:
				c.res.dropped = "unexpected waitUrl verb <" + w.XMLName.Local + ">"
				return nil, false
			}
		}
	}
}

func randomHex(rng *rand.Rand) string {
	return fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64())
}
