// Package dialpolicy decides which numbers an agent's softphone may call
// out to. Toll fraud pays by the minute. A stolen softphone login dials
// premium-rate and high-cost destinations, and the account pays. So
// outbound calls go only to the countries configured, by default the
// default region alone. They never go to premium-rate or shared-cost
// numbers unless allowed. An emergency number of the default region is
// either dialed as dialed or refused with a clear word.
package dialpolicy

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nyaruka/phonenumbers/v2"

	"github.com/didrouter/didrouter/logsafe"
	"github.com/didrouter/didrouter/routing"
)

// Any, as the whole country list, lets calls go to every country.
const Any = "*"

// Config configures a Policy.
type Config struct {
	// Normalizer reads dialed numbers; its region (DIDROUTER_DEFAULT_REGION)
	// is the one whose emergency numbers are recognized, and the one
	// country allowed when Countries is empty.
	Normalizer *routing.Normalizer
	// Countries are the ISO 3166 regions calls may go to; empty = Region
	// only; [Any] = every region (see ParseCountries).
	Countries []string
	// AllowPremium lets calls go to premium-rate and shared-cost numbers.
	AllowPremium bool
	// EmergencyCalls dials the region's emergency numbers (the Twilio
	// account must be set up for emergency calling, with an emergency
	// address on the caller ID); off, they are refused with a spoken word.
	EmergencyCalls bool
}

// Policy is a checked Config. Its methods are safe for concurrent use.
type Policy struct {
	norm      *routing.Normalizer
	region    string
	countries map[string]bool // nil = any
	premium   bool
	emergency bool
}

// New checks c.
func New(c Config) (*Policy, error) {
	if c.Normalizer == nil {
		return nil, errors.New("dialpolicy: Config.Normalizer is required")
	}
	region := c.Normalizer.Region()
	p := &Policy{norm: c.Normalizer, region: region, premium: c.AllowPremium, emergency: c.EmergencyCalls}
	switch {
	case len(c.Countries) == 0:
		p.countries = map[string]bool{region: true}
	case len(c.Countries) == 1 && c.Countries[0] == Any:
	default:
		p.countries = make(map[string]bool, len(c.Countries))
		for _, r := range c.Countries {
			if !phonenumbers.GetSupportedRegions()[r] {
				return nil, fmt.Errorf("dialpolicy: country %q is not a supported ISO 3166 region code such as US", r)
			}
			p.countries[r] = true
		}
	}
	return p, nil
}

// ParseCountries reads a comma-separated list of ISO 3166 regions such as
// "US,CA" (any case, blanks ignored): "" gives nil (the default region
// only), "*" gives [Any] (every country).
func ParseCountries(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		r := strings.ToUpper(strings.TrimSpace(part))
		switch {
		case r == "":
			continue
		case r == Any:
			if strings.TrimSpace(s) != Any {
				return nil, errors.New(`"*" (any country) stands alone`)
			}
			return []string{Any}, nil
		case !phonenumbers.GetSupportedRegions()[r]:
			return nil, fmt.Errorf("%q is not an ISO 3166 region code such as US or CA", part)
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no region code in the list")
	}
	return out, nil
}

// Verdict is what Check decides about a dialed number.
type Verdict int

const (
	Allowed          Verdict = iota // dial Decision.Number
	NotANumber                      // neither a phone number nor an emergency number
	CountryRefused                  // the number's country is not in the list
	PremiumRefused                  // a premium-rate or shared-cost number
	EmergencyRefused                // an emergency number, and emergency calls are off
)

// Decision is Check's answer.
type Decision struct {
	Verdict Verdict
	// Number is what to dial when Allowed: the number in E.164, or an
	// emergency number's digits as dialed ("911").
	Number string
	// Emergency is set for an emergency number of the default region.
	Emergency bool
	// Why says what was decided, for the call decision log.
	Why string
}

// maxShortNumber bounds what is looked at as an emergency number: they
// have a few digits, and the library's matcher would read any input.
const maxShortNumber = 16

// Check decides about dialed, the To of an outbound call as the agent
// dialed it.
//
// An emergency number of the default region, such as "911" or "112" in the
// US, is dialed as its digits when emergency calls are on and refused
// otherwise. It must match the library's short-number data exactly. "+1 911"
// is not an emergency number, because it does not connect everywhere and is
// not a valid number.
//
// Any other number is read by the normalizer and judged by its region, not
// by its country calling code. +1 268 is Antigua and +1 876 is Jamaica, and
// neither costs what a US call does. It is also judged by its type, because
// premium-rate and shared-cost numbers pay their holder a share of the
// call's price, which is what toll fraud lives on.
func (p *Policy) Check(dialed string) Decision {
	if len(dialed) <= maxShortNumber && phonenumbers.IsEmergencyNumber(dialed, p.region) {
		digits := phonenumbers.NormalizeDigitsOnly(dialed)
		if !p.emergency {
			return Decision{Verdict: EmergencyRefused, Emergency: true,
				Why: "emergency number " + digits + " of " + p.region + ": DIDROUTER_EMERGENCY_CALLS is off"}
		}
		return Decision{Verdict: Allowed, Number: digits, Emergency: true, Why: "emergency number " + digits + " of " + p.region}
	}
	n, err := p.norm.Normalize(dialed)
	if err != nil {
		return Decision{Verdict: NotANumber, Why: logsafe.Clip(err.Error())} // it quotes the input
	}
	num, err := phonenumbers.Parse(n.E164, "ZZ")
	if err != nil { // the normalizer has validated it: not expected
		return Decision{Verdict: NotANumber, Why: n.E164 + ": " + err.Error()}
	}
	region := phonenumbers.GetRegionCodeForNumber(num)
	if p.countries != nil && !p.countries[region] {
		return Decision{Verdict: CountryRefused, Why: n.E164 + " is in " + region + ", not in DIDROUTER_OUTBOUND_COUNTRIES"}
	}
	if !p.premium {
		switch phonenumbers.GetNumberType(num) {
		case phonenumbers.PREMIUM_RATE:
			return Decision{Verdict: PremiumRefused, Why: n.E164 + " is a premium-rate number (DIDROUTER_OUTBOUND_PREMIUM is not allow)"}
		case phonenumbers.SHARED_COST:
			return Decision{Verdict: PremiumRefused, Why: n.E164 + " is a shared-cost number (DIDROUTER_OUTBOUND_PREMIUM is not allow)"}
		}
	}
	return Decision{Verdict: Allowed, Number: n.E164, Why: n.E164 + " in " + region}
}
