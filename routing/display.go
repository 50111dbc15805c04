package routing

import (
	"github.com/nyaruka/phonenumbers/v2"
)

// Display returns an E.164 number as people write it, for an agent to read
// out. Numbers of the normalizer's default region get the national format,
// such as "(512) 764-0580" in the US. Any other number gets the
// international format, such as "+44 20 7183 8750". This is right for every
// country and never drops the country code of a foreign number. Anything
// that is not a valid E.164 number is returned unchanged.
func (n *Normalizer) Display(e164 string) string {
	if !isE164(e164) {
		return e164
	}
	num, err := phonenumbers.Parse(e164, "ZZ")
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return e164
	}
	// Compare regions, not country codes: +1 is shared by the US, Canada and
	// the Caribbean, and a Canadian number read to a US caller without its
	// "+1" would be dialed as a US one.
	if phonenumbers.GetRegionCodeForNumber(num) == n.region {
		return phonenumbers.Format(num, phonenumbers.NATIONAL)
	}
	return phonenumbers.Format(num, phonenumbers.INTERNATIONAL)
}
