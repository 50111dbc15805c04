package webhooks

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/twilio/twilio-go/twiml"
)

// errNoContact means a worker cannot be rung: no contact_uri, or one that
// is not a client:, sip: or phone number address.
var errNoContact = errors.New("worker has no usable contact_uri")

// contactURI reads the "contact_uri" worker attribute ("" when absent or
// not a string).
func contactURI(attributes string) string {
	var attrs struct {
		ContactURI any `json:"contact_uri"`
	}
	if err := json.Unmarshal([]byte(attributes), &attrs); err != nil {
		return ""
	}
	s, _ := attrs.ContactURI.(string)
	return strings.TrimSpace(s)
}

// contactNoun builds the <Dial> noun that rings a contact URI, written as
// TaskRouter's contact_uri convention has them. "client:alice" rings a Voice
// SDK client, "sip:…" rings a SIP endpoint, and anything else is taken as a
// phone number.
// answerURL is fetched by Twilio on the agent's leg when the agent picks up.
// normalize turns a phone number into E.164.
func contactNoun(uri, answerURL string, normalize func(string) (string, error)) (twiml.Element, error) {
	lower := strings.ToLower(uri)
	switch {
	case uri == "":
		return nil, errNoContact
	case strings.HasPrefix(lower, "client:"):
		identity := strings.TrimSpace(uri[len("client:"):])
		if identity == "" || strings.IndexFunc(identity, notIdentityRune) >= 0 {
			return nil, fmt.Errorf("%w: bad client identity in %q", errNoContact, uri)
		}
		return &twiml.VoiceClient{Identity: identity, Url: answerURL}, nil
	case strings.HasPrefix(lower, "sip:"), strings.HasPrefix(lower, "sips:"):
		rest := uri[strings.IndexByte(uri, ':')+1:]
		if rest == "" || strings.IndexFunc(rest, unicode.IsSpace) >= 0 {
			return nil, fmt.Errorf("%w: bad SIP address %q", errNoContact, uri)
		}
		return &twiml.VoiceSip{SipUrl: uri, Url: answerURL}, nil
	default:
		number := uri
		if strings.HasPrefix(lower, "tel:") {
			number = uri[len("tel:"):]
		}
		e164, err := normalize(number)
		if err != nil {
			return nil, fmt.Errorf("%w: %q is not a phone number: %w", errNoContact, uri, err)
		}
		return &twiml.VoiceNumber{PhoneNumber: e164, Url: answerURL}, nil
	}
}

func notIdentityRune(r rune) bool {
	return unicode.IsSpace(r) || unicode.IsControl(r) || r == '<' || r == '>' || r == '&'
}
