package callback_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/didrouter/didrouter/api/callback"
)

func mustPolicy(t *testing.T, c callback.PolicyConfig) *callback.Policy {
	t.Helper()
	p, err := callback.NewPolicy(c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// didrouter's own public URL (either scheme, default ports alike) and its
// listen port on this machine are refused; other hosts and ports are not.
func TestPolicyRefusesDidrouterItself(t *testing.T) {
	p := mustPolicy(t, callback.PolicyConfig{PublicURL: "https://Calls.Example.com", ListenAddr: "0.0.0.0:8080",
		LocalIPs: []netip.Addr{netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("fe80::1")}})
	for _, c := range []struct {
		url  string
		self bool
	}{
		{"https://calls.example.com/webhooks/voice/incoming?greeted=1&CallSid=CAforged", true},
		{"http://calls.example.com/webhooks/voice/incoming", true},
		{"HTTP://CALLS.EXAMPLE.COM.:443/x", true},
		{"https://calls.example.com:443/x", true},
		{"http://calls.example.com:80/x", true},
		{"https://user:pw@calls.example.com/x", true},
		{"https://calls.example.com:8443/x", false},
		{"https://hooks.example.com/x", false},
		{"https://example.com/calls.example.com", false},
		{"http://127.0.0.1:8080/webhooks/voice/incoming", true},
		{"http://127.9.9.9:8080/x", true},
		{"http://[::1]:8080/x", true},
		{"http://[::ffff:127.0.0.1]:8080/x", true},
		{"http://0.0.0.0:8080/x", true},
		{"http://localhost:8080/x", true},
		{"http://LocalHost.:8080/x", true},
		{"http://api.localhost:8080/x", true},
		{"http://10.1.2.3:8080/x", true},
		{"http://[fe80::1%25eth0]:8080/x", true},
		{"http://127.0.0.1:9000/x", false}, // another application on this machine
		{"http://10.1.2.4:8080/x", false},
		{"http://localhost/x", false},
	} {
		err := p.Check(c.url)
		if c.self != (err != nil) {
			t.Errorf("Check(%q) = %v, want refused %v", c.url, err, c.self)
		}
		if err != nil && (!errors.Is(err, callback.ErrRefused) || !strings.Contains(err.Error(), "didrouter itself")) {
			t.Errorf("Check(%q) = %v, want ErrRefused naming didrouter itself", c.url, err)
		}
	}
	// An explicit port is that port only; a listen IP is that IP only.
	p = mustPolicy(t, callback.PolicyConfig{PublicURL: "http://10.0.0.5:8080", ListenAddr: "10.0.0.5:8080",
		LocalIPs: []netip.Addr{netip.MustParseAddr("10.9.9.9")}})
	for u, self := range map[string]bool{
		"http://10.0.0.5:8080/x": true, "https://10.0.0.5:8080/x": true, "http://10.0.0.5/x": false,
		"http://10.0.0.5:9000/x": false, "http://10.9.9.9:8080/x": false, "http://127.0.0.1:8080/x": true,
	} {
		if err := p.Check(u); self != (err != nil) {
			t.Errorf("Check(%q) = %v, want refused %v", u, err, self)
		}
	}
}

// Only absolute http(s) URLs pass, with or without a policy.
func TestPolicyRefusesBadURLs(t *testing.T) {
	for _, p := range []*callback.Policy{nil, mustPolicy(t, callback.PolicyConfig{})} {
		for _, u := range []string{"", "ftp://x", "/relative", "https://", "https:///path", "mailto:a@b.c", "http://[::1", "javascript:alert(1)"} {
			if err := p.Check(u); !errors.Is(err, callback.ErrRefused) {
				t.Errorf("Check(%q) = %v, want ErrRefused", u, err)
			}
		}
		if err := p.Check("https://hooks.example.com/x?token=1"); err != nil {
			t.Errorf("a plain URL: %v", err)
		}
	}
	err := (*callback.Policy)(nil).Check("ftp://user:hunter2@x/?token=abc")
	if err == nil || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "abc") {
		t.Errorf("the error shows the URL's secrets: %v", err)
	}
}

// With DIDROUTER_CALLBACK_HOSTS, only the listed hosts (and the names
// below a "*." entry) pass; didrouter itself stays refused even if listed.
func TestPolicyAllowList(t *testing.T) {
	hosts, err := callback.ParseHosts(" hooks.example.com, *.Corp.Example ,10.0.0.7,[2001:db8::1],")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(hosts, " "); got != "hooks.example.com *.corp.example 10.0.0.7 2001:db8::1" {
		t.Errorf("hosts %q", got)
	}
	hosts = append(hosts, "calls.example.com")
	p := mustPolicy(t, callback.PolicyConfig{PublicURL: "https://calls.example.com", Hosts: hosts})
	for u, ok := range map[string]bool{
		"https://hooks.example.com/x":            true,
		"http://HOOKS.example.com:9000/x":        true,
		"https://a.corp.example/x":               true,
		"https://a.b.corp.example/x":             true,
		"https://corp.example/x":                 false,
		"https://evilcorp.example/x":             false,
		"https://hooks.example.com.evil.net/x":   false,
		"https://evil.example/hooks.example.com": false,
		"http://10.0.0.7/x":                      true,
		"http://[2001:db8:0::1]/x":               true,
		"http://10.0.0.8/x":                      false,
		"https://calls.example.com/x":            false, // listed, but didrouter itself
		"https://calls.example.com:9443/x":       true,
	} {
		err := p.Check(u)
		if ok != (err == nil) {
			t.Errorf("Check(%q) = %v, want allowed %v", u, err, ok)
		}
		if err != nil && !errors.Is(err, callback.ErrRefused) {
			t.Errorf("Check(%q) = %v, want ErrRefused", u, err)
		}
	}
	if err := p.Check("https://other.example/x"); err == nil || !strings.Contains(err.Error(), "DIDROUTER_CALLBACK_HOSTS") {
		t.Errorf("an unlisted host: %v, want an error naming DIDROUTER_CALLBACK_HOSTS", err)
	}
}

func TestParseHostsRefuses(t *testing.T) {
	for _, s := range []string{"https://hooks.example.com", "hooks.example.com:443", "hooks.example.com/x", "*", "*.", "a.*.b",
		"**.x", "user@host", "a..b", "hooks example.com", "ex\u00e4mple.com"} {
		if _, err := callback.ParseHosts(s); err == nil {
			t.Errorf("ParseHosts(%q) accepted", s)
		}
	}
	if h, err := callback.ParseHosts(" , "); err != nil || len(h) != 0 {
		t.Errorf("empty entries: %v %v", h, err)
	}
}

// NewClient refuses to connect to the listen port on this machine whatever
// name led there, and does not follow redirects.
func TestNewClientRefusesOwnListenAddress(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	p := mustPolicy(t, callback.PolicyConfig{ListenAddr: srv.Listener.Addr().String()})
	c := callback.NewClient(time.Second, p)
	resp, err := c.Post(srv.URL, "text/plain", nil)
	if err == nil {
		resp.Body.Close()
	}
	if !errors.Is(err, callback.ErrRefused) || hits.Load() != 0 {
		t.Fatalf("POST to the listen address: err %v, %d requests reached it", err, hits.Load())
	}
	// Another port of this machine is another application.
	other := mustPolicy(t, callback.PolicyConfig{ListenAddr: "127.0.0.1:1"})
	resp, err = callback.NewClient(time.Second, other).Post(srv.URL, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if hits.Load() != 1 {
		t.Errorf("%d requests, want 1", hits.Load())
	}
}

// ParseHosts never panics, and what it returns reads back the same.
func FuzzParseHosts(f *testing.F) {
	for _, s := range []string{"hooks.example.com,*.corp.example", "[::1], 10.0.0.7", "*.", "a..b,", "HOOKS.Example.COM."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		hosts, err := callback.ParseHosts(s)
		if err != nil {
			return
		}
		again, err := callback.ParseHosts(strings.Join(hosts, ","))
		if err != nil || strings.Join(again, ",") != strings.Join(hosts, ",") {
			t.Fatalf("ParseHosts(%q) = %q, which reads back as %q %v", s, hosts, again, err)
		}
	})
}
