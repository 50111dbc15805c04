package routing

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/nyaruka/phonenumbers/v2"
)

// ErrNotANumber is wrapped by every error Normalize returns.
var ErrNotANumber = errors.New("not a phone number")

// Number is a normalized phone number.
type Number struct {
	E164 string // "+15127640580"
	Raw  string // as given
}

// Normalizer turns phone numbers as people and Twilio write them into
// E.164. It is safe for concurrent use and caches its answers.
type Normalizer struct {
	region string

	mu       sync.Mutex
	cur, old map[string]normResult // two generations: a cheap bounded LRU
}

type normResult struct {
	e164 string
	err  error
}

// normCacheSize is the size of one cache generation: room for every DID of
// a large call centre, which each call's dialed number is looked up as.
const normCacheSize = 16384

// maxNumberLength bounds the input handed to the parser.
const maxNumberLength = 64

// NewNormalizer returns a normalizer for national numbers of defaultRegion
// (an ISO 3166 region such as "US").
func NewNormalizer(defaultRegion string) (*Normalizer, error) {
	r := strings.ToUpper(strings.TrimSpace(defaultRegion))
	if !phonenumbers.GetSupportedRegions()[r] {
		return nil, fmt.Errorf("phone region %q is not a supported ISO 3166 region code such as US", defaultRegion)
	}
	return &Normalizer{region: r, cur: map[string]normResult{}, old: map[string]normResult{}}, nil
}

// Region returns the default region.
func (n *Normalizer) Region() string { return n.region }

// isAnonymous reports caller-ID placeholders that are not numbers: words
// Twilio and carriers send, and the keypad spellings Twilio puts in From.
func isAnonymous(s string) bool {
	switch strings.ToLower(s) {
	case "anonymous", "restricted", "unknown", "private", "blocked", "unavailable", "withheld",
		"+266696687",   // ANONYMOUS
		"+7378742833",  // RESTRICTED
		"+8656696",     // UNKNOWN
		"+2562533",     // BLOCKED
		"+86282452253": // UNAVAILABLE
		return true
	}
	return false
}

// Normalize returns the E.164 form of raw: "+1 (512) 764-0580",
// "512-764-0580", "5127640580" and "15127640580" (region US) all give
// "+15127640580". Client identities, SIP addresses, anonymous callers and
// anything that is not a valid number give an error wrapping ErrNotANumber.
func (n *Normalizer) Normalize(raw string) (Number, error) {
	n.mu.Lock()
	r, ok := n.cur[raw]
	if !ok {
		if r, ok = n.old[raw]; ok {
			n.put(raw, r)
		}
	}
	n.mu.Unlock()
	if !ok {
		r = n.normalize(raw)
		n.mu.Lock()
		n.put(raw, r)
		n.mu.Unlock()
	}
	if r.err != nil {
		return Number{Raw: raw}, r.err
	}
	return Number{E164: r.e164, Raw: raw}, nil
}

// Caller returns a caller's number as a task shows it: its E.164 form, or
// raw itself when it is not a number (an anonymous caller, a client
// identity). A number Twilio already wrote in E.164 comes back unparsed:
// Normalize would give the same answer, and callers' numbers, most of them
// seen once, would only push the dialed numbers out of the cache.
func (n *Normalizer) Caller(raw string) string {
	if isE164(raw) {
		return raw
	}
	if num, err := n.Normalize(raw); err == nil {
		return num.E164
	}
	return raw
}

// put stores a result; when the current generation is full it becomes the
// old one, so memory stays bounded at two generations.
func (n *Normalizer) put(raw string, r normResult) {
	if len(n.cur) >= normCacheSize {
		n.old = n.cur
		n.cur = make(map[string]normResult, normCacheSize)
	}
	n.cur[raw] = r
}

func notANumber(raw, why string) normResult {
	return normResult{err: fmt.Errorf("%w: %q %s", ErrNotANumber, raw, why)}
}

func (n *Normalizer) normalize(raw string) normResult {
	s := strings.TrimSpace(raw)
	lower := strings.ToLower(s)
	switch {
	case s == "":
		return notANumber(raw, "is empty")
	case len(s) > maxNumberLength:
		return notANumber(raw, fmt.Sprintf("is longer than %d characters", maxNumberLength))
	case strings.HasPrefix(lower, "client:"):
		return notANumber(raw, "is a Twilio Client identity")
	case strings.HasPrefix(lower, "sip:") || strings.HasPrefix(lower, "sips:"):
		return notANumber(raw, "is a SIP address")
	case isAnonymous(s):
		return notANumber(raw, "is an anonymous caller")
	}
	if isE164(s) {
		// Already E.164: still validated (once; the result is cached).
		num, err := phonenumbers.Parse(s, "ZZ")
		if err == nil && phonenumbers.IsValidNumber(num) {
			return normResult{e164: s}
		}
		return notANumber(raw, "is not a valid number")
	}
	num, err := phonenumbers.Parse(s, n.region)
	if err != nil {
		return notANumber(raw, "cannot be read as a number: "+err.Error())
	}
	if !phonenumbers.IsValidNumber(num) {
		return notANumber(raw, "is not a valid number")
	}
	return normResult{e164: phonenumbers.Format(num, phonenumbers.E164)}
}

// isE164 reports whether s is syntactically E.164: "+", a non-zero digit,
// up to 15 digits in all.
func isE164(s string) bool {
	if len(s) < 3 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
