package dialpolicy_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers/v2"

	"github.com/didrouter/didrouter/dialpolicy"
	"github.com/didrouter/didrouter/routing"
)

func policy(t testing.TB, region string, c dialpolicy.Config) *dialpolicy.Policy {
	t.Helper()
	norm, err := routing.NewNormalizer(region)
	if err != nil {
		t.Fatal(err)
	}
	c.Normalizer = norm
	p, err := dialpolicy.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheck(t *testing.T) {
	us := policy(t, "US", dialpolicy.Config{})
	usGB := policy(t, "US", dialpolicy.Config{Countries: []string{"US", "GB"}})
	anyCountry := policy(t, "US", dialpolicy.Config{Countries: []string{dialpolicy.Any}})
	premium := policy(t, "US", dialpolicy.Config{Countries: []string{dialpolicy.Any}, AllowPremium: true})
	emergency := policy(t, "US", dialpolicy.Config{EmergencyCalls: true})
	gb := policy(t, "GB", dialpolicy.Config{EmergencyCalls: true})
	for _, tc := range []struct {
		name   string
		p      *dialpolicy.Policy
		dialed string
		want   dialpolicy.Verdict
		number string // when Allowed
	}{
		{"a US number", us, "(617) 555-1212", dialpolicy.Allowed, "+16175551212"},
		{"a US number in E.164", us, "+16175551212", dialpolicy.Allowed, "+16175551212"},
		{"US toll-free", us, "1-800-555-1212", dialpolicy.Allowed, "+18005551212"},
		{"US premium rate", us, "+1 900 555 1234", dialpolicy.PremiumRefused, ""},
		{"São Tomé", us, "+239 222 1234", dialpolicy.CountryRefused, ""},
		{"Antigua shares +1", us, "+1 268 460 1234", dialpolicy.CountryRefused, ""},
		{"Antigua dialed nationally", us, "268 460 1234", dialpolicy.CountryRefused, ""},
		{"Jamaica shares +1", us, "+1 876 555 1234", dialpolicy.CountryRefused, ""},
		{"Canada shares +1", us, "+1 416 555 0100", dialpolicy.CountryRefused, ""},
		{"the UK, not listed", us, "+44 20 7946 0000", dialpolicy.CountryRefused, ""},
		{"the UK, listed", usGB, "+44 20 7946 0000", dialpolicy.Allowed, "+442079460000"},
		{"UK premium rate, listed", usGB, "+44 871 234 5678", dialpolicy.PremiumRefused, ""},
		{"any country", anyCountry, "+239 222 1234", dialpolicy.Allowed, "+2392221234"},
		{"any country, still no premium rate", anyCountry, "+1 900 555 1234", dialpolicy.PremiumRefused, ""},
		{"premium allowed", premium, "+1 900 555 1234", dialpolicy.Allowed, "+19005551234"},
		{"911, emergency calls off", us, "911", dialpolicy.EmergencyRefused, ""},
		{"112, emergency calls off", us, "112", dialpolicy.EmergencyRefused, ""},
		{"911, emergency calls on", emergency, "911", dialpolicy.Allowed, "911"},
		{"911 with blanks", emergency, " 9 1 1 ", dialpolicy.Allowed, "911"},
		{"+1 911 is no emergency number", emergency, "+1911", dialpolicy.NotANumber, ""},
		{"999 in the UK", gb, "999", dialpolicy.Allowed, "999"},
		{"911 is not the UK's", gb, "911", dialpolicy.NotANumber, ""},
		{"not a number", us, "555-12", dialpolicy.NotANumber, ""},
		{"empty", us, "", dialpolicy.NotANumber, ""},
		{"a client", us, "client:bob", dialpolicy.NotANumber, ""},
		{"NUL after 911: still 911 to the library", us, "911\x00", dialpolicy.EmergencyRefused, ""},
		{"NUL", us, "+1617555\x001212", dialpolicy.NotANumber, ""},
	} {
		d := tc.p.Check(tc.dialed)
		if d.Verdict != tc.want || d.Number != tc.number {
			t.Errorf("%s: Check(%q) = %+v, want verdict %d number %q", tc.name, tc.dialed, d, tc.want, tc.number)
		}
		if d.Why == "" {
			t.Errorf("%s: no why", tc.name)
		}
	}
	if d := us.Check("911"); !d.Emergency || !strings.Contains(d.Why, "DIDROUTER_EMERGENCY_CALLS") {
		t.Errorf("refused emergency call: %+v", d)
	}
	if d := us.Check(strings.Repeat("9", 70000)); d.Verdict != dialpolicy.NotANumber || len(d.Why) > 200 {
		t.Errorf("a 70 KB number: verdict %d, why of %d bytes", d.Verdict, len(d.Why))
	}
}

func TestNewRefusesUnknownCountries(t *testing.T) {
	norm, _ := routing.NewNormalizer("US")
	if _, err := dialpolicy.New(dialpolicy.Config{Normalizer: norm, Countries: []string{"US", "XX"}}); err == nil {
		t.Error("country XX accepted")
	}
	if _, err := dialpolicy.New(dialpolicy.Config{}); err == nil {
		t.Error("no normalizer accepted")
	}
}

func TestParseCountries(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		bad  bool
	}{
		{"", nil, false},
		{"  ", nil, false},
		{"*", []string{"*"}, false},
		{" * ", []string{"*"}, false},
		{"us, ca", []string{"US", "CA"}, false},
		{"US,GB,US,", []string{"US", "GB"}, false},
		{"US,*", nil, true},
		{"USA", nil, true},
		{"US,XX", nil, true},
		{",,", nil, true},
	} {
		got, err := dialpolicy.ParseCountries(tc.in)
		if (err != nil) != tc.bad || !slices.Equal(got, tc.want) {
			t.Errorf("ParseCountries(%q) = %v, %v; want %v (error: %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

// FuzzCheck: whatever is dialed, Check does not panic, and what it allows
// with the default policy is an emergency-free call to a US number that is
// not premium-rate or shared-cost; what it allows is always dialable.
func FuzzCheck(f *testing.F) {
	for _, seed := range []string{"911", "112", "+19005551234", "+2392221234", "+12684601234", "(617) 555-1212",
		"*911", "9-1-1", "+1911", "", "client:bob", "911\x00", "\xff911", strings.Repeat("1", 100), "+448712345678"} {
		f.Add(seed)
	}
	def := policy(f, "US", dialpolicy.Config{})
	open := policy(f, "US", dialpolicy.Config{Countries: []string{dialpolicy.Any}, AllowPremium: true, EmergencyCalls: true})
	f.Fuzz(func(t *testing.T, dialed string) {
		d := def.Check(dialed)
		if d.Verdict == dialpolicy.Allowed {
			num, err := phonenumbers.Parse(d.Number, "ZZ")
			if err != nil || d.Emergency || phonenumbers.GetRegionCodeForNumber(num) != "US" {
				t.Fatalf("default policy allows %q: %+v", dialed, d)
			}
			if typ := phonenumbers.GetNumberType(num); typ == phonenumbers.PREMIUM_RATE || typ == phonenumbers.SHARED_COST {
				t.Fatalf("default policy allows %q, of type %d", dialed, typ)
			}
		}
		o := open.Check(dialed)
		switch {
		case o.Verdict == dialpolicy.CountryRefused || o.Verdict == dialpolicy.PremiumRefused || o.Verdict == dialpolicy.EmergencyRefused:
			t.Fatalf("the open policy refuses %q: %+v", dialed, o)
		case o.Verdict == dialpolicy.Allowed && o.Emergency && strings.Trim(o.Number, "0123456789") != "":
			t.Fatalf("emergency number %q dials %q", dialed, o.Number)
		case o.Verdict == dialpolicy.Allowed && !o.Emergency && !strings.HasPrefix(o.Number, "+"):
			t.Fatalf("%q dials %q, not E.164", dialed, o.Number)
		case o.Verdict == dialpolicy.Allowed && o.Number == "":
			t.Fatalf("%q allowed without a number", dialed)
		}
	})
}
