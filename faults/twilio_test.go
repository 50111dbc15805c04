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
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/didrouter/didrouter/replay"
	"github.com/didrouter/didrouter/webhooks"
)

// Twilio's side of the scenario is `didrouter replay` (package replay, its
// Run entry as the command runs it): it spreads every webhook over the three
// instances round-robin (no call sticky), sends a delivery that is refused,
// times out or is answered 5xx to the next instance (Twilio's retry, a
// balancer's next upstream), delivers 10 % of webhooks twice to two
// instances, and plays each call's scripted outcome. What replay does not
// play is added here: dial actions that arrive late (lateActions).

// people scales the scripted callers and agents.
type people struct {
	maxAnswer  time.Duration // an answering agent picks up within this
	maxTalk    time.Duration
	patience   time.Duration // the longest a hanging-up caller waits
	lostDelay  time.Duration // how late a "lost" dial action arrives
	answered   float64       // shares of calls: the first agent rung answers …
	noAnswer   float64       // … lets it ring out (half of these with a late dial action) …
	busy       float64       // … is busy; the other callers hang up, ringing or waiting
	duplicates float64       // share of webhooks delivered twice
}

// script builds the scenario's calls: burstSize calls every burstEvery for
// loadFor, with a lull before the long outage (so that agents are free when
// it starts and degraded mode has someone to ring). 60 % of calls dial an
// agent's own number, the rest a number nobody owns (straight to Everyone).
func (sc scenario) script(s *setup, rng *rand.Rand) *replay.Script {
	out := &replay.Script{}
	for _, a := range s.agents {
		out.Workers = append(out.Workers, replay.Worker{Name: a.identity, DID: a.did, Available: true})
	}
	uniform := func(lo, hi time.Duration) float64 {
		return (lo + time.Duration(rng.Int64N(int64(hi-lo)))).Seconds()
	}
	p := sc.people
	for at := time.Duration(0); at < sc.loadFor; at += sc.burstEvery {
		if at >= sc.outageAt-4*time.Second && at < sc.outageAt+sc.storeWait {
			continue // the lull
		}
		for i := range sc.burstSize {
			c := replay.Call{
				OffsetMS: (at + time.Duration(i)*137*time.Millisecond).Milliseconds(),
				From:     fmt.Sprintf("+1737555%04d", rng.IntN(10000)),
				To:       "+15125559999", // nobody's number
			}
			if rng.Float64() < 0.6 {
				c.To = s.agents[rng.IntN(len(s.agents))].did
			}
			switch x := rng.Float64(); {
			case x < p.answered:
				c.Outcome, c.AfterS, c.TalkS = replay.OutcomeAnswered, uniform(300*time.Millisecond, p.maxAnswer), uniform(500*time.Millisecond, p.maxTalk)
			case x < p.answered+p.noAnswer:
				c.Outcome, c.AfterS = replay.OutcomeNoAnswer, 120 // rings until the <Dial timeout>
			case x < p.answered+p.noAnswer+p.busy:
				c.Outcome, c.AfterS = replay.OutcomeBusy, uniform(300*time.Millisecond, 2*time.Second)
			default:
				c.Outcome, c.AfterS = replay.OutcomeHangup, uniform(time.Second, p.patience)
			}
			out.Calls = append(out.Calls, c)
		}
	}
	return out
}

// lateActions delays some dial actions that report no-answer by lostDelay,
// once per call and reservation (retries and duplicates of a delayed one
// are not delayed again): only the engine's timers can then move the call
// on in time.
type lateActions struct {
	next  http.RoundTripper
	delay time.Duration
	share float64

	mu      sync.Mutex
	rng     *rand.Rand
	decided map[string]bool // call+reservation → delayed
	delayed atomic.Int64
}

func (l *lateActions) RoundTrip(req *http.Request) (*http.Response, error) {
	if !strings.HasSuffix(req.URL.Path, "/dial") || req.Body == nil {
		return l.next.RoundTrip(req)
	}
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	form, _ := url.ParseQuery(string(body))
	if form.Get("DialCallStatus") == "no-answer" {
		key := form.Get("CallSid") + " " + req.URL.Query().Get("reservation")
		l.mu.Lock()
		late, seen := l.decided[key]
		if !seen {
			late = l.rng.Float64() < l.share
			l.decided[key] = late
		}
		l.mu.Unlock()
		if late && !seen {
			l.delayed.Add(1)
			if !sleepCtx(req.Context(), l.delay) {
				return nil, req.Context().Err()
			}
		}
	}
	return l.next.RoundTrip(req)
}

// postSigned sends one signed webhook for publicURL to base (an instance)
// and returns the answer's status.
func postSigned(ctx context.Context, base, public, token, route string, form url.Values) (int, error) {
	publicURL := public + webhooks.PathPrefix + route
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+webhooks.PathPrefix+route, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", webhooks.Sign(token, publicURL, form))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
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
