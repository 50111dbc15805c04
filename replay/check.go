package replay

import (
	"fmt"
	"sort"
	"time"
)

// Check is one correctness check of a run.
type Check struct {
	Name         string   `json:"name"`
	Passed       bool     `json:"passed"`
	Checked      int      `json:"checked"`
	Failed       int      `json:"failed"`
	Unverifiable int      `json:"unverifiable,omitempty"` // cases the timings here cannot decide
	Skipped      string   `json:"skipped,omitempty"`      // why the check did not run
	Examples     []string `json:"examples,omitempty"`     // a few failures, with the call's timeline
	// FailedCalls names the calls of each failure (two for an overlap),
	// for the first maxFailedCalls failures.
	FailedCalls [][]string `json:"failed_calls,omitempty"`
}

const (
	maxExamples    = 5
	maxFailedCalls = 1000
)

func (c *Check) fail(format string, args ...any) {
	c.Failed++
	if len(c.Examples) < maxExamples {
		c.Examples = append(c.Examples, fmt.Sprintf(format, args...))
	}
}

// failCalls is fail naming the calls involved.
func (c *Check) failCalls(calls []string, format string, args ...any) {
	if len(c.FailedCalls) < maxFailedCalls {
		c.FailedCalls = append(c.FailedCalls, calls)
	}
	c.fail(format, args...)
}

func (c *Check) done() Check {
	c.Passed = c.Failed == 0 && c.Skipped == ""
	return *c
}

// fleet is what replay knows of the target's workers.
type fleet struct {
	byContact map[string]fleetWorker // contact_uri → worker
	ownerOf   map[string]fleetWorker // DID → owner
}

func newFleet(ws []fleetWorker) *fleet {
	f := &fleet{byContact: make(map[string]fleetWorker, len(ws)), ownerOf: make(map[string]fleetWorker, len(ws))}
	for _, w := range ws {
		if w.Contact != "" {
			f.byContact[w.Contact] = w
		}
		if w.DID != "" {
			f.ownerOf[w.DID] = w
		}
	}
	return f
}

// serverFreeTolerance is how early a ring that lasted its whole <Dial
// timeout> may have been ended by the server's own step timer.
const serverFreeTolerance = 2 * time.Second

// busySpan is when a ring may have held its worker, from the server's
// point of view: [from, to].
func (r ring) busySpan() (from, to time.Time) {
	from, to = r.ReservedAfter, r.FreeDone
	if to.IsZero() {
		to = time.Now().Add(time.Hour) // never freed from here
	}
	return from, to
}

// freedNoEarlierThan is the earliest the server can have freed the worker.
func (r ring) freedNoEarlierThan() time.Time {
	free := r.FreeSent
	if free.IsZero() {
		return time.Time{}
	}
	if r.Outcome == "refused" {
		// The server let the reservation go before the pick-up: when, is
		// not known here.
		return r.ReservedAfter
	}
	if r.Capped {
		// The server's step or reservation timer runs out at about the
		// moment the <Dial timeout> does.
		if t := r.Revealed.Add(time.Duration(r.Timeout)*time.Second - serverFreeTolerance); t.Before(free) {
			free = t
		}
	}
	return free
}

// ringRef is a ring with its call.
type ringRef struct {
	call *callRecord
	ring *ring
}

func ringsByWorker(calls []*callRecord) map[string][]ringRef {
	out := map[string][]ringRef{}
	for _, c := range calls {
		for i := range c.Rings {
			r := &c.Rings[i]
			out[r.Worker] = append(out[r.Worker], ringRef{call: c, ring: r})
		}
	}
	for _, rs := range out {
		sort.Slice(rs, func(i, j int) bool { return rs[i].ring.Revealed.Before(rs[j].ring.Revealed) })
	}
	return out
}

// checkOneAtATime: no worker was offered a call while still ringing or
// talking on another. A ring revealed before the previous ring of the same
// worker could have been freed is an overlap.
func checkOneAtATime(calls []*callRecord) Check {
	c := Check{Name: "no worker offered two calls at once"}
	for worker, rs := range ringsByWorker(calls) {
		for i := 1; i < len(rs); i++ {
			prev, cur := rs[i-1], rs[i]
			c.Checked++
			free := prev.ring.freedNoEarlierThan()
			if free.IsZero() {
				c.Unverifiable++
				continue
			}
			if cur.ring.Revealed.Before(free) {
				c.failCalls([]string{cur.call.CallSID, prev.call.CallSID}, "%s was rung for call %s while still on call %s (offered %s before that ring ended)\n  %s\n  %s",
					worker, cur.call.CallSID, prev.call.CallSID, free.Sub(cur.ring.Revealed).Round(time.Millisecond),
					timeline(cur.call), timeline(prev.call))
			}
		}
	}
	return c.done()
}

// checkRouting checks that a call to an available, idle owner rang the
// owner first, and that any other call went to Everyone. Nobody unavailable
// or unknown may be rung, and a worker who did not answer must not be rung
// again for the same call. lag is how long after a worker was freed an
// instance may still route as if they were busy, because instances hear of
// it through the database's change feed. An owner freed within lag before
// the call is undecidable.
func checkRouting(calls []*callRecord, f *fleet, lag time.Duration) Check {
	c := Check{Name: "owner first, else Everyone"}
	byWorker := ringsByWorker(calls)
	hidden := newHiddenSpans(calls)
	// Callers waiting in a queue. Every agent is in the Everyone queue, so
	// any of them may hold the owner unseen: the server reserves a freed
	// agent for the longest-waiting caller, who learns it only at a later
	// poll, and never if too little of the reservation is left to ring it.
	var waiting []waitSpan
	for _, c := range calls {
		for _, w := range c.Waits {
			waiting = append(waiting, waitSpan{c, w[0], w[1]})
		}
	}
	for _, call := range calls {
		if call.FirstOffer == "" {
			continue // errored, or hung up before anything happened
		}
		c.Checked++
		failed := false
		bad := func(format string, args ...any) {
			if !failed {
				failed = true
				c.failCalls([]string{call.CallSID}, format+"\n  %s", append(args, timeline(call))...)
			}
		}
		declined := map[string]bool{}
		for _, r := range call.Rings {
			w, known := f.byContact[r.Worker]
			switch {
			case !known:
				bad("call %s rang %s, who is no worker of the target", call.CallSID, r.Worker)
			case !w.Available:
				bad("call %s rang %s, who is not available", call.CallSID, w.Name)
			case declined[r.Worker]:
				bad("call %s rang %s again after they did not answer", call.CallSID, w.Name)
			}
			if r.Outcome == "no-answer" || r.Outcome == "busy" {
				declined[r.Worker] = true
			}
		}
		owner, hasOwner := f.ownerOf[call.To]
		if !hasOwner || !owner.Available || owner.Contact == "" || call.FirstOffer == owner.Contact {
			continue
		}
		// The call did not ring its available owner first: fine only if the
		// owner may have been busy while the server routed it.
		idle, sure := idleDuring(byWorker[owner.Contact], call, call.IncomingSent.Add(-lag), call.IncomingDone)
		if idle && hidden.overlap(call.IncomingSent, call.IncomingDone) {
			sure = false // a waiting caller may have held the owner unseen
		}
		for _, w := range waiting {
			if idle && w.call != call && w.from.Before(call.IncomingDone) && w.to.After(call.IncomingSent.Add(-lag)) {
				// Another caller waited meanwhile: the owner may have been
				// reserved for it without its being rung yet.
				sure = false
				break
			}
		}
		switch {
		case idle && sure:
			first := call.FirstOffer
			if w, ok := f.byContact[first]; ok {
				first = w.Name
			}
			bad("call %s to %s went to %s although its owner %s was available and idle", call.CallSID, call.To, first, owner.Name)
		case !sure:
			c.Unverifiable++
		}
	}
	return c.done()
}

// waitSpan is a caller waiting in a queue.
type waitSpan struct {
	call     *callRecord
	from, to time.Time
}

// idleDuring says whether the worker was surely idle during [from, to]
// (ignoring the call itself), and whether that is known for sure.
func idleDuring(rs []ringRef, self *callRecord, from, to time.Time) (idle, sure bool) {
	for _, r := range rs {
		if r.call == self {
			continue
		}
		busyFrom, busyTo := r.ring.busySpan()
		if busyTo.Before(from) || !busyFrom.Before(to) {
			continue // surely over before, or surely started after
		}
		// Overlap possible. Surely busy if the ring certainly covered the
		// whole window (reserved before it began, freed after it ended).
		if !r.ring.Revealed.After(from) && r.ring.freedNoEarlierThan().After(to) {
			return false, true
		}
		return false, false
	}
	return true, true
}

// checkTasks: every call left exactly one task record, finished, in the
// state its call ended in.
func checkTasks(calls []*callRecord, tasks map[string][]taskRecord, skipped string) Check {
	c := Check{Name: "exactly one task record per call"}
	if skipped != "" {
		c.Skipped = skipped
		return c.done()
	}
	for _, call := range calls {
		if call.IncomingDone.IsZero() {
			continue // never sent
		}
		c.Checked++
		ts := callTasks(tasks[call.CallSID])
		switch {
		case len(ts) == 0:
			c.failCalls([]string{call.CallSID}, "call %s left no task record\n  %s", call.CallSID, timeline(call))
		case len(ts) > 1:
			c.failCalls([]string{call.CallSID}, "call %s left %d task records (%s, %s, …)", call.CallSID, len(ts), ts[0].SID, ts[1].SID)
		default:
			t := ts[0]
			want := ""
			switch call.Result {
			case "answered":
				want = "completed"
			case "abandoned", "cut":
				if call.AnsweredBy == "" {
					want = "canceled"
				}
			}
			if t.Type == "callback" && call.Pressed == "2" {
				break // a call-back request waits for an agent: checkUnanswered judges it
			}
			if t.Status != "completed" && t.Status != "canceled" {
				c.failCalls([]string{call.CallSID}, "call %s is over but its task %s is still %s\n  %s", call.CallSID, t.SID, t.Status, timeline(call))
			} else if want != "" && t.Status != want {
				c.failCalls([]string{call.CallSID}, "call %s ended %s but its task %s is %s, want %s\n  %s", call.CallSID, call.Result, t.SID, t.Status, want, timeline(call))
			}
		}
		delete(tasks, call.CallSID)
	}
	for sid, ts := range tasks {
		c.failCalls([]string{sid}, "task %s names call %s, which this run never placed", ts[0].SID, sid)
	}
	return c.done()
}

// callTasks are a call's own tasks: not the voicemail tasks of its messages.
func callTasks(ts []taskRecord) []taskRecord {
	var out []taskRecord
	for _, t := range ts {
		if t.Type != "voicemail" {
			out = append(out, t)
		}
	}
	return out
}

// checkUnanswered checks voicemail and call-backs: every message left
// became exactly one voicemail task, no call that was answered or left no
// message has one, and every call-back request is one call-back task.
func checkUnanswered(calls []*callRecord, tasks map[string][]taskRecord, skipped string) Check {
	c := Check{Name: "one voicemail task per message, one call-back task per request"}
	if skipped != "" {
		c.Skipped = skipped
		return c.done()
	}
	for _, call := range calls {
		if call.IncomingDone.IsZero() {
			continue
		}
		var vms, cbs int
		for _, t := range tasks[call.CallSID] {
			switch t.Type {
			case "voicemail":
				vms++
			case "callback":
				cbs++
			}
		}
		want := 0
		if call.MessageS > 0 && call.Result != "error" {
			want = 1
		}
		if call.Voicemail || call.Pressed != "" || vms > 0 {
			c.Checked++
		}
		switch {
		case vms != want:
			c.failCalls([]string{call.CallSID}, "call %s left a %.0f s message (answered by %q) and has %d voicemail tasks, want %d\n  %s",
				call.CallSID, call.MessageS, call.AnsweredBy, vms, want, timeline(call))
		case call.Pressed == "2" && call.AnsweredBy == "" && cbs != 1:
			c.failCalls([]string{call.CallSID}, "call %s asked to be called back and has %d call-back tasks, want 1\n  %s",
				call.CallSID, cbs, timeline(call))
		}
	}
	return c.done()
}

// timeline renders a call's steps on one line.
func timeline(c *callRecord) string {
	s := c.CallSID + " to " + c.To + ":"
	for _, st := range c.Timeline {
		s += fmt.Sprintf(" [%dms %s]", st.AtMS, st.What)
	}
	return s
}

// hiddenSpans are the times a waiting caller who hung up may have held a
// reservation replay never saw (made after the last poll it answered).
type hiddenSpans struct {
	spans  [][2]time.Time // sorted by start
	maxLen time.Duration
}

func newHiddenSpans(calls []*callRecord) *hiddenSpans {
	h := &hiddenSpans{}
	for _, c := range calls {
		if c.HiddenFrom.IsZero() {
			continue
		}
		h.spans = append(h.spans, [2]time.Time{c.HiddenFrom, c.HiddenTo})
		h.maxLen = max(h.maxLen, c.HiddenTo.Sub(c.HiddenFrom))
	}
	sort.Slice(h.spans, func(i, j int) bool { return h.spans[i][0].Before(h.spans[j][0]) })
	return h
}

// overlap reports whether a hidden span meets [from, to].
func (h *hiddenSpans) overlap(from, to time.Time) bool {
	lo := from.Add(-h.maxLen)
	i := sort.Search(len(h.spans), func(i int) bool { return !h.spans[i][0].Before(lo) })
	for ; i < len(h.spans) && h.spans[i][0].Before(to); i++ {
		if h.spans[i][1].After(from) {
			return true
		}
	}
	return false
}
