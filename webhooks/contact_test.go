package webhooks

import (
	"errors"
	"testing"

	"github.com/twilio/twilio-go/twiml"

	"github.com/didrouter/didrouter/routing"
)

func usNormalizer(t *testing.T) func(string) (string, error) {
	t.Helper()
	n, err := routing.NewNormalizer("US")
	if err != nil {
		t.Fatal(err)
	}
	return func(raw string) (string, error) {
		num, err := n.Normalize(raw)
		return num.E164, err
	}
}

func TestContactNoun(t *testing.T) {
	norm := usNormalizer(t)
	const answer = "https://x.example/webhooks/voice/answer?reservation=WR1"
	cases := []struct {
		uri  string
		want twiml.Element
	}{
		{"client:alice", &twiml.VoiceClient{Identity: "alice", Url: answer}},
		{"CLIENT:bob_2", &twiml.VoiceClient{Identity: "bob_2", Url: answer}},
		{"sip:alice@pbx.example.com", &twiml.VoiceSip{SipUrl: "sip:alice@pbx.example.com", Url: answer}},
		{"sips:alice@pbx.example.com;transport=tls", &twiml.VoiceSip{SipUrl: "sips:alice@pbx.example.com;transport=tls", Url: answer}},
		{"+1 (512) 764-0580", &twiml.VoiceNumber{PhoneNumber: "+15127640580", Url: answer}},
		{"512-764-0580", &twiml.VoiceNumber{PhoneNumber: "+15127640580", Url: answer}},
		{"tel:+15127640580", &twiml.VoiceNumber{PhoneNumber: "+15127640580", Url: answer}},
	}
	for _, tc := range cases {
		got, err := contactNoun(tc.uri, answer, norm)
		if err != nil {
			t.Errorf("%q: %v", tc.uri, err)
			continue
		}
		if !sameElement(got, tc.want) {
			t.Errorf("%q: got %#v, want %#v", tc.uri, got, tc.want)
		}
	}
	for _, uri := range []string{"", "client:", "client: ", "client:a b", "sip:", "sip:a b@x", "555-2671", "not a number", "mailto:x@y"} {
		if _, err := contactNoun(uri, answer, norm); !errors.Is(err, errNoContact) {
			t.Errorf("%q: error %v, want errNoContact", uri, err)
		}
	}
}

func sameElement(a, b twiml.Element) bool {
	if a.GetName() != b.GetName() || a.GetText() != b.GetText() {
		return false
	}
	_, pa := a.GetAttr()
	_, pb := b.GetAttr()
	for k, v := range pa {
		if pb[k] != v {
			return false
		}
	}
	return len(pa) == len(pb)
}

func TestContactURI(t *testing.T) {
	cases := map[string]string{
		`{"contact_uri":"client:alice"}`:    "client:alice",
		`{"contact_uri":" sip:a@b "}`:       "sip:a@b",
		`{"contact_uri":5}`:                 "",
		`{}`:                                "",
		`not json`:                          "",
		`{"phone_number":"+15127640580"}`:   "",
		`{"contact_uri":null,"x":[1,2,3]}`:  "",
		`{"contact_uri":"+1 512 764 0580"}`: "+1 512 764 0580",
	}
	for attrs, want := range cases {
		if got := contactURI(attrs); got != want {
			t.Errorf("contactURI(%s) = %q, want %q", attrs, got, want)
		}
	}
}

func TestTargetTimeout(t *testing.T) {
	cfg := `{"task_routing":{"filters":[{"expression":"1==1","targets":[
		{"queue":"WQ1","expression":"task.phone_number CONTAINS worker.phone_number","timeout":60,"skip_if":"1==1"},
		{"queue":"WQ1"}]}],"default_filter":{"queue":"WQ1"}}}`
	cases := []struct{ filter, target, want int }{
		{0, 0, 60}, {0, 1, 0}, {0, 2, 0}, {-1, 0, 0}, {1, 0, 0},
	}
	for _, tc := range cases {
		if got := targetTimeout(cfg, tc.filter, tc.target); got != tc.want {
			t.Errorf("targetTimeout(%d,%d) = %d, want %d", tc.filter, tc.target, got, tc.want)
		}
	}
	if got := targetTimeout("{", 0, 0); got != 0 {
		t.Errorf("bad JSON gives %d", got)
	}
}
