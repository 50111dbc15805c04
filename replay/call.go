package replay

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/didrouter/didrouter/webhooks"
)

// ring is one <Dial> of a call: who was rung and when, as seen from here.
// The server made the reservation no earlier than ReservedAfter and no later
// than Revealed; it freed the worker no earlier than FreeSent (the webhook
// that ends the ring was sent) and no later than FreeDone.
type ring struct {
	Worker        string    `json:"worker"` // contact: client:name, sip:…, or a number
	ReservedAfter time.Time `json:"-"`
	Revealed      time.Time `json:"-"`
	FreeSent      time.Time `json:"-"`
	FreeDone      time.Time `json:"-"`
	Timeout       int       `json:"timeout_s"` // the <Dial timeout>
	Capped        bool      `json:"capped"`    // rang until the timeout: the server's own timer may free it first
	Outcome       string    `json:"outcome"`   // answered, no-answer, busy, canceled, refused
}

// callRecord is one call's timeline and what happened to it.
type callRecord struct {
	Index        int       `json:"index"`
	CallSID      string    `json:"call_sid"`
	From         string    `json:"from"`
	To           string    `json:"to"`
	Outcome      string    `json:"scripted"`
	Start        time.Time `json:"-"`
	IncomingSent time.Time `json:"-"`
	IncomingDone time.Time `json:"-"`
	FirstOffer   string    `json:"first_offer"` // the contact first rung, "queue", or "" when neither
	Rings        []ring    `json:"rings"`
	Result       string    `json:"result"` // answered, abandoned, ended, cut, error
	AnsweredBy   string    `json:"answered_by,omitempty"`
	Timeline     []step    `json:"timeline"`
	Errors       []string  `json:"errors,omitempty"`
	Fallbacks    int       `json:"fallbacks,omitempty"`  // fallback TwiML answers the call went on through
	BusyHolds    int       `json:"busy_holds,omitempty"` // "lines busy" holds before the server took the call
	// Voicemail and call-backs: the key pressed at the offer, whether the
	// caller reached voicemail, and the length of the message they left
	// (0: none, or an empty recording).
	Pressed   string  `json:"pressed,omitempty"`
	Voicemail bool    `json:"voicemail,omitempty"`
	MessageS  float64 `json:"message_s,omitempty"`
	// A caller who hung up while waiting may have had a reservation made
	// after its last poll, which replay never saw: [HiddenFrom, HiddenTo].
	HiddenFrom, HiddenTo time.Time `json:"-"`
	// Waits are the spans the caller spent in a queue. A reservation made
	// for it may never be shown (the server does not ring one with too
	// little time left; the step timer moves the call on instead).
	Waits [][2]time.Time `json:"-"`
}

type step struct {
	AtMS int64  `json:"at_ms"`
	What string `json:"what"`
}

// player plays Twilio's part for one call.
type player struct {
	r        *runner
	rec      *callRecord
	c        Call
	hangupAt time.Time // the scripted caller hang-up (zero: none)

	// Lower bounds of the next reservation's creation: the last webhook
	// that ended a ring, and the last answer that showed none.
	prevFree, lastEmpty time.Time
	lastDone            time.Time
	cut                 bool // the run's duration ended the call
	agentLegs           int
}

func (p *player) log(format string, args ...any) {
	p.rec.Timeline = append(p.rec.Timeline, step{AtMS: time.Since(p.rec.Start).Milliseconds(), What: fmt.Sprintf(format, args...)})
}

func (p *player) fail(err error) {
	p.rec.Errors = append(p.rec.Errors, err.Error())
	p.log("error: %v", err)
}

// scaled turns scripted seconds into real time at the replay speed.
func (p *player) scaled(seconds float64) time.Duration {
	return time.Duration(seconds / p.r.cfg.Speed * float64(time.Second))
}

func (p *player) baseForm() url.Values {
	return url.Values{
		"AccountSid": {p.r.account},
		"ApiVersion": {"2010-04-01"},
		"CallSid":    {p.rec.CallSID},
		"From":       {p.c.From},
		"Caller":     {p.c.From},
		"To":         {p.c.To},
		"Called":     {p.c.To},
		"Direction":  {"inbound"},
	}
}

// post sends one webhook of the call. A fallback answer (the server hit an
// error but holds the caller) is counted as an error of the run, and the
// call goes on with it as Twilio would.
func (p *player) post(kind, publicURL string, form url.Values) (answer, error) {
	a, err := p.r.tw.post(p.r.reqCtx, kind, publicURL, form)
	p.lastDone = a.done
	if errors.Is(err, errFallback) {
		p.rec.Fallbacks++
		p.log("fallback TwiML from the server (%s)", kind)
		return a, nil
	}
	if errors.Is(err, errBusy) {
		p.rec.BusyHolds++
		p.log("lines busy: held by the server (%s)", kind)
		return a, nil
	}
	if err != nil {
		p.fail(err)
	}
	return a, err
}

// wait sleeps d of real time; it reports false when the caller hangs up
// (scripted) or the run's duration ends first.
func (p *player) wait(d time.Duration) bool {
	deadline := time.Now().Add(d)
	if !p.hangupAt.IsZero() && p.hangupAt.Before(deadline) {
		deadline = p.hangupAt
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-t.C:
		return p.hangupAt.IsZero() || time.Now().Before(p.hangupAt)
	case <-p.r.playCtx.Done():
		p.cut = true
		return false
	}
}

func (p *player) play() {
	rec := p.rec
	rec.Start = time.Now()
	if p.c.Outcome == OutcomeHangup {
		p.hangupAt = rec.Start.Add(p.scaled(p.c.AfterS))
	}
	form := p.baseForm()
	form.Set("CallStatus", "ringing")
	a, err := p.post(kindIncoming, p.r.public+webhooks.PathPrefix+"/incoming", form)
	rec.IncomingSent, rec.IncomingDone = a.sent, a.done
	p.prevFree, p.lastEmpty = a.sent, a.sent
	p.log("incoming")
	if err != nil {
		rec.Result = "error"
	} else {
		p.execute(a.verbs)
	}
	p.finish()
}

// execute runs a TwiML document as Twilio does, following action URLs.
// It returns when the call is over.
func (p *player) execute(verbs []verb) {
	for hops := 0; hops < maxHops; hops++ {
		next, follow := p.run(verbs)
		if !follow {
			return
		}
		verbs = next
	}
	p.fail(fmt.Errorf("more than %d TwiML documents in one call", maxHops))
	p.rec.Result = "error"
}

// maxHops bounds the documents one call follows (a server that loops).
const maxHops = 200

// run executes one document; follow says whether next (an action's
// answer) replaces it.
func (p *player) run(verbs []verb) (next []verb, follow bool) {
	for _, v := range verbs {
		switch v.name() {
		case "Say", "Play":
		case "Pause":
			if !p.wait(p.scaled(float64(v.seconds("length", 1)))) {
				p.callerHangsUp()
				return nil, false
			}
		case "Hangup":
			p.log("server hung up")
			if p.rec.Result == "" {
				p.rec.Result = "ended"
			}
			return nil, false
		case "Dial":
			return p.dial(v)
		case "Enqueue":
			return p.enqueue(v)
		case "Redirect":
			kind := kindRedirect
			routing := isRouteStep(v.Text)
			if routing {
				kind = kindRoute
			}
			a, err := p.post(kind, v.Text, p.inProgress())
			if routing {
				// The call is routed here, after the greeting: the
				// routing checks judge the owner's state during this
				// request, not during the greeting's.
				p.rec.IncomingSent, p.rec.IncomingDone = a.sent, a.done
			}
			if err != nil {
				p.rec.Result = "error"
				return nil, false
			}
			return a.verbs, true
		case "Record":
			return p.record(v)
		case "Leave":
		default:
			p.fail(fmt.Errorf("unexpected TwiML verb <%s>", v.name()))
		}
	}
	if p.rec.Result == "" {
		p.rec.Result = "ended"
	}
	return nil, false // end of document: Twilio hangs up
}

func (p *player) inProgress() url.Values {
	f := p.baseForm()
	f.Set("CallStatus", "in-progress")
	return f
}

// callerHangsUp is a scripted hang-up (or the end of the run) while
// nothing is pending: the status callback follows in finish.
func (p *player) callerHangsUp() {
	if p.cut {
		p.rec.Result = "cut"
		p.log("run ended: caller hangs up")
	} else {
		p.rec.Result = "abandoned"
		p.log("caller hangs up")
	}
}

func (p *player) reservedAfter() time.Time {
	if p.lastEmpty.After(p.prevFree) {
		return p.lastEmpty
	}
	return p.prevFree
}

// dial rings the noun of a <Dial>: the scripted outcome for the first ring
// of the call, an answer for the later ones.
func (p *player) dial(v verb) ([]verb, bool) {
	tgt, err := v.target()
	if err != nil {
		p.fail(err)
		p.rec.Result = "error"
		return nil, false
	}
	timeout := v.seconds("timeout", 30)
	action := v.attr("action")
	rg := ring{Worker: tgt.identity, ReservedAfter: p.reservedAfter(), Revealed: p.lastDone, Timeout: timeout}
	if len(p.rec.Rings) == 0 && p.rec.FirstOffer == "" {
		p.rec.FirstOffer = tgt.identity
	}
	p.log("ring %s (timeout %d s)", tgt.identity, timeout)
	first := len(p.rec.Rings) == 0
	p.rec.Rings = append(p.rec.Rings, rg)
	cur := &p.rec.Rings[len(p.rec.Rings)-1]

	outcome, after := OutcomeAnswered, p.r.cfg.FallbackAnswerAfter.Seconds()
	if first || p.c.Outcome == OutcomeHangup {
		outcome, after = p.c.Outcome, p.c.AfterS
	}
	ringFor := p.scaled(after)
	limit := time.Duration(timeout) * time.Second // Twilio rings for real seconds
	status := outcome
	switch outcome {
	case OutcomeHangup:
		ringFor = limit // until the caller hangs up, or the dial times out
		status = "no-answer"
	case OutcomeAnswered, OutcomeNoAnswer, OutcomeBusy:
	}
	if ringFor >= limit {
		ringFor, status, cur.Capped = limit, "no-answer", true
	}
	if !p.wait(ringFor) {
		// The caller hung up while it rang: the dial ends, Twilio requests
		// the action with the call completed, then the status callback.
		cur.Outcome = "canceled"
		p.callerHangsUp()
		form := p.inProgress()
		form.Set("CallStatus", "completed")
		form.Set("DialCallStatus", "canceled")
		p.endRing(cur, action, form)
		return nil, false
	}
	if status == OutcomeAnswered {
		return p.answer(cur, tgt, action)
	}
	cur.Outcome = status
	p.log("%s: %s", tgt.identity, status)
	form := p.inProgress()
	form.Set("DialCallStatus", status)
	return p.endRing(cur, action, form)
}

// endRing requests the <Dial action> that ends a ring.
func (p *player) endRing(cur *ring, action string, form url.Values) ([]verb, bool) {
	if action == "" {
		cur.FreeSent, cur.FreeDone = time.Now(), time.Now()
		p.prevFree = cur.FreeSent
		return nil, false // without an action the document goes on; didrouter always sets one
	}
	a, err := p.post(kindDial, action, form)
	cur.FreeSent, cur.FreeDone = a.sent, a.done
	p.prevFree = a.sent
	if err != nil || form.Get("CallStatus") == "completed" {
		if err != nil {
			p.rec.Result = "error"
		}
		return nil, false
	}
	if len(a.verbs) > 0 && a.verbs[0].name() == "Enqueue" {
		p.lastEmpty = a.sent
	}
	return a.verbs, true
}

// answer picks up on the agent's leg: Twilio fetches the noun's url there;
// an empty answer connects, a <Hangup/> hangs up the agent's leg.
func (p *player) answer(cur *ring, tgt dialTarget, action string) ([]verb, bool) {
	p.agentLegs++
	leg := p.r.legSID(p.rec.Index, p.agentLegs)
	if tgt.answerURL != "" {
		form := url.Values{
			"AccountSid": {p.r.account}, "ApiVersion": {"2010-04-01"}, "CallSid": {leg},
			"ParentCallSid": {p.rec.CallSID}, "From": {p.c.From}, "To": {tgt.identity},
			"Direction": {"outbound-dial"}, "CallStatus": {"in-progress"},
		}
		a, err := p.post(kindAnswer, tgt.answerURL, form)
		if err != nil {
			p.rec.Result = "error"
			cur.Outcome = "error"
			f := p.inProgress()
			f.Set("DialCallStatus", "failed")
			return p.endRing(cur, action, f)
		}
		for _, v := range a.verbs {
			if v.name() == "Hangup" {
				cur.Outcome = "refused"
				p.log("%s picked up; the server hung up the agent's leg", tgt.identity)
				f := p.inProgress()
				f.Set("DialCallStatus", "completed")
				f.Set("DialCallSid", leg)
				f.Set("DialCallDuration", "0")
				return p.endRing(cur, action, f)
			}
		}
	}
	cur.Outcome = "answered"
	p.rec.Result, p.rec.AnsweredBy = "answered", tgt.identity
	p.log("%s answered", tgt.identity)
	talked := p.wait(p.scaled(p.c.TalkS))
	f := p.inProgress()
	f.Set("DialCallStatus", "completed")
	f.Set("DialCallSid", leg)
	f.Set("DialCallDuration", strconv.Itoa(int(p.c.TalkS)))
	if !talked {
		f.Set("CallStatus", "completed") // the run ended mid-call: the caller hangs up
		p.log("run ended mid-call")
	} else {
		p.log("%s hangs up", tgt.identity)
	}
	return p.endRing(cur, action, f)
}

// enqueue waits in the queue as Twilio does. It requests waitUrl and plays
// its answer, again and again. It stops at <Leave/>, which leads to the
// Enqueue action, at a <Hangup/>, or when the caller hangs up, which sends
// the action with QueueResult=hangup.
func (p *player) enqueue(v verb) ([]verb, bool) {
	waitURL, action := v.attr("waitUrl"), v.attr("action")
	if p.rec.FirstOffer == "" {
		p.rec.FirstOffer = "queue"
	}
	p.log("enqueued")
	entered := time.Now()
	defer func() { p.rec.Waits = append(p.rec.Waits, [2]time.Time{entered, time.Now()}) }()
	queueTime := func() string {
		return strconv.Itoa(int(time.Since(entered).Seconds() * p.r.cfg.Speed))
	}
	leave := func(result string) ([]verb, bool) {
		if action == "" {
			return nil, result == "leave"
		}
		f := p.inProgress()
		f.Set("QueueResult", result)
		f.Set("QueueSid", "QU"+p.rec.CallSID[2:])
		f.Set("QueueTime", queueTime())
		if result == "hangup" {
			f.Set("CallStatus", "completed")
		}
		a, err := p.post(kindDequeued, action, f)
		if result == "hangup" {
			p.rec.HiddenFrom, p.rec.HiddenTo = p.lastEmpty, a.done
		}
		if err != nil {
			p.rec.Result = "error"
			return nil, false
		}
		if result != "leave" {
			return nil, false
		}
		if len(a.verbs) > 0 && a.verbs[0].name() == "Enqueue" {
			p.lastEmpty = a.sent
		}
		return a.verbs, true
	}
	for polls := 0; ; polls++ {
		if waitURL == "" {
			if !p.wait(time.Hour) {
				p.callerHangsUp()
				return leave("hangup")
			}
			continue
		}
		f := p.inProgress()
		f.Set("QueueSid", "QU"+p.rec.CallSID[2:])
		f.Set("QueueTime", queueTime())
		f.Set("QueuePosition", "1")
		f.Set("CurrentQueueSize", "1")
		f.Set("AvgQueueTime", "0")
		a, err := p.post(kindWait, waitURL, f)
		if err != nil {
			// Twilio would keep the caller in the queue; wait a moment and retry.
			if !p.wait(p.scaled(1)) {
				p.callerHangsUp()
				return leave("hangup")
			}
			continue
		}
		paused := false
		for _, w := range a.verbs {
			switch w.name() {
			case "Gather":
				if p.c.Press == "" || p.rec.Pressed != "" {
					continue // the caller stays on the line
				}
				p.rec.Pressed = p.c.Press
				p.log("pressed %s", p.c.Press)
				f := p.inProgress()
				f.Set("Digits", p.c.Press)
				got, err := p.post(kindChoice, w.attr("action"), f)
				if err != nil {
					p.rec.Result = "error"
					return nil, false
				}
				for _, g := range got.verbs {
					if g.name() == "Leave" {
						p.log("leave the queue")
						return leave("leave")
					}
				}
			case "Leave":
				p.log("leave the queue")
				return leave("leave")
			case "Hangup":
				p.log("server hung up while waiting")
				p.rec.Result = "ended"
				return nil, false
			case "Pause":
				paused = true
				if !p.wait(p.scaled(float64(w.seconds("length", 1)))) {
					p.callerHangsUp()
					return leave("hangup")
				}
			}
		}
		p.lastEmpty = a.sent
		if !paused && !p.wait(p.scaled(1)) { // a hold message takes a while to say
			p.callerHangsUp()
			return leave("hangup")
		}
	}
}

// finish sends the call's status callback (the call is over).
func (p *player) finish() {
	f := p.baseForm()
	f.Set("CallStatus", "completed")
	f.Set("CallDuration", strconv.Itoa(int(time.Since(p.rec.Start).Seconds()*p.r.cfg.Speed)))
	a, _ := p.post(kindStatus, p.r.public+webhooks.PathPrefix+"/status", f)
	// A ring the call left open (no action URL) ends with the call.
	for i := range p.rec.Rings {
		if p.rec.Rings[i].FreeSent.IsZero() {
			p.rec.Rings[i].FreeSent, p.rec.Rings[i].FreeDone = a.sent, a.done
		}
	}
	p.log("status callback: completed")
}

// isRouteStep reports whether a redirect leads to the routing step of
// incoming (the greeting's redirect, incoming?greeted=1).
func isRouteStep(raw string) bool {
	u, err := url.Parse(strings.TrimSpace(raw))
	return err == nil && strings.HasSuffix(u.Path, webhooks.PathPrefix+"/incoming") && u.Query().Get("greeted") != ""
}

// record leaves the scripted message at a <Record>, as Twilio reports it:
// the action (whose answer the call goes on with) and the recording status
// callback, both naming the recording.
func (p *player) record(v verb) ([]verb, bool) {
	p.rec.Voicemail = true
	secs := p.c.MessageS
	p.log("records a %.0f s message", secs)
	left := p.wait(p.scaled(secs))
	f := p.inProgress()
	if !left {
		f.Set("CallStatus", "completed")
	}
	recSID := "RE" + p.rec.CallSID[2:]
	f.Set("RecordingSid", recSID)
	f.Set("RecordingDuration", strconv.Itoa(int(secs)))
	f.Set("RecordingUrl", "https://api.twilio.com/2010-04-01/Accounts/"+f.Get("AccountSid")+"/Recordings/"+recSID)
	a, err := p.post(kindRecord, v.attr("action"), f)
	if err != nil {
		p.rec.Result = "error"
		return nil, false
	}
	if cb := v.attr("recordingStatusCallback"); cb != "" {
		f.Set("RecordingStatus", "completed")
		if _, err := p.post(kindRecord, cb, f); err != nil {
			p.rec.Result = "error"
			return nil, false
		}
	}
	if secs >= 1 {
		p.rec.MessageS = secs
	}
	return a.verbs, true
}
