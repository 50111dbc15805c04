package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseConfigReofferAfter(t *testing.T) {
	base := map[string]string{"TWILIO_AUTH_TOKEN": "tok", "DIDROUTER_PUBLIC_URL": "https://x.example"}
	for _, tc := range []struct {
		value string // "" = unset
		want  time.Duration
	}{
		{"", 60 * time.Second},
		{"90", 90 * time.Second},
		{"2m", 2 * time.Minute},
		{"off", -1},
		{"OFF", -1},
	} {
		env := map[string]string{"DIDROUTER_REOFFER_AFTER": tc.value}
		for k, v := range base {
			env[k] = v
		}
		c, err := parseConfig("serve", nil, envOf(env), io.Discard)
		if err != nil {
			t.Fatalf("%q: %v", tc.value, err)
		}
		if c.ReofferAfter != tc.want {
			t.Errorf("%q: re-offer after %v, want %v", tc.value, c.ReofferAfter, tc.want)
		}
	}
	for _, bad := range []string{"0", "-5s", "soon"} {
		env := map[string]string{"DIDROUTER_REOFFER_AFTER": bad}
		for k, v := range base {
			env[k] = v
		}
		_, err := parseConfig("serve", nil, envOf(env), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "DIDROUTER_REOFFER_AFTER") {
			t.Errorf("%q: error %v, want one naming DIDROUTER_REOFFER_AFTER", bad, err)
		}
	}
}
