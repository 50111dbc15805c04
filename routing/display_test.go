package routing

import "testing"

func TestDisplay(t *testing.T) {
	us, err := NewNormalizer("US")
	if err != nil {
		t.Fatal(err)
	}
	gb, err := NewNormalizer("GB")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		n          *Normalizer
		e164, want string
	}{
		{us, "+15127640580", "(512) 764-0580"},
		{us, "+442071838750", "+44 20 7183 8750"},
		{us, "+4930123456", "+49 30 123456"},
		// Canada shares +1 with the US: still international, so a US caller
		// does not dial it as a US number.
		{us, "+14165550123", "+1 416-555-0123"},
		{gb, "+442071838750", "020 7183 8750"},
		{gb, "+15127640580", "+1 512-764-0580"},
		// Not valid E.164: unchanged, never a panic.
		{us, "", ""},
		{us, "5127640580", "5127640580"},
		{us, "+15555555555", "+15555555555"},
		{us, "client:alice", "client:alice"},
		{us, "+1", "+1"},
	} {
		if got := tc.n.Display(tc.e164); got != tc.want {
			t.Errorf("%s Display(%q) = %q, want %q", tc.n.Region(), tc.e164, got, tc.want)
		}
	}
}

// Display of a normalized number normalizes back to the same number: what
// an agent reads out reaches them again.
func TestDisplayRoundTrips(t *testing.T) {
	us, _ := NewNormalizer("US")
	for _, e164 := range []string{"+15127640580", "+442071838750", "+14165550123", "+61291234567", "+819012345678"} {
		shown := us.Display(e164)
		got, err := us.Normalize(shown)
		if err != nil || got.E164 != e164 {
			t.Errorf("Normalize(Display(%s) = %q) = %q, %v", e164, shown, got.E164, err)
		}
	}
}
