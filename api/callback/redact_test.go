package callback_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/didrouter/didrouter/api/callback"
)

func TestRedact(t *testing.T) {
	for raw, want := range map[string]string{
		"https://hooks.example.com/events":                                 "https://hooks.example.com/events",
		"https://bob:hunter2@hooks.example.com/events":                     "https://bob:redacted@hooks.example.com/events",
		"https://bob@hooks.example.com/events":                             "https://bob@hooks.example.com/events",
		"https://h.example/e?token=abc&team=blue&Sig=x&X-Api-Key=k&pw":     "https://h.example/e?token=redacted&team=blue&Sig=redacted&X-Api-Key=redacted&pw",
		"https://h.example/e?access_token=a&client_secret=b&password=c":    "https://h.example/e?access_token=redacted&client_secret=redacted&password=redacted",
		"https://h.example/e?AUTHORIZATION=a&signature=b&sessionid=c&q=ok": "https://h.example/e?AUTHORIZATION=redacted&signature=redacted&sessionid=redacted&q=ok",
		"https://h.example/e?to%6Ben=a":                                    "https://h.example/e?to%6Ben=redacted",
		"https://h.example/e#access_token=abc":                             "https://h.example/e#redacted",
		"http://[::1":                                                      "(unparsable URL)",
	} {
		if got := callback.Redact(raw); got != want {
			t.Errorf("Redact(%q) = %q, want %q", raw, got, want)
		}
	}
}

// The API shows a stored password as "redacted"; sending that URL back
// keeps the stored password; the marker on any other URL is refused, so the
// stored password cannot be carried to another host or user.
func TestHiddenPassword(t *testing.T) {
	stored := "https://bob:hunter2@hooks.example.com/events?team=blue"
	shown := callback.HidePassword(stored)
	if shown != "https://bob:redacted@hooks.example.com/events?team=blue" {
		t.Fatalf("HidePassword = %q", shown)
	}
	for _, u := range []string{"https://hooks.example.com/x", "https://bob@hooks.example.com/x", "not a url\x7f"} {
		if got := callback.HidePassword(u); got != u {
			t.Errorf("HidePassword(%q) = %q", u, got)
		}
	}
	if got, err := callback.KeepHiddenPassword(shown, stored); err != nil || got != stored {
		t.Errorf("sent back as shown: %q %v, want the stored URL", got, err)
	}
	if got, err := callback.KeepHiddenPassword("https://bob:new@hooks.example.com/x", stored); err != nil || got != "https://bob:new@hooks.example.com/x" {
		t.Errorf("a new password: %q %v", got, err)
	}
	for _, next := range []string{
		"https://bob:redacted@evil.example/events?team=blue",
		"https://eve:redacted@hooks.example.com/events?team=blue",
		"https://bob:redacted@hooks.example.com/events?team=red",
	} {
		if got, err := callback.KeepHiddenPassword(next, stored); !errors.Is(err, callback.ErrHiddenPassword) {
			t.Errorf("KeepHiddenPassword(%q) = %q %v, want ErrHiddenPassword", next, got, err)
		}
	}
	if _, err := callback.KeepHiddenPassword(shown, ""); !errors.Is(err, callback.ErrHiddenPassword) {
		t.Errorf("the marker with nothing stored: %v", err)
	}
	// A stored password that is the marker itself is kept when sent back.
	if got, err := callback.KeepHiddenPassword("https://bob:redacted@h.example/", "https://bob:redacted@h.example/"); err != nil || got != "https://bob:redacted@h.example/" {
		t.Errorf("stored marker: %q %v", got, err)
	}
}

// Redact never lets a URL's password, or the value of a secret-looking
// query key, through; HidePassword never lets the password through; Check
// never panics and passes only absolute http(s) URLs.
func FuzzCallbackURL(f *testing.F) {
	for _, s := range []string{
		"https://bob:hunter2@hooks.example.com/events?token=abc&team=blue",
		"http://[::1]:8080/webhooks/voice/incoming?greeted=1&CallSid=CAforged",
		"https://h.example/e?to%6Ben=a#frag",
		"https://a:b@c@d/e?f=g;h=i",
		"http://%41:%42@x/",
	} {
		f.Add(s)
	}
	p, err := callback.NewPolicy(callback.PolicyConfig{PublicURL: "https://calls.example.com", ListenAddr: ":8080",
		Hosts: []string{"hooks.example.com", "*.corp.example"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if err := p.Check(raw); err == nil {
			u, perr := url.Parse(raw)
			if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
				t.Fatalf("Check accepted %q", raw)
			}
		} else if !errors.Is(err, callback.ErrRefused) {
			t.Fatalf("Check(%q) = %v, not ErrRefused", raw, err)
		}
		u, err := url.Parse(raw)
		if err != nil {
			if got := callback.Redact(raw); got != "(unparsable URL)" {
				t.Fatalf("Redact(%q) = %q", raw, got)
			}
			return
		}
		red, err := url.Parse(callback.Redact(raw))
		if err != nil {
			t.Fatalf("Redact(%q) = %q does not parse: %v", raw, callback.Redact(raw), err)
		}
		if _, had := u.User.Password(); had {
			if pw, _ := red.User.Password(); pw != callback.Redacted {
				t.Fatalf("Redact(%q) keeps password %q", raw, pw)
			}
			hidden, err := url.Parse(callback.HidePassword(raw))
			if err != nil {
				t.Fatalf("HidePassword(%q) does not parse: %v", raw, err)
			}
			if pw, _ := hidden.User.Password(); pw != callback.Redacted {
				t.Fatalf("HidePassword(%q) keeps password %q", raw, pw)
			}
		}
		for k, vs := range red.Query() {
			for _, v := range vs {
				lk := strings.ToLower(k)
				if (strings.Contains(lk, "token") || strings.Contains(lk, "secret") || strings.Contains(lk, "key")) &&
					v != callback.Redacted && v != "" {
					t.Fatalf("Redact(%q) keeps %s=%q", raw, k, v)
				}
			}
		}
	})
}
