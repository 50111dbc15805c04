package numbers

import (
	"context"
	"fmt"
	"strings"

	twapi "github.com/twilio/twilio-go/rest/api/v2010"
)

// Kind is a type of phone number Twilio sells.
type Kind string

// The kinds of number, as --type spells them.
const (
	Local    Kind = "local"
	Mobile   Kind = "mobile"
	TollFree Kind = "toll-free"
)

// ParseKind reads local, mobile or toll-free.
func ParseKind(s string) (Kind, error) {
	switch k := Kind(strings.ToLower(strings.TrimSpace(s))); k {
	case Local, Mobile, TollFree:
		return k, nil
	case "tollfree", "toll_free":
		return TollFree, nil
	}
	return "", fmt.Errorf("number type %q: want local, mobile or toll-free", s)
}

// Query selects the numbers to buy.
type Query struct {
	Country  string // ISO 3166-1 alpha-2, e.g. "US"
	Kind     Kind
	AreaCode int    // 0: any (Twilio filters by area code in the US and Canada only)
	Contains string // Twilio's pattern, e.g. "512555****"; "" for any
}

// Validate checks the query and upper-cases the country.
func (q *Query) Validate() error {
	q.Country = strings.ToUpper(strings.TrimSpace(q.Country))
	if len(q.Country) != 2 || q.Country[0] < 'A' || q.Country[0] > 'Z' || q.Country[1] < 'A' || q.Country[1] > 'Z' {
		return fmt.Errorf("country %q: want a two-letter ISO code such as US, GB or DE", q.Country)
	}
	if _, err := ParseKind(string(q.Kind)); err != nil {
		return err
	}
	if q.AreaCode < 0 || q.AreaCode > 9999 {
		return fmt.Errorf("area code %d: want up to four digits", q.AreaCode)
	}
	return nil
}

// Key names the query in the journal: purchases for the same key belong
// to one order.
func (q Query) Key() string {
	k := strings.ToUpper(strings.TrimSpace(q.Country)) + "/" + string(q.Kind)
	if q.AreaCode > 0 {
		k += fmt.Sprintf("/area-%d", q.AreaCode)
	}
	if q.Contains != "" {
		k += "/contains-" + q.Contains
	}
	return k
}

// Available is a number Twilio offers for sale.
type Available struct {
	PhoneNumber  string `json:"phone_number"`
	FriendlyName string `json:"friendly_name"`
	Locality     string `json:"locality,omitempty"`
	Region       string `json:"region,omitempty"`
	// AddressRequirements is none, any, local or foreign: some countries
	// need an address (or a regulatory bundle) before Twilio sells.
	AddressRequirements string `json:"address_requirements,omitempty"`
}

// searchRounds is how many times a short search is repeated: Twilio
// returns a sample of its stock, so asking again may find more.
const searchRounds = 3

// Search returns up to limit available voice-capable numbers matching q,
// paging through Twilio's answers. Fewer than limit means Twilio has no
// more to offer now.
func (a *Account) Search(ctx context.Context, q Query, limit int) ([]Available, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []Available
	for round := 0; round < searchRounds && len(out) < limit; round++ {
		found, err := a.searchOnce(ctx, q, limit)
		if err != nil {
			return out, fmt.Errorf("search %s numbers in %s: %s: %w", q.Kind, q.Country, Describe(err), err)
		}
		added := 0
		for _, n := range found {
			if n.PhoneNumber == "" || seen[n.PhoneNumber] || len(out) >= limit {
				continue
			}
			seen[n.PhoneNumber] = true
			out = append(out, n)
			added++
		}
		if added == 0 {
			break
		}
	}
	return out, nil
}

// searchOnce runs one search of the kind's resource; twilio-go follows
// next_page_uri until limit numbers came or the pages end.
func (a *Account) searchOnce(ctx context.Context, q Query, limit int) ([]Available, error) {
	api := a.api(ctx)
	switch q.Kind {
	case Mobile:
		p := searchParams(&twapi.ListAvailablePhoneNumberMobileParams{}, q, limit)
		list, err := api.ListAvailablePhoneNumberMobile(q.Country, p)
		out := make([]Available, 0, len(list))
		for _, n := range list {
			out = appendVoice(out, n.Capabilities == nil || n.Capabilities.Voice, n.PhoneNumber, n.FriendlyName, n.Locality, n.Region, n.AddressRequirements)
		}
		return out, err
	case TollFree:
		p := searchParams(&twapi.ListAvailablePhoneNumberTollFreeParams{}, q, limit)
		list, err := api.ListAvailablePhoneNumberTollFree(q.Country, p)
		out := make([]Available, 0, len(list))
		for _, n := range list {
			out = appendVoice(out, n.Capabilities == nil || n.Capabilities.Voice, n.PhoneNumber, n.FriendlyName, n.Locality, n.Region, n.AddressRequirements)
		}
		return out, err
	default:
		p := searchParams(&twapi.ListAvailablePhoneNumberLocalParams{}, q, limit)
		list, err := api.ListAvailablePhoneNumberLocal(q.Country, p)
		out := make([]Available, 0, len(list))
		for _, n := range list {
			out = appendVoice(out, n.Capabilities == nil || n.Capabilities.Voice, n.PhoneNumber, n.FriendlyName, n.Locality, n.Region, n.AddressRequirements)
		}
		return out, err
	}
}

// searchParams fills in one of twilio-go's three search parameter types.
// They have the same setters but no common type, so the filters are set
// here once for all three.
func searchParams[P interface {
	SetVoiceEnabled(bool) P
	SetPageSize(int) P
	SetLimit(int) P
	SetAreaCode(int) P
	SetContains(string) P
}](p P, q Query, limit int) P {
	p.SetVoiceEnabled(true).SetPageSize(min(limit, 1000)).SetLimit(limit)
	if q.AreaCode > 0 {
		p.SetAreaCode(q.AreaCode)
	}
	if q.Contains != "" {
		p.SetContains(q.Contains)
	}
	return p
}

// appendVoice adds a search result unless it cannot take calls (Twilio
// filters by VoiceEnabled already; this guards against a sloppy answer).
func appendVoice(out []Available, voice bool, phone, friendly, locality, region, address *string) []Available {
	if !voice {
		return out
	}
	return append(out, Available{PhoneNumber: str(phone), FriendlyName: str(friendly), Locality: str(locality),
		Region: str(region), AddressRequirements: str(address)})
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
