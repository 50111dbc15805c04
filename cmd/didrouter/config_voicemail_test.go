package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseConfigVoicemail(t *testing.T) {
	base := map[string]string{"TWILIO_AUTH_TOKEN": "tok", "DIDROUTER_PUBLIC_URL": "https://x.example"}
	parse := func(extra map[string]string) (config, error) {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for k, v := range extra {
			env[k] = v
		}
		return parseConfig("serve", nil, envOf(env), io.Discard)
	}
	c, err := parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.VoicemailAfter != 90*time.Second || c.VoicemailMaxLength != 2*time.Minute || c.Transcribe {
		t.Errorf("defaults: after %v, max %v, transcribe %v", c.VoicemailAfter, c.VoicemailMaxLength, c.Transcribe)
	}
	c, err = parse(map[string]string{"DIDROUTER_VOICEMAIL_AFTER": "off", "DIDROUTER_VOICEMAIL_MAX_LENGTH": "5m", "DIDROUTER_VOICEMAIL_TRANSCRIBE": "on"})
	if err != nil {
		t.Fatal(err)
	}
	if c.VoicemailAfter != 0 || c.VoicemailMaxLength != 5*time.Minute || !c.Transcribe {
		t.Errorf("set: after %v, max %v, transcribe %v", c.VoicemailAfter, c.VoicemailMaxLength, c.Transcribe)
	}
	for name, bad := range map[string]string{
		"DIDROUTER_VOICEMAIL_AFTER":      "soon",
		"DIDROUTER_VOICEMAIL_MAX_LENGTH": "2h",
		"DIDROUTER_VOICEMAIL_TRANSCRIBE": "yes",
	} {
		if _, err := parse(map[string]string{name: bad}); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q: error %v, want one naming %s", name, bad, err, name)
		}
	}
}
