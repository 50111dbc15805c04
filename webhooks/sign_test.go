package webhooks

import (
	"net/url"
	"testing"

	"github.com/twilio/twilio-go/client"
)

// Sign must agree with twilio-go's validator, which implements Twilio's
// documented algorithm; otherwise every test request would be forged.
func TestSignMatchesTwilioValidator(t *testing.T) {
	form := url.Values{
		"CallSid": {"CA123"},
		"From":    {"+15551230000"},
		"To":      {"+15559870000"},
		"Digits":  {"1234#"},
		"Empty":   {""},
	}
	for _, u := range []string{
		"https://calls.example.com/webhooks/voice/incoming",
		"https://calls.example.com/webhooks/voice/dial?reservation=WR1&task=WT1",
		"http://127.0.0.1:8080/webhooks/voice/status",
	} {
		sig := Sign("secret-token", u, form)
		params := map[string]string{}
		for k, v := range form {
			params[k] = v[0]
		}
		rv := client.NewRequestValidator("secret-token")
		if !rv.Validate(u, params, sig) {
			t.Errorf("%s: twilio-go rejects our signature", u)
		}
		bad := client.NewRequestValidator("other-token")
		if bad.Validate(u, params, sig) {
			t.Errorf("%s: a signature with another token validates", u)
		}
	}
	// Known value, computed independently with openssl:
	// printf 'https://x.example/pa1b2' | openssl dgst -sha1 -hmac tok -binary | base64
	if got, want := Sign("tok", "https://x.example/p", url.Values{"b": {"2"}, "a": {"1"}}), "Ik/Jy8ReVGvL/eGsOEGwRbYFbl0="; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}
