package main

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseConfigDefaults(t *testing.T) {
	c, err := parseConfig("serve", nil, envOf(map[string]string{
		"TWILIO_AUTH_TOKEN":    "tok",
		"DIDROUTER_PUBLIC_URL": "https://calls.example.com/",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.DataPath != "./didrouter.db" || c.Region != "US" || c.WrapUp != 0 ||
		c.LogLevel != slog.LevelInfo || c.LogFormat != "json" || c.Shutdown != defaultShutdown {
		t.Errorf("defaults: %+v", c)
	}
	if c.PublicURL != "https://calls.example.com" {
		t.Errorf("public URL keeps its trailing slash: %q", c.PublicURL)
	}
	if c.usesPostgres() || c.apiEnabled() || c.SkipSig {
		t.Errorf("defaults: postgres=%v api=%v skip=%v", c.usesPostgres(), c.apiEnabled(), c.SkipSig)
	}
}

func TestParseConfigFlagsOverrideEnvironment(t *testing.T) {
	c, err := parseConfig("serve", []string{"-addr", "127.0.0.1:9000", "-wrapup", "45s", "-region", "gb"}, envOf(map[string]string{
		"TWILIO_AUTH_TOKEN":    "tok",
		"DIDROUTER_PUBLIC_URL": "https://calls.example.com",
		"DIDROUTER_ADDR":       ":7000",
		"DIDROUTER_WRAPUP":     "10",
		"DATABASE_URL":         "postgres://u@db/x",
		"DIDROUTER_API_KEY":    "k",
		"DIDROUTER_API_SECRET": testAPISecret,
		"DIDROUTER_LOG_LEVEL":  "debug",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9000" || c.WrapUp != 45*time.Second || c.Region != "GB" {
		t.Errorf("flags did not win: %+v", c)
	}
	if !c.usesPostgres() || !c.apiEnabled() || c.LogLevel != slog.LevelDebug {
		t.Errorf("environment ignored: %+v", c)
	}
}

func TestParseConfigWrapUpSeconds(t *testing.T) {
	c, err := parseConfig("serve", nil, envOf(map[string]string{
		"TWILIO_AUTH_TOKEN": "tok", "DIDROUTER_PUBLIC_URL": "https://x.example", "DIDROUTER_WRAPUP": "30",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.WrapUp != 30*time.Second {
		t.Errorf("wrap-up %v, want 30s", c.WrapUp)
	}
}

func TestParseConfigSkipSignatureNeedsNoPublicURL(t *testing.T) {
	c, err := parseConfig("serve", []string{"-addr", ":9090"}, envOf(map[string]string{
		"DIDROUTER_INSECURE_SKIP_SIGNATURE": "true",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !c.SkipSig || c.PublicURL != "http://127.0.0.1:9090" {
		t.Errorf("skip=%v public=%q", c.SkipSig, c.PublicURL)
	}
}

func TestParseConfigErrorsNameTheVariable(t *testing.T) {
	base := map[string]string{"TWILIO_AUTH_TOKEN": "tok", "DIDROUTER_PUBLIC_URL": "https://x.example"}
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no token", map[string]string{"DIDROUTER_PUBLIC_URL": "https://x.example"}, "TWILIO_AUTH_TOKEN"},
		{"no public URL", map[string]string{"TWILIO_AUTH_TOKEN": "tok"}, "DIDROUTER_PUBLIC_URL"},
		{"relative public URL", map[string]string{"DIDROUTER_PUBLIC_URL": "calls.example.com"}, "DIDROUTER_PUBLIC_URL"},
		{"mysql", map[string]string{"DATABASE_URL": "mysql://x"}, "DATABASE_URL"},
		{"bad wrap-up", map[string]string{"DIDROUTER_WRAPUP": "soon"}, "DIDROUTER_WRAPUP"},
		{"negative wrap-up", map[string]string{"DIDROUTER_WRAPUP": "-5s"}, "DIDROUTER_WRAPUP"},
		{"bad level", map[string]string{"DIDROUTER_LOG_LEVEL": "loud"}, "DIDROUTER_LOG_LEVEL"},
		{"bad format", map[string]string{"DIDROUTER_LOG_FORMAT": "xml"}, "DIDROUTER_LOG_FORMAT"},
		{"bad addr", map[string]string{"DIDROUTER_ADDR": "8080"}, "DIDROUTER_ADDR"},
		{"bad skip", map[string]string{"DIDROUTER_INSECURE_SKIP_SIGNATURE": "maybe"}, "DIDROUTER_INSECURE_SKIP_SIGNATURE"},
		{"key without secret", map[string]string{"DIDROUTER_API_KEY": "k"}, "DIDROUTER_API_SECRET"},
		{"bad region", map[string]string{"DIDROUTER_DEFAULT_REGION": "USA"}, "DIDROUTER_DEFAULT_REGION"},
		{"unknown region", map[string]string{"DIDROUTER_DEFAULT_REGION": "ZZ"}, "DIDROUTER_DEFAULT_REGION"},
		{"bad outbound country", map[string]string{"DIDROUTER_OUTBOUND_COUNTRIES": "US,XX"}, "DIDROUTER_OUTBOUND_COUNTRIES"},
		{"any country and more", map[string]string{"DIDROUTER_OUTBOUND_COUNTRIES": "*,US"}, "DIDROUTER_OUTBOUND_COUNTRIES"},
		{"bad premium", map[string]string{"DIDROUTER_OUTBOUND_PREMIUM": "yes"}, "DIDROUTER_OUTBOUND_PREMIUM"},
		{"bad emergency", map[string]string{"DIDROUTER_EMERGENCY_CALLS": "true"}, "DIDROUTER_EMERGENCY_CALLS"},
		{"pprof without port", map[string]string{"DIDROUTER_PPROF_ADDR": "127.0.0.1"}, "DIDROUTER_PPROF_ADDR"},
		{"pprof on all addresses", map[string]string{"DIDROUTER_PPROF_ADDR": ":6060"}, "DIDROUTER_PPROF_ADDR"},
		{"pprof on a public address", map[string]string{"DIDROUTER_PPROF_ADDR": "192.0.2.1:6060"}, "DIDROUTER_PPROF_ADDR"},
		{"bad bench floor", map[string]string{"DIDROUTER_BENCH_FLOOR": "yes please"}, "DIDROUTER_BENCH_FLOOR"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			if tc.name != "no token" && tc.name != "no public URL" {
				for k, v := range base {
					env[k] = v
				}
			}
			for k, v := range tc.env {
				env[k] = v
			}
			_, err := parseConfig("serve", nil, envOf(env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %s", err, tc.want)
			}
		})
	}
}

func TestParseConfigMigrateNeedsOnlyTheStore(t *testing.T) {
	c, err := parseConfig("migrate", nil, envOf(map[string]string{"DATABASE_URL": "postgres://u@db/x"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !c.usesPostgres() {
		t.Error("migrate lost DATABASE_URL")
	}
	if _, err := parseConfig("migrate", []string{"extra"}, envOf(nil), io.Discard); err == nil {
		t.Error("stray argument accepted")
	}
}

// The outbound dial policy's settings: by default the default region only,
// no premium-rate numbers, no emergency calls.
func TestParseConfigOutboundPolicy(t *testing.T) {
	base := map[string]string{"TWILIO_AUTH_TOKEN": "tok", "DIDROUTER_PUBLIC_URL": "https://x.example"}
	c, err := parseConfig("serve", nil, envOf(base), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.OutboundCountries != nil || c.OutboundPremium || c.EmergencyCalls {
		t.Errorf("defaults: countries %v premium %v emergency %v", c.OutboundCountries, c.OutboundPremium, c.EmergencyCalls)
	}
	base["DIDROUTER_OUTBOUND_COUNTRIES"] = "us, ca,GB"
	base["DIDROUTER_OUTBOUND_PREMIUM"] = "allow"
	base["DIDROUTER_EMERGENCY_CALLS"] = "ON"
	if c, err = parseConfig("serve", nil, envOf(base), io.Discard); err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.OutboundCountries, ",") != "US,CA,GB" || !c.OutboundPremium || !c.EmergencyCalls {
		t.Errorf("set: countries %v premium %v emergency %v", c.OutboundCountries, c.OutboundPremium, c.EmergencyCalls)
	}
	base["DIDROUTER_OUTBOUND_COUNTRIES"] = "*"
	if c, err = parseConfig("serve", nil, envOf(base), io.Discard); err != nil || strings.Join(c.OutboundCountries, ",") != "*" {
		t.Errorf("any country: %v %v", c.OutboundCountries, err)
	}
}

// Callback signing is the own key by default (unsigned until the key is
// set), Twilio's token only when chosen; the allow-list is read into
// hosts. Every error names its variable.
func TestParseConfigCallbacks(t *testing.T) {
	base := map[string]string{"TWILIO_AUTH_TOKEN": "tok", "DIDROUTER_PUBLIC_URL": "https://x.example"}
	parse := func(extra map[string]string, args ...string) (config, error) {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for k, v := range extra {
			env[k] = v
		}
		return parseConfig("serve", args, envOf(env), io.Discard)
	}
	c, err := parse(nil)
	if err != nil || c.CallbackSigning != "key" || c.CallbackKey != "" || len(c.CallbackHosts) != 0 {
		t.Fatalf("defaults: %v %q %q %q", err, c.CallbackSigning, c.CallbackKey, c.CallbackHosts)
	}
	key := "0123456789abcdef0123456789abcdef"
	c, err = parse(map[string]string{"DIDROUTER_CALLBACK_SIGNING_KEY": key,
		"DIDROUTER_CALLBACK_HOSTS": "Hooks.Example.com, *.corp.example"})
	if err != nil || c.CallbackKey != key || strings.Join(c.CallbackHosts, " ") != "hooks.example.com *.corp.example" {
		t.Fatalf("key and hosts: %v %q %q", err, c.CallbackKey, c.CallbackHosts)
	}
	c, err = parse(map[string]string{"DIDROUTER_CALLBACK_SIGNING": "key"}, "-callback-signing", "Twilio", "-callback-hosts", "a.example")
	if err != nil || c.CallbackSigning != "twilio" || strings.Join(c.CallbackHosts, " ") != "a.example" {
		t.Fatalf("flags: %v %q %q", err, c.CallbackSigning, c.CallbackHosts)
	}
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"unknown signing": {map[string]string{"DIDROUTER_CALLBACK_SIGNING": "hmac"}, "DIDROUTER_CALLBACK_SIGNING must be key or twilio"},
		"short key":       {map[string]string{"DIDROUTER_CALLBACK_SIGNING_KEY": "short"}, "DIDROUTER_CALLBACK_SIGNING_KEY must be at least 32"},
		"key is the token": {map[string]string{"TWILIO_AUTH_TOKEN": key, "DIDROUTER_CALLBACK_SIGNING_KEY": key},
			"DIDROUTER_CALLBACK_SIGNING_KEY must not be TWILIO_AUTH_TOKEN"},
		"twilio without token": {map[string]string{"TWILIO_AUTH_TOKEN": "", "DIDROUTER_INSECURE_SKIP_SIGNATURE": "true",
			"DIDROUTER_CALLBACK_SIGNING": "twilio"}, "DIDROUTER_CALLBACK_SIGNING=twilio"},
		"host with scheme": {map[string]string{"DIDROUTER_CALLBACK_HOSTS": "https://hooks.example.com"}, "DIDROUTER_CALLBACK_HOSTS"},
		"bare wildcard":    {map[string]string{"DIDROUTER_CALLBACK_HOSTS": "*"}, "DIDROUTER_CALLBACK_HOSTS"},
	} {
		if _, err := parse(tc.env); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one saying %q", name, err, tc.want)
		}
	}
}
