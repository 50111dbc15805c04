package main

import (
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

// presenceEnv is the smallest environment serve accepts, plus extra.
func presenceEnv(extra map[string]string) func(string) string {
	env := map[string]string{"TWILIO_AUTH_TOKEN": "tok", "DIDROUTER_PUBLIC_URL": "https://x.example"}
	for k, v := range extra {
		env[k] = v
	}
	return envOf(env)
}

func TestParseConfigAgentAway(t *testing.T) {
	for _, tc := range []struct {
		value string // "" = unset
		want  time.Duration
	}{
		{"", 2 * time.Minute},
		{"90", 90 * time.Second},
		{"5m", 5 * time.Minute},
		{"off", 0},
		{"Off", 0},
	} {
		c, err := parseConfig("serve", nil, presenceEnv(map[string]string{"DIDROUTER_AGENT_AWAY": tc.value}), io.Discard)
		if err != nil {
			t.Fatalf("%q: %v", tc.value, err)
		}
		if c.AgentAway != tc.want {
			t.Errorf("%q: away %v, want %v", tc.value, c.AgentAway, tc.want)
		}
	}
	for _, bad := range []string{"0", "-5s", "soon", "25h"} {
		_, err := parseConfig("serve", nil, presenceEnv(map[string]string{"DIDROUTER_AGENT_AWAY": bad}), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "DIDROUTER_AGENT_AWAY") {
			t.Errorf("%q: error %v, want one naming DIDROUTER_AGENT_AWAY", bad, err)
		}
	}
	c, err := parseConfig("serve", []string{"-agent-away", "45s"}, presenceEnv(map[string]string{"DIDROUTER_AGENT_AWAY": "off"}), io.Discard)
	if err != nil || c.AgentAway != 45*time.Second {
		t.Errorf("the flag over the variable: %v, %v", c.AgentAway, err)
	}
}

func TestParseConfigMissedCallsUnavailable(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  int
	}{
		{"", engine.DefaultMissedCallsUnavailable},
		{"1", 1},
		{"5", 5},
		{"off", 0},
		{"OFF", 0},
	} {
		c, err := parseConfig("serve", nil, presenceEnv(map[string]string{"DIDROUTER_MISSED_CALLS_UNAVAILABLE": tc.value}), io.Discard)
		if err != nil {
			t.Fatalf("%q: %v", tc.value, err)
		}
		if c.MissedCallsUnavailable != tc.want {
			t.Errorf("%q: %d, want %d", tc.value, c.MissedCallsUnavailable, tc.want)
		}
	}
	for _, bad := range []string{"0", "-1", "three", "2.5", "101"} {
		_, err := parseConfig("serve", nil, presenceEnv(map[string]string{"DIDROUTER_MISSED_CALLS_UNAVAILABLE": bad}), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "DIDROUTER_MISSED_CALLS_UNAVAILABLE") {
			t.Errorf("%q: error %v, want one naming DIDROUTER_MISSED_CALLS_UNAVAILABLE", bad, err)
		}
	}
}

func TestParseConfigVoiceToken(t *testing.T) {
	const (
		account = "AC0123456789abcdef0123456789abcdef"
		key     = "SK0123456789abcdef0123456789abcdef"
		app     = "AP0123456789abcdef0123456789abcdef"
	)
	// Unset: the server starts, and the phone panel can say what is missing.
	c, err := parseConfig("serve", nil, presenceEnv(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.voiceMinter(didrouter.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Missing(); !slices.Equal(got, []string{"TWILIO_ACCOUNT_SID", "TWILIO_API_KEY", "TWILIO_API_SECRET", "DIDROUTER_TWIML_APP_SID"}) {
		t.Errorf("Missing = %v", got)
	}
	// Set: it mints.
	c, err = parseConfig("serve", nil, presenceEnv(map[string]string{"TWILIO_ACCOUNT_SID": account,
		"TWILIO_API_KEY": key, "TWILIO_API_SECRET": "s", "DIDROUTER_TWIML_APP_SID": app}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if m, err = c.voiceMinter(didrouter.SystemClock{}); err != nil || len(m.Missing()) != 0 {
		t.Fatalf("minter %v, missing %v", err, m.Missing())
	}
	if _, _, err := m.Mint("alice"); err != nil {
		t.Errorf("Mint: %v", err)
	}
	// Malformed: start-up fails naming the variable.
	for k, v := range map[string]string{"TWILIO_API_KEY": "AC0123456789abcdef0123456789abcdef", "DIDROUTER_TWIML_APP_SID": "AP123"} {
		_, err := parseConfig("serve", nil, presenceEnv(map[string]string{"TWILIO_ACCOUNT_SID": account,
			"TWILIO_API_KEY": key, "TWILIO_API_SECRET": "s", "DIDROUTER_TWIML_APP_SID": app, k: v}), io.Discard)
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: error %v, want one naming %s", k, v, err, k)
		}
	}
}
