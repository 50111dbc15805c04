package numbers_test

import (
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/didrouter/didrouter/numbers"
	"github.com/didrouter/didrouter/numbers/numberstest"
)

const (
	accountSID = "AC0123456789abcdef0123456789abcdef"
	authToken  = "authtoken0123"
)

// setup starts a fake Twilio and an Account pointed at it with the real
// twilio-go client.
func setup(t *testing.T) (*numberstest.Fake, *numbers.Account) {
	t.Helper()
	// The client reads these; they must not send it to a regional host.
	t.Setenv("TWILIO_EDGE", "")
	t.Setenv("TWILIO_REGION", "")
	f := numberstest.New(t, accountSID, accountSID, authToken)
	base, err := numbers.ParseBaseURL(f.URL())
	if err != nil {
		t.Fatal(err)
	}
	a, err := numbers.NewAccount(numbers.Credentials{AccountSID: accountSID, Username: accountSID, Password: authToken},
		numbers.Options{BaseURL: base, RetryDelay: time.Millisecond, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return f, a
}

// austin returns n numbers for sale in area code 512: +1512555NNNN from 0100.
func austin(n int) []numberstest.Available {
	out := make([]numberstest.Available, n)
	for i := range out {
		out[i] = numberstest.Available{PhoneNumber: fmt.Sprintf("+1512555%04d", 100+i), Locality: "Austin", Region: "TX"}
	}
	return out
}

func journalPath(t *testing.T) string { return filepath.Join(t.TempDir(), "journal.jsonl") }

// checkAuth asserts every request carried the account's Basic auth.
func checkAuth(t *testing.T, f *numberstest.Fake) {
	t.Helper()
	for _, r := range f.Requests() {
		if r.User != accountSID || r.Password != authToken {
			t.Errorf("%s %s: Basic auth %q/%q", r.Method, r.Path, r.User, r.Password)
		}
	}
}

// checkNoDuplicates asserts the account holds each number once, and
// returns how many it holds.
func checkNoDuplicates(t *testing.T, f *numberstest.Fake) int {
	t.Helper()
	var seen []string
	for _, n := range f.Incoming() {
		if slices.Contains(seen, n.PhoneNumber) {
			t.Errorf("%s bought twice", n.PhoneNumber)
		}
		seen = append(seen, n.PhoneNumber)
	}
	return len(seen)
}

func path(kind string) string {
	return "/2010-04-01/Accounts/" + accountSID + "/" + kind
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
