package web_test

import (
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/didrouter/didrouter/webhooks"
)

// twiml is a parsed TwiML answer: a tree of verbs and nouns.
type twiml struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Text    string     `xml:",chardata"`
	Kids    []twiml    `xml:",any"`
}

// find returns the first element named name, depth first.
func (n *twiml) find(name string) *twiml {
	if n.XMLName.Local == name {
		return n
	}
	for i := range n.Kids {
		if f := n.Kids[i].find(name); f != nil {
			return f
		}
	}
	return nil
}

func (n *twiml) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// signedPost posts form to target as Twilio does, signed with the
// account's auth token.
func (s *site) signedPost(target string, form url.Values) (int, []byte) {
	s.t.Helper()
	if !strings.HasPrefix(target, "http") {
		target = s.url + target
	}
	req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", webhooks.Sign(twilioToken, target, form))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// twilio posts form to a webhook URL as Twilio does (signed with the
// account's auth token) and parses the TwiML answer.
func (s *site) twilio(target string, form url.Values) *twiml {
	s.t.Helper()
	status, body := s.signedPost(target, form)
	if status != http.StatusOK {
		s.t.Fatalf("POST %s: %d %s", target, status, body)
	}
	var doc twiml
	if err := xml.Unmarshal(body, &doc); err != nil {
		s.t.Fatalf("POST %s: not TwiML (%v): %s", target, err, body)
	}
	return &doc
}

// inboundCall is a caller's call as Twilio reports it.
type inboundCall struct{ sid, from, to string }

func (c inboundCall) form(extra ...string) url.Values {
	f := url.Values{"AccountSid": {"AC00000000000000000000000000000000"}, "CallSid": {c.sid},
		"From": {c.from}, "To": {c.to}, "Direction": {"inbound"}, "CallStatus": {"ringing"}, "ApiVersion": {"2010-04-01"}}
	for i := 0; i+1 < len(extra); i += 2 {
		f.Set(extra[i], extra[i+1])
	}
	return f
}

// ringing is a call didrouter rings at an agent: the <Dial>'s action
// (where Twilio reports how the agent's leg ended) and the <Client> noun's
// url (what Twilio fetches when the agent picks up).
type ringing struct {
	call             inboundCall
	identity         string
	action, answered string
}

// incoming places c as Twilio does: the greeting's redirect is followed,
// and the answer must ring a browser phone.
func (s *site) incoming(c inboundCall) ringing {
	s.t.Helper()
	doc := s.twilio(webhooks.PathPrefix+"/incoming", c.form())
	if r := doc.find("Redirect"); r != nil {
		doc = s.twilio(strings.TrimSpace(r.Text), c.form())
	}
	dial, client := doc.find("Dial"), doc.find("Client")
	if dial == nil || client == nil {
		s.t.Fatalf("the call does not ring a browser phone: %+v", doc)
	}
	id := strings.TrimSpace(client.Text)
	if id == "" {
		if n := client.find("Identity"); n != nil {
			id = strings.TrimSpace(n.Text)
		}
	}
	return ringing{call: c, identity: id, action: dial.attr("action"), answered: client.attr("url")}
}

// pickUp is Twilio fetching the Client noun's url on the agent's leg.
func (s *site) pickUp(r ringing) {
	s.t.Helper()
	s.twilio(r.answered, url.Values{"CallSid": {"CA" + strings.Repeat("b", 32)}, "ParentCallSid": {r.call.sid},
		"CallStatus": {"in-progress"}, "AccountSid": {"AC00000000000000000000000000000000"}})
}

// dialEnded is Twilio reporting how the agent's leg ended (DialCallStatus
// completed, no-answer, busy …); it returns what the caller hears next.
func (s *site) dialEnded(r ringing, status string) *twiml {
	s.t.Helper()
	return s.twilio(r.action, r.call.form("CallStatus", "in-progress", "DialCallStatus", status, "DialCallDuration", "42"))
}

// hangUp is the caller hanging up: Twilio's status callback.
func (s *site) hangUp(c inboundCall) {
	s.t.Helper()
	if status, body := s.signedPost(webhooks.PathPrefix+"/status", c.form("CallStatus", "completed", "CallDuration", "30")); status/100 != 2 {
		s.t.Fatalf("status callback: %d %s", status, body)
	}
}
