package replay

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/didrouter/didrouter/routing"
)

func TestReadScriptErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"offset_ms":0,"from":"+1","to":"+2","outcome":"maybe"}`, "line 1: outcome"},
		{"\n{\"offset_ms\":-1,\"from\":\"+1\",\"to\":\"+2\",\"outcome\":\"busy\"}", "line 2: offset_ms"},
		{`{"offset_ms":0,"from":"+1","to":"+2","outcome":"busy","extra":1}`, "unknown field"},
		{`{"worker":"a b"}`, "client identity"},
		{`{"worker":"a","did":"+1"}` + "\n" + `{"worker":"b","did":"+1"}` + "\n" + `{"offset_ms":0,"from":"+1","to":"+2","outcome":"busy"}`, "both own"},
		{`# nothing`, "no calls"},
		{`{"offset_ms":0,"to":"+2","outcome":"busy"}`, `"from" is missing`},
	} {
		_, err := ReadScript(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestScriptRoundTrip(t *testing.T) {
	g := DefaultGenerator()
	g.Calls, g.Workers, g.DIDs = 50, 8, 10
	s, err := g.Script()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteScript(&buf, s); err != nil {
		t.Fatal(err)
	}
	back, err := ReadScript(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Calls) != 50 || len(back.Workers) != 8 || back.Calls[49] != s.Calls[49] || back.Workers[7] != s.Workers[7] {
		t.Fatalf("round trip changed the script")
	}
	again, _ := g.Script()
	if again.Calls[30] != s.Calls[30] {
		t.Error("the same seed gave another script")
	}
	for i := 1; i < len(s.Calls); i++ {
		if s.Calls[i].OffsetMS < s.Calls[i-1].OffsetMS {
			t.Fatal("calls out of order")
		}
	}
}

// Generated numbers are valid and distinct, up to the largest fleets.
func TestGeneratedNumbersAreValid(t *testing.T) {
	norm, err := routing.NewNormalizer("US")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, i := range []int{0, 1, 9999, 10000, 99999, 100000, 719999, 720000, 999999, 1_000_000, maxDIDs - 1} {
		d := DID(i)
		n, err := norm.Normalize(d)
		if err != nil || n.E164 != d {
			t.Errorf("DID(%d) = %s: %v", i, d, err)
		}
		if seen[d] {
			t.Errorf("DID(%d) = %s repeats", i, d)
		}
		seen[d] = true
	}
	if n, err := norm.Normalize(callerNumber(123456)); err != nil || seen[n.E164] {
		t.Errorf("caller number %v: %v", n, err)
	}
}

// With several instances an owner freed just before a call may still look
// busy to the instance that routes it: within the sync lag that call is
// undecidable, not a misroute.
func TestRoutingCheckSyncLag(t *testing.T) {
	t0 := time.Now()
	f := newFleet([]fleetWorker{{Name: "alice", DID: "+15125550101", Contact: "client:alice", Available: true}})
	prev := &callRecord{CallSID: "CA1", To: "+15125550101", FirstOffer: "client:alice",
		IncomingSent: t0.Add(-5 * time.Second), IncomingDone: t0.Add(-5 * time.Second),
		Rings: []ring{{Worker: "client:alice", ReservedAfter: t0.Add(-5 * time.Second), Revealed: t0.Add(-5 * time.Second),
			FreeSent: t0.Add(-10 * time.Millisecond), FreeDone: t0, Outcome: "answered"}}}
	next := &callRecord{CallSID: "CA2", To: "+15125550101", FirstOffer: "queue",
		IncomingSent: t0.Add(200 * time.Millisecond), IncomingDone: t0.Add(210 * time.Millisecond)}
	calls := []*callRecord{prev, next}
	if c := checkRouting(calls, f, 0); c.Failed != 1 || len(c.FailedCalls) != 1 || c.FailedCalls[0][0] != "CA2" {
		t.Errorf("without lag: %+v", c)
	}
	if c := checkRouting(calls, f, time.Second); c.Failed != 0 || c.Unverifiable != 1 {
		t.Errorf("with a 1 s lag: %+v", c)
	}
}

// Another caller (here of the same number) waiting in the queue meanwhile may
// have held the owner unseen: undecidable, not a misroute.
func TestRoutingCheckOtherCallerWaiting(t *testing.T) {
	t0 := time.Now()
	f := newFleet([]fleetWorker{{Name: "alice", DID: "+15125550101", Contact: "client:alice", Available: true}})
	waiting := &callRecord{CallSID: "CA1", To: "+15125550101", FirstOffer: "queue",
		IncomingSent: t0.Add(-20 * time.Second), IncomingDone: t0.Add(-20 * time.Second),
		Waits: [][2]time.Time{{t0.Add(-20 * time.Second), t0.Add(5 * time.Second)}}}
	next := &callRecord{CallSID: "CA2", To: "+15125550101", FirstOffer: "queue",
		IncomingSent: t0, IncomingDone: t0.Add(10 * time.Millisecond)}
	// (The first call itself found nobody waiting: its owner should have rung.)
	if c := checkRouting([]*callRecord{waiting, next}, f, 0); c.Failed != 1 || c.FailedCalls[0][0] != "CA1" || c.Unverifiable != 1 {
		t.Errorf("%+v", c)
	}
	waiting.Waits = nil // nobody else waited: the idle owner should have been rung
	if c := checkRouting([]*callRecord{waiting, next}, f, 0); c.Failed != 2 {
		t.Errorf("%+v", c)
	}
}
