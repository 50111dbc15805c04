package numbers_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/didrouter/didrouter/numbers"
	"github.com/didrouter/didrouter/numbers/numberstest"
)

const oldFlow = "https://webhooks.twilio.com/v1/Accounts/" + accountSID + "/Flows/FW0123"

// fill gives the account n numbers, with overrides for some of them.
func fill(f *numberstest.Fake, n int, override map[int]numberstest.Number) []string {
	var phones []string
	for i := 0; i < n; i++ {
		num := numberstest.Number{PhoneNumber: fmt.Sprintf("+1512555%04d", 1000+i), VoiceURL: oldFlow, VoiceMethod: "POST"}
		if o, ok := override[i]; ok {
			o.PhoneNumber = num.PhoneNumber
			num = o
		}
		f.AddIncoming(num)
		phones = append(phones, num.PhoneNumber)
	}
	return phones
}

func TestPoint(t *testing.T) {
	f, a := setup(t)
	f.SetMaxPageSize(50) // 120 numbers: three pages
	phones := fill(f, 120, map[int]numberstest.Number{
		1: {VoiceURL: hooks.VoiceURL, VoiceMethod: "POST", StatusCallback: hooks.StatusCallback, StatusCallbackMethod: "POST"},
		2: {VoiceURL: oldFlow, VoiceMethod: "POST", VoiceApplicationSID: "AP0123456789abcdef0123456789abcdef"},
		3: {TrunkSID: "TK0123456789abcdef0123456789abcdef"},
		4: {VoiceURL: hooks.VoiceURL, VoiceMethod: "GET"},
	})
	mainLine, done, app, trunk, getMethod, broken := phones[0], phones[1], phones[2], phones[3], phones[4], phones[5]
	var brokenSID string
	for _, n := range f.Incoming() {
		if n.PhoneNumber == broken {
			brokenSID = n.SID
		}
	}
	f.SetFault(func(r numberstest.Request) *numberstest.Fault {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, brokenSID+".json") {
			return &numberstest.Fault{Status: 500, Code: 20500, Message: "Internal Server Error"}
		}
		return nil
	})

	// Dry run: the changes are reported, nothing is sent.
	before := f.Incoming()
	res, err := a.Point(context.Background(), numbers.PointRequest{Hooks: hooks, Except: map[string]bool{mainLine: true}, DryRun: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != 120 || res.Count(numbers.PointWouldUpdate) != 117 || res.Count(numbers.PointUnchanged) != 1 ||
		res.Count(numbers.PointExcepted) != 1 || res.Count(numbers.PointFailed) != 1 {
		t.Fatalf("dry run: %d changes, would update %d, unchanged %d, excepted %d, failed %d", len(res.Changes),
			res.Count(numbers.PointWouldUpdate), res.Count(numbers.PointUnchanged), res.Count(numbers.PointExcepted), res.Count(numbers.PointFailed))
	}
	for _, r := range f.Requests() {
		if r.Method != http.MethodGet {
			t.Fatalf("dry run sent %s %s", r.Method, r.Path)
		}
	}
	if after := f.Incoming(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatal("dry run changed the account")
	}
	for _, c := range res.Changes {
		if c.Before.PhoneNumber == app && !strings.Contains(c.Diff(), "TwiML app AP") {
			t.Errorf("app diff: %s", c.Diff())
		}
		if c.Before.PhoneNumber == getMethod && !strings.HasPrefix(c.Diff(), "voice GET "+hooks.VoiceURL+" -> POST "+hooks.VoiceURL+";") {
			t.Errorf("method diff: %s", c.Diff())
		}
	}
	pages := 0
	for _, r := range f.Requests() {
		if r.Path == path("IncomingPhoneNumbers.json") {
			pages++
		}
	}
	if pages != 3 {
		t.Errorf("listed %d pages, want 3", pages)
	}

	// The real run.
	n0 := len(f.Requests())
	var seen []string
	res, err = a.Point(context.Background(), numbers.PointRequest{Hooks: hooks, Except: map[string]bool{mainLine: true, "+15125550000": true}},
		func(c numbers.Change) { seen = append(seen, c.Before.PhoneNumber) })
	if err != nil {
		t.Fatal(err)
	}
	if res.Count(numbers.PointUpdated) != 116 || res.Count(numbers.PointFailed) != 2 || res.Count(numbers.PointUnchanged) != 1 ||
		res.Count(numbers.PointExcepted) != 1 || len(seen) != 120 {
		t.Fatalf("updated %d failed %d unchanged %d excepted %d, progress %d", res.Count(numbers.PointUpdated),
			res.Count(numbers.PointFailed), res.Count(numbers.PointUnchanged), res.Count(numbers.PointExcepted), len(seen))
	}
	if len(res.UnknownExcept) != 1 || res.UnknownExcept[0] != "+15125550000" {
		t.Errorf("unknown except: %v", res.UnknownExcept)
	}
	updates := map[string]numberstest.Request{}
	for _, r := range f.Requests()[n0:] {
		if r.Method == http.MethodPost {
			updates[r.Path] = r
		}
	}
	if len(updates) != 117 { // 116 and the broken one
		t.Errorf("%d updates sent, want 117", len(updates))
	}
	for _, n := range f.Incoming() {
		r, sent := updates[path("IncomingPhoneNumbers/"+n.SID+".json")]
		switch n.PhoneNumber {
		case mainLine, done, trunk:
			if sent {
				t.Errorf("%s updated", n.PhoneNumber)
			}
			if n.PhoneNumber == mainLine && n.VoiceURL != oldFlow {
				t.Errorf("main line changed: %+v", n)
			}
			continue
		case broken:
			if n.VoiceURL != oldFlow {
				t.Errorf("broken number changed: %+v", n)
			}
			continue
		}
		if !sent {
			t.Errorf("%s not updated", n.PhoneNumber)
			continue
		}
		for k, v := range map[string]string{"VoiceUrl": hooks.VoiceURL, "VoiceMethod": "POST", "StatusCallback": hooks.StatusCallback, "StatusCallbackMethod": "POST"} {
			if r.Form.Get(k) != v {
				t.Errorf("%s: %s=%q", n.PhoneNumber, k, r.Form.Get(k))
			}
		}
		_, clears := r.Form["VoiceApplicationSid"]
		if clears != (n.PhoneNumber == app) {
			t.Errorf("%s: VoiceApplicationSid sent: %v", n.PhoneNumber, clears)
		}
		if n.VoiceURL != hooks.VoiceURL || n.VoiceApplicationSID != "" || n.StatusCallback != hooks.StatusCallback {
			t.Errorf("%s after: %+v", n.PhoneNumber, n)
		}
	}
	checkAuth(t, f)
}

// Without a status callback, callbacks are left as they are.
func TestPointVoiceOnly(t *testing.T) {
	f, a := setup(t)
	fill(f, 3, map[int]numberstest.Number{0: {VoiceURL: oldFlow, StatusCallback: "https://old.example.com/status", StatusCallbackMethod: "GET"}})
	res, err := a.Point(context.Background(), numbers.PointRequest{Hooks: numbers.Webhooks{VoiceURL: hooks.VoiceURL}}, nil)
	if err != nil || res.Count(numbers.PointUpdated) != 3 {
		t.Fatalf("%v %+v", err, res)
	}
	for _, r := range f.Requests() {
		if _, ok := r.Form["StatusCallback"]; ok {
			t.Errorf("status callback sent: %v", r.Form)
		}
	}
	if n := f.Incoming()[0]; n.StatusCallback != "https://old.example.com/status" {
		t.Errorf("status callback changed: %+v", n)
	}
	if _, err := a.Point(context.Background(), numbers.PointRequest{Hooks: numbers.Webhooks{VoiceURL: "ftp://x"}}, nil); err == nil {
		t.Error("ftp voice URL accepted")
	}
}
