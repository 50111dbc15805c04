package numbers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/didrouter/didrouter/numbers"
	"github.com/didrouter/didrouter/numbers/numberstest"
)

// adminAPI serves workspaces and workers in TaskRouter v1 shapes, one
// item per page, with next_page_url on another host (as a server behind a
// proxy builds them from its public URL).
func adminAPI(t *testing.T, workers map[string][]map[string]string) (*httptest.Server, *[]string) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.RequestURI())
		mu.Unlock()
		if k, s, ok := r.BasicAuth(); !ok || k != "key" || s != "secret" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"code":20003,"message":"Authentication Error - invalid username","status":401}`))
			return
		}
		page, _ := strconv.Atoi(r.URL.Query().Get("Page"))
		var items []map[string]string
		key := "workspaces"
		if ws, ok := strings.CutPrefix(r.URL.Path, "/v1/Workspaces/"); ok {
			key = "workers"
			items = workers[strings.TrimSuffix(ws, "/Workers")]
		} else {
			for sid := range workers {
				items = append(items, map[string]string{"sid": sid, "friendly_name": "Space " + sid})
			}
			if len(items) > 1 && items[0]["sid"] > items[1]["sid"] {
				items[0], items[1] = items[1], items[0]
			}
		}
		var next *string
		if page+1 < len(items) {
			s := fmt.Sprintf("https://public.example.com%s?PageSize=1&Page=%d&PageToken=x", r.URL.Path, page+1)
			next = &s
		}
		var list []map[string]string
		if page < len(items) {
			list = items[page : page+1]
		}
		_ = json.NewEncoder(w).Encode(map[string]any{key: list, "meta": map[string]any{"next_page_url": next, "key": key}})
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

func TestList(t *testing.T) {
	f, a := setup(t)
	f.SetMaxPageSize(2)
	fill(f, 5, map[int]numberstest.Number{3: {VoiceApplicationSID: "AP0123456789abcdef0123456789abcdef"}})
	srv, seen := adminAPI(t, map[string][]map[string]string{
		"WS1": {
			{"sid": "WK1", "friendly_name": "alice", "attributes": `{"phone_number":"+15125551000","contact_uri":"client:alice"}`},
			{"sid": "WK2", "friendly_name": "bob", "attributes": `{"contact_uri":"client:bob"}`},
			{"sid": "WK3", "friendly_name": "carol", "attributes": `{"phone_number":"+15125559999"}`},
		},
		"WS2": {
			{"sid": "WK4", "friendly_name": "dave", "attributes": `{"phone_number":"+15125551002"}`},
			{"sid": "WK5", "friendly_name": "erin", "attributes": `not json`},
		},
	})
	dir, err := numbers.NewDirectory(srv.URL+"/", "key", "secret")
	if err != nil {
		t.Fatal(err)
	}
	l, err := a.List(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Numbers) != 5 || !l.OwnersLookedUp {
		t.Fatalf("%d numbers", len(l.Numbers))
	}
	owner := func(i int) string {
		var names []string
		for _, o := range l.Numbers[i].Owners {
			names = append(names, o.WorkerName+"@"+o.WorkspaceSID)
		}
		return strings.Join(names, ",")
	}
	if owner(0) != "alice@WS1" || owner(1) != "" || owner(2) != "dave@WS2" || l.Numbers[1].Owners == nil {
		t.Errorf("owners: %q %q %q", owner(0), owner(1), owner(2))
	}
	if l.Numbers[3].VoiceApplicationSID == "" || l.Numbers[0].VoiceURL != oldFlow {
		t.Errorf("numbers: %+v", l.Numbers)
	}
	if len(l.Orphans) != 1 || l.Orphans[0].WorkerName != "carol" {
		t.Errorf("orphans: %+v", l.Orphans)
	}
	// Every page was followed, on the host the user named.
	if len(*seen) != 2+3+2 {
		t.Errorf("admin API requests: %v", *seen)
	}

	l, err = a.List(context.Background(), nil)
	if err != nil || l.OwnersLookedUp || l.Numbers[0].Owners != nil {
		t.Fatalf("without directory: %v %+v", err, l)
	}

	bad, _ := numbers.NewDirectory(srv.URL, "key", "wrong")
	if _, err := a.List(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "DIDROUTER_API_SECRET") {
		t.Errorf("wrong secret: %v", err)
	}
}

func TestCredentialsFromEnv(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	for _, tc := range []struct {
		env     func(string) string
		user    string
		wantErr string
	}{
		{env(), "", "TWILIO_ACCOUNT_SID is not set"},
		{env("TWILIO_ACCOUNT_SID", accountSID), "", "TWILIO_AUTH_TOKEN is not set"},
		{env("TWILIO_ACCOUNT_SID", "SK123", "TWILIO_AUTH_TOKEN", "x"), "", "starts with AC"},
		{env("TWILIO_ACCOUNT_SID", accountSID, "TWILIO_API_KEY", "SK1"), "", "TWILIO_API_SECRET"},
		{env("TWILIO_ACCOUNT_SID", accountSID, "TWILIO_API_SECRET", "s"), "", "TWILIO_API_KEY"},
		{env("TWILIO_ACCOUNT_SID", accountSID, "TWILIO_AUTH_TOKEN", "tok"), accountSID, ""},
		{env("TWILIO_ACCOUNT_SID", accountSID, "TWILIO_AUTH_TOKEN", "tok", "TWILIO_API_KEY", "SK1", "TWILIO_API_SECRET", "s"), "SK1", ""},
	} {
		c, err := numbers.CredentialsFromEnv(tc.env)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("want error with %q, got %v", tc.wantErr, err)
			}
			continue
		}
		if err != nil || c.Username != tc.user || c.AccountSID != accountSID {
			t.Errorf("%+v %v", c, err)
		}
	}
}

// An API key authenticates as itself for the account.
func TestAPIKeyAuth(t *testing.T) {
	t.Setenv("TWILIO_EDGE", "")
	t.Setenv("TWILIO_REGION", "")
	f := numberstest.New(t, accountSID, "SK0123456789abcdef0123456789abcdef", "keysecret")
	fill(f, 1, nil)
	a, err := numbers.NewAccount(numbers.Credentials{AccountSID: accountSID, Username: "SK0123456789abcdef0123456789abcdef", Password: "keysecret"},
		numbers.Options{BaseURL: mustURL(t, f.URL())})
	if err != nil {
		t.Fatal(err)
	}
	got, err := a.Incoming(context.Background())
	if err != nil || len(got) != 1 {
		t.Fatalf("%v %+v", err, got)
	}
	a, _ = numbers.NewAccount(numbers.Credentials{AccountSID: accountSID, Username: accountSID, Password: "wrong"},
		numbers.Options{BaseURL: mustURL(t, f.URL())})
	_, err = a.Incoming(context.Background())
	if e, ok := numbers.RESTError(err); !ok || e.Status != 401 {
		t.Fatalf("wrong secret: %v", err)
	}
}

func TestJournalSkipsTornLine(t *testing.T) {
	jpath := journalPath(t)
	j, _, err := numbers.OpenJournal(jpath)
	if err != nil {
		t.Fatal(err)
	}
	_ = j.Append(numbers.Entry{Order: "US/local", Event: numbers.EventBought, PhoneNumber: "+15125550100", SID: "PN1"})
	j.Close()
	// A crash mid-write leaves half a line.
	if err := appendRaw(jpath, `{"order":"US/local","event":"int`); err != nil {
		t.Fatal(err)
	}
	entries, err := numbers.ReadJournal(jpath)
	if err != nil || len(entries) != 1 || entries[0].SID != "PN1" {
		t.Fatalf("%v %+v", err, entries)
	}
	// The next entry is not glued to the torn line.
	j, _, err = numbers.OpenJournal(jpath)
	if err != nil {
		t.Fatal(err)
	}
	_ = j.Append(numbers.Entry{Order: "US/local", Event: numbers.EventIntent, PhoneNumber: "+15125550101"})
	j.Close()
	entries, err = numbers.ReadJournal(jpath)
	if err != nil || len(entries) != 2 || entries[1].PhoneNumber != "+15125550101" {
		t.Fatalf("after repair: %v %+v", err, entries)
	}
}

func appendRaw(path, s string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteString(s)
	return err
}
