package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/numbers"
	"github.com/didrouter/didrouter/numbers/numberstest"
)

const (
	testAccount = "AC0123456789abcdef0123456789abcdef"
	testToken   = "authtoken0123"
	voiceHook   = "https://calls.example.com/webhooks/voice/incoming"
	statusHook  = "https://calls.example.com/webhooks/voice/status"
)

// numbersEnv is a fake Twilio and the environment that points the real
// twilio-go client at it.
type numbersEnv struct {
	t    *testing.T
	fake *numberstest.Fake
	env  map[string]string
}

func newNumbersEnv(t *testing.T) *numbersEnv {
	t.Setenv("TWILIO_EDGE", "")
	t.Setenv("TWILIO_REGION", "")
	f := numberstest.New(t, testAccount, testAccount, testToken)
	return &numbersEnv{t: t, fake: f, env: map[string]string{
		"TWILIO_ACCOUNT_SID":        testAccount,
		"TWILIO_AUTH_TOKEN":         testToken,
		"DIDROUTER_TWILIO_BASE_URL": f.URL(),
	}}
}

// run runs "didrouter numbers args…" and returns exit code, stdout, stderr.
func (e *numbersEnv) run(stdin string, args ...string) (int, string, string) {
	return e.runCtx(context.Background(), stdin, args...)
}

func (e *numbersEnv) runCtx(ctx context.Context, stdin string, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	cmd := numbersCommand{
		getenv: func(k string) string { return e.env[k] },
		clock:  didrouter.SystemClock{},
		twilio: numbers.Options{RetryDelay: time.Millisecond},
	}
	code := cmd.run(ctx, args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func saleNumbers(prefix string, n int) []numberstest.Available {
	out := make([]numberstest.Available, n)
	for i := range out {
		out[i] = numberstest.Available{PhoneNumber: fmt.Sprintf("%s%04d", prefix, 100+i), Locality: "Austin", Region: "TX"}
	}
	return out
}

func mustContain(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s lacks %q:\n%s", what, sub, s)
		}
	}
}

func distinctBought(f *numberstest.Fake) int {
	seen := map[string]bool{}
	for _, n := range f.Incoming() {
		seen[n.PhoneNumber] = true
	}
	return len(seen)
}

// Fewer for sale than asked: it says so, asks for the number on sale, and
// buys exactly those.
func TestNumbersBuyShortSupply(t *testing.T) {
	e := newNumbersEnv(t)
	e.fake.AddAvailable("US", "Local", saleNumbers("+1512555", 4)...)
	e.fake.AddAvailable("US", "Local", saleNumbers("+1737555", 30)...)
	jpath := filepath.Join(t.TempDir(), "j.jsonl")
	code, out, errOut := e.run("y\n", "buy", "--area-code", "512", "--count", "10", "--journal", jpath,
		"--voice-url", voiceHook, "--status-callback", statusHook)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	mustContain(t, "stdout", out, "only 4 of the 10 numbers needed are for sale", "bought 4 of 4", "6 short")
	mustContain(t, "stderr", errOut, "cost money", "Buy 4 numbers", "monthly fee", "[y/N]", "bought 1/4 +1512555", "bought 4/4 +1512555")
	if got := e.fake.Incoming(); len(got) != 4 || !strings.HasPrefix(got[0].PhoneNumber, "+1512555") || got[0].VoiceURL != voiceHook {
		t.Fatalf("account: %+v", got)
	}
	for _, r := range e.fake.Purchases() {
		if r.Form.Get("VoiceUrl") != voiceHook || r.Form.Get("StatusCallback") != statusHook || r.Form.Get("VoiceMethod") != "POST" {
			t.Errorf("purchase form: %v", r.Form)
		}
	}
}

// No, no answer, and a stdin that is not a terminal all buy nothing.
func TestNumbersBuyNeedsConfirmation(t *testing.T) {
	e := newNumbersEnv(t)
	e.fake.AddAvailable("US", "Local", saleNumbers("+1512555", 5)...)
	dir := t.TempDir()
	code, out, _ := e.run("n\n", "buy", "--count", "2", "--journal", filepath.Join(dir, "j"))
	if code != 1 || !strings.Contains(out, "not confirmed: nothing bought") {
		t.Errorf("no: %d %s", code, out)
	}
	code, _, errOut := e.run("", "buy", "--count", "2", "--journal", filepath.Join(dir, "j"))
	if code != 1 || !strings.Contains(errOut, "--yes") {
		t.Errorf("no answer: %d %s", code, errOut)
	}
	// A file on stdin is not a terminal: refused before asking.
	f, err := os.Create(filepath.Join(dir, "stdin"))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString("y\n")
	_, _ = f.Seek(0, 0)
	defer f.Close()
	var so, se bytes.Buffer
	cmd := numbersCommand{getenv: func(k string) string { return e.env[k] }, clock: didrouter.SystemClock{}}
	code = cmd.run(context.Background(), []string{"buy", "--count", "2", "--journal", filepath.Join(dir, "j")}, f, &so, &se)
	if code != 1 || !strings.Contains(se.String(), "not a terminal") || !strings.Contains(se.String(), "--yes") {
		t.Errorf("file stdin: %d %s", code, se.String())
	}
	if len(e.fake.Purchases()) != 0 || len(e.fake.Incoming()) != 0 {
		t.Fatal("bought without confirmation")
	}
}

// --dry-run searches, shows, buys nothing and writes no journal.
func TestNumbersBuyDryRun(t *testing.T) {
	e := newNumbersEnv(t)
	e.fake.AddAvailable("US", "Local", saleNumbers("+1512555", 5)...)
	jpath := filepath.Join(t.TempDir(), "j")
	code, out, _ := e.run("", "buy", "--area-code", "512", "--count", "3", "--dry-run", "--journal", jpath)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	mustContain(t, "stdout", out, "would buy 3 numbers", "+15125550100  Austin, TX", "nothing bought")
	for _, r := range e.fake.Requests() {
		if r.Method != http.MethodGet {
			t.Errorf("dry run sent %s %s", r.Method, r.Path)
		}
	}
	if _, err := os.Stat(jpath); !os.IsNotExist(err) {
		t.Errorf("dry run wrote the journal: %v", err)
	}
}

// 60 numbers over several pages; Twilio fails the 3rd purchase. The
// summary lists what was bought and what was not; the rerun (default
// journal path) buys only the rest and nothing twice.
func TestNumbersBuyFailureThenRetry(t *testing.T) {
	t.Chdir(t.TempDir())
	e := newNumbersEnv(t)
	e.fake.SetMaxPageSize(25)
	e.fake.AddAvailable("US", "Local", saleNumbers("+1512555", 70)...)
	var n atomic.Int32
	e.fake.SetFault(func(r numberstest.Request) *numberstest.Fault {
		if numberstest.IsPurchase(r) && n.Add(1) == 3 {
			return &numberstest.Fault{Status: 500, Code: 20500, Message: "Internal Server Error"}
		}
		return nil
	})
	code, out, errOut := e.run("", "buy", "--country", "US", "--area-code", "512", "--count", "60", "--yes")
	if code != 1 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	mustContain(t, "stdout", out, "not bought", "Twilio answered 500, error 20500", "not attempted", "run the same command again")
	mustContain(t, "stderr", errOut, "failed ")
	first := len(e.fake.Incoming())
	if first < 2 || first >= 60 {
		t.Fatalf("first run bought %d", first)
	}
	mustContain(t, "stdout", out, fmt.Sprintf("bought %d of 60", first))
	if _, err := os.Stat(defaultJournal); err != nil {
		t.Fatalf("default journal: %v", err)
	}

	e.fake.SetFault(nil)
	code, out, errOut = e.run("", "buy", "--country", "US", "--area-code", "512", "--count", "60", "--yes")
	if code != 0 {
		t.Fatalf("rerun exit %d\n%s\n%s", code, out, errOut)
	}
	mustContain(t, "stdout", out, fmt.Sprintf("records %d numbers of this order as bought", first),
		fmt.Sprintf("bought %d of %d", 60-first, 60-first), "the order now has 60 of 60")
	if len(e.fake.Incoming()) != 60 || distinctBought(e.fake) != 60 {
		t.Fatalf("account has %d numbers (%d distinct), want 60", len(e.fake.Incoming()), distinctBought(e.fake))
	}
	// A third run buys nothing.
	before := len(e.fake.Purchases())
	code, out, _ = e.run("", "buy", "--country", "US", "--area-code", "512", "--count", "60", "--yes")
	if code != 0 || !strings.Contains(out, "nothing to buy") || len(e.fake.Purchases()) != before {
		t.Fatalf("third run: %d %s", code, out)
	}
	// Every request: the account's Basic auth, under the account's path.
	for _, r := range e.fake.Requests() {
		if r.User != testAccount || r.Password != testToken || !strings.HasPrefix(r.Path, "/2010-04-01/Accounts/"+testAccount+"/") {
			t.Errorf("request %s %s as %s", r.Method, r.Path, r.User)
		}
	}
}

// Ctrl-C during a long run: buying stops, the summary is printed.
func TestNumbersBuyInterrupted(t *testing.T) {
	e := newNumbersEnv(t)
	e.fake.AddAvailable("US", "Local", saleNumbers("+1512555", 40)...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var n atomic.Int32
	e.fake.SetFault(func(r numberstest.Request) *numberstest.Fault {
		if numberstest.IsPurchase(r) && n.Add(1) == 5 {
			cancel() // the user presses Ctrl-C while the 5th purchase is on its way
		}
		return nil
	})
	code, out, errOut := e.runCtx(ctx, "", "buy", "--count", "40", "--yes", "--journal", filepath.Join(t.TempDir(), "j"))
	if code != 1 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	bought := len(e.fake.Incoming())
	mustContain(t, "stdout", out, "stopped: interrupted", fmt.Sprintf("bought %d of 40", bought), "not attempted")
	if bought < 5 || bought > 8 {
		t.Errorf("bought %d after the interrupt at the 5th", bought)
	}
}

func TestNumbersBadInput(t *testing.T) {
	e := newNumbersEnv(t)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"buy"}, 2, "--count is required"},
		{[]string{"buy", "--count", "5", "--type", "landline"}, 2, "local, mobile or toll-free"},
		{[]string{"buy", "--count", "5", "--country", "USA"}, 2, "two-letter"},
		{[]string{"buy", "--count", "5000"}, 2, "1 to 1000"},
		{[]string{"buy", "--count", "5", "--area-code", "5x2"}, 2, "--area-code"},
		{[]string{"buy", "--count", "5", "--voice-url", "calls.example.com"}, 2, "absolute"},
		{[]string{"point"}, 2, "--voice-url is required"},
		{[]string{"point", "--voice-url", voiceHook, "--except", "main line"}, 2, "--except"},
		{[]string{"list", "--didrouter-url", "http://127.0.0.1:1"}, 2, "DIDROUTER_API_KEY"},
		{[]string{"frobnicate"}, 2, "unknown subcommand"},
		{nil, 2, "usage: didrouter numbers"},
	} {
		code, _, errOut := e.run("", tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errOut, tc.code, tc.msg)
		}
	}
	delete(e.env, "TWILIO_AUTH_TOKEN")
	code, _, errOut := e.run("", "list")
	if code != 1 || !strings.Contains(errOut, "TWILIO_AUTH_TOKEN is not set") {
		t.Errorf("missing token: %d %s", code, errOut)
	}
	if len(e.fake.Requests()) != 0 {
		t.Error("bad input reached Twilio")
	}
}

func TestNumbersPoint(t *testing.T) {
	e := newNumbersEnv(t)
	e.fake.SetMaxPageSize(10)
	const flow = "https://webhooks.twilio.com/v1/Accounts/" + testAccount + "/Flows/FW0123"
	for i := 0; i < 25; i++ {
		n := numberstest.Number{PhoneNumber: fmt.Sprintf("+1512555%04d", 1000+i), VoiceURL: flow, VoiceMethod: "POST"}
		if i == 1 {
			n.VoiceURL, n.StatusCallback, n.StatusCallbackMethod = voiceHook, statusHook, "POST"
		}
		e.fake.AddIncoming(n)
	}
	e.env["DIDROUTER_PUBLIC_URL"] = "https://calls.example.com/"
	// The main line, written nationally.
	code, out, errOut := e.run("", "point", "--except", "(512) 555-1000", "--dry-run")
	if code != 0 {
		t.Fatalf("dry run exit %d\n%s\n%s", code, out, errOut)
	}
	mustContain(t, "dry run", out,
		"would update  +15125551002  voice POST "+flow+" -> POST "+voiceHook+"; status callback (none) -> POST "+statusHook,
		"unchanged     +15125551001", "excepted      +15125551000  left as is (POST "+flow+")",
		"25 numbers: would update 23, unchanged 1, excepted 1", "dry run: nothing changed")
	for _, r := range e.fake.Requests() {
		if r.Method != http.MethodGet {
			t.Fatalf("dry run sent %s %s", r.Method, r.Path)
		}
	}

	var brokenSID string
	for _, n := range e.fake.Incoming() {
		if n.PhoneNumber == "+15125551007" {
			brokenSID = n.SID
		}
	}
	e.fake.SetFault(func(r numberstest.Request) *numberstest.Fault {
		if r.Method == http.MethodPost && strings.Contains(r.Path, brokenSID) {
			return &numberstest.Fault{Status: 400, Code: 21402, Message: "VoiceUrl is not valid"}
		}
		return nil
	})
	code, out, errOut = e.run("", "point", "--except", "(512) 555-1000", "--except", "+15125550000")
	if code != 1 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	mustContain(t, "point", out, "failed        +15125551007  Twilio answered 400, error 21402",
		"updated 22, unchanged 1, excepted 1, failed 1", "note: --except +15125550000 is not a number of this account")
	mustContain(t, "stderr", errOut, "updated +15125551024", "failed +15125551007")
	for _, n := range e.fake.Incoming() {
		pointed := n.VoiceURL == voiceHook && n.StatusCallback == statusHook
		if want := n.PhoneNumber != "+15125551000" && n.PhoneNumber != "+15125551007"; pointed != want {
			t.Errorf("%s: %+v", n.PhoneNumber, n)
		}
	}

	// Again, after the fix: only the one left over is updated.
	e.fake.SetFault(nil)
	n0 := len(e.fake.Requests())
	code, out, _ = e.run("", "point", "--except", "+15125551000")
	if code != 0 || !strings.Contains(out, "updated 1, unchanged 23, excepted 1") {
		t.Fatalf("rerun: %d\n%s", code, out)
	}
	posts := 0
	for _, r := range e.fake.Requests()[n0:] {
		if r.Method == http.MethodPost {
			posts++
			if !strings.Contains(r.Path, brokenSID) || r.Form.Get("VoiceMethod") != "POST" || r.Form.Get("StatusCallbackMethod") != "POST" {
				t.Errorf("update %s %v", r.Path, r.Form)
			}
		}
	}
	if posts != 1 {
		t.Errorf("%d updates on the rerun, want 1", posts)
	}
}

// list against a real didrouter server (SQLite) for the owners.
func TestNumbersList(t *testing.T) {
	e := newNumbersEnv(t)
	e.fake.SetMaxPageSize(2)
	e.fake.AddIncoming(
		numberstest.Number{PhoneNumber: "+15125550101", FriendlyName: "Alice DID", VoiceURL: voiceHook, VoiceMethod: "POST"},
		numberstest.Number{PhoneNumber: "+15125550102", VoiceURL: voiceHook, VoiceMethod: "POST"},
		numberstest.Number{PhoneNumber: "+15125550100", FriendlyName: "Main line", VoiceApplicationSID: "AP0123456789abcdef0123456789abcdef"},
	)
	// Without the admin API: no owner column, with a note.
	code, out, errOut := e.run("", "list")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	mustContain(t, "stderr", errOut, "no owner column", "--didrouter-url")
	mustContain(t, "stdout", out, "NUMBER", "CALLS GO TO", "+15125550100  Main line  TwiML app AP0123", "POST "+voiceHook, "3 numbers")
	if strings.Contains(out, "OWNER") {
		t.Errorf("owner column without the admin API:\n%s", out)
	}

	base, key, secret := startDidrouter(t)
	ws := adminGet(t, base+"/v1/Workspaces", key, secret)["workspaces"].([]any)[0].(map[string]any)["sid"].(string)
	adminPost(t, base+"/v1/Workspaces/"+ws+"/Workers", key, secret, url.Values{"FriendlyName": {"alice"},
		"Attributes": {`{"phone_number":"+15125550101","contact_uri":"client:alice"}`}})
	adminPost(t, base+"/v1/Workspaces/"+ws+"/Workers", key, secret, url.Values{"FriendlyName": {"bob"},
		"Attributes": {`{"contact_uri":"client:bob"}`}})
	adminPost(t, base+"/v1/Workspaces/"+ws+"/Workers", key, secret, url.Values{"FriendlyName": {"carol"},
		"Attributes": {`{"phone_number":"+15125550199"}`}})
	e.env["DIDROUTER_API_KEY"], e.env["DIDROUTER_API_SECRET"] = key, secret

	code, out, errOut = e.run("", "list", "--didrouter-url", base)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	mustContain(t, "table", out, "OWNER", "alice (WK", "worker carol", "DID +15125550199, which is not a number of this account")
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "+15125550102") && !strings.HasSuffix(strings.TrimSpace(line), "-") {
			t.Errorf("unowned number: %q", line)
		}
	}

	code, out, _ = e.run("", "list", "--didrouter-url", base, "--json")
	if code != 0 {
		t.Fatalf("json exit %d: %s", code, out)
	}
	var l numbers.Listing
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if len(l.Numbers) != 3 || !l.OwnersLookedUp || l.Numbers[1].PhoneNumber != "+15125550101" ||
		len(l.Numbers[1].Owners) != 1 || l.Numbers[1].Owners[0].WorkerName != "alice" || len(l.Orphans) != 1 {
		t.Errorf("json: %+v", l)
	}

	e.env["DIDROUTER_API_SECRET"] = "wrong"
	code, _, errOut = e.run("", "list", "--didrouter-url", base)
	if code != 1 || !strings.Contains(errOut, "401") {
		t.Errorf("wrong secret: %d %s", code, errOut)
	}
}

// startDidrouter runs the server on SQLite with the admin API on.
func startDidrouter(t *testing.T) (base, key, secret string) {
	t.Helper()
	key, secret = "numbers-key", "numbers-secret-0123"
	cfg, err := parseConfig("serve", []string{"-addr", "127.0.0.1:0"}, func(k string) string {
		return map[string]string{
			"TWILIO_AUTH_TOKEN":    "tok",
			"DIDROUTER_PUBLIC_URL": "https://calls.example.com",
			"DIDROUTER_API_KEY":    key,
			"DIDROUTER_API_SECRET": secret,
			"DIDROUTER_DATA":       filepath.Join(t.TempDir(), "didrouter.db"),
		}[k]
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, slog.New(slog.DiscardHandler), listening) }()
	select {
	case addr := <-listening:
		base = "http://" + addr
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("serve did not start")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base, key, secret
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("didrouter not ready: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func adminGet(t *testing.T, u, key, secret string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.SetBasicAuth(key, secret)
	return adminDo(t, req)
}

func adminPost(t *testing.T, u, key, secret string, form url.Values) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(key, secret)
	return adminDo(t, req)
}

func adminDo(t *testing.T, req *http.Request) map[string]any {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 || json.Unmarshal(raw, &body) != nil {
		t.Fatalf("%s %s: %s %s", req.Method, req.URL, resp.Status, raw)
	}
	return body
}
