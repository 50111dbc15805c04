package replay

import (
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
)

// verb is one TwiML element (attribute order in didrouter's answers is
// random, so everything is read from the tree).
type verb struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Text     string     `xml:",chardata"`
	Children []verb     `xml:",any"`
}

func (v verb) name() string { return v.XMLName.Local }

func (v verb) attr(name string) string {
	for _, a := range v.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// parseTwiML reads a <Response> document; an empty body is an empty response.
func parseTwiML(body []byte) ([]verb, error) {
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil, nil
	}
	var doc verb
	if err := xml.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("TwiML: %w", err)
	}
	if doc.name() != "Response" {
		return nil, fmt.Errorf("TwiML root is <%s>, not <Response>", doc.name())
	}
	return doc.Children, nil
}

// dialTarget is the party a <Dial> rings.
type dialTarget struct {
	identity  string // client identity, SIP URI or phone number
	answerURL string // the noun's url: fetched on the agent's leg on pick-up
}

// target reads the single noun of a <Dial>.
func (v verb) target() (dialTarget, error) {
	var nouns []verb
	for _, c := range v.Children {
		nouns = append(nouns, c)
	}
	if len(nouns) != 1 {
		if len(nouns) == 0 && strings.TrimSpace(v.Text) != "" {
			return dialTarget{identity: strings.TrimSpace(v.Text)}, nil
		}
		return dialTarget{}, fmt.Errorf("<Dial> has %d nouns, want 1", len(nouns))
	}
	n := nouns[0]
	t := dialTarget{answerURL: n.attr("url")}
	switch n.name() {
	case "Client":
		t.identity = strings.TrimSpace(n.Text)
		for _, c := range n.Children {
			if c.name() == "Identity" {
				t.identity = strings.TrimSpace(c.Text)
			}
		}
		t.identity = "client:" + t.identity
	case "Sip", "Number":
		t.identity = strings.TrimSpace(n.Text)
	default:
		return dialTarget{}, fmt.Errorf("<Dial> rings a <%s>", n.name())
	}
	return t, nil
}

// seconds reads a whole-seconds attribute, def when absent or bad.
func (v verb) seconds(name string, def int) int {
	n, err := strconv.Atoi(strings.TrimSpace(v.attr(name)))
	if err != nil || n < 0 {
		return def
	}
	return n
}
