package didrouter_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/didrouter/didrouter"
)

func TestIsSID(t *testing.T) {
	hex32 := "0123456789abcdef0123456789ABCDEF"
	for _, tc := range []struct {
		s, prefix string
		want      bool
	}{
		{"CA" + hex32, "CA", true},
		{"CA" + strings.Repeat("0", 32), "CA", true},
		{didrouter.NewSID(didrouter.PrefixTask), didrouter.PrefixTask, true},
		{"AC" + hex32, "CA", false},            // another kind of sid
		{"ca" + hex32, "ca", false},            // not a sid prefix: it is checked as given
		{"CA" + hex32[:31], "CA", false},       // too short
		{"CA" + hex32 + "0", "CA", false},      // too long
		{"CA" + hex32[:31] + "g", "CA", false}, // not hex
		// Twilio's signature joins keys and values, so a captured request
		// re-sent with a sid that swallowed the next key keeps its signature.
		{"CA" + strings.Repeat("0", 28) + "cdefCallStatusringing", "CA", false},
		{"CA" + strings.Repeat("0", 31) + "\x00", "CA", false},
		{"CA\x00" + strings.Repeat("0", 31), "CA", false},
		{"", "CA", false},
		{"CA", "CA", false},
		{"CA" + hex32, "", true}, // any prefix
		{"ca" + hex32, "", false},
		{"CAX" + hex32[:31], "CAX", false},
	} {
		if got := didrouter.IsSID(tc.s, tc.prefix); got != tc.want {
			t.Errorf("IsSID(%q, %q) = %v, want %v", tc.s, tc.prefix, got, tc.want)
		}
	}
}

// sidShape is the oracle: Twilio's own pattern for sids.
var sidShape = regexp.MustCompile(`^[A-Z]{2}[0-9a-fA-F]{32}$`)

// FuzzIsSID checks IsSID against the regular expression of Twilio's sids,
// whatever bytes arrive.
func FuzzIsSID(f *testing.F) {
	for _, seed := range []string{
		"CA0123456789abcdef0123456789abcdef",
		"CA0000000000000000000000000000cdefCallStatusringing",
		"CA000000000000000000000000000000\x00",
		"WT" + strings.Repeat("f", 32),
		"CAé23456789abcdef0123456789abcde",
		"",
	} {
		f.Add(seed, "CA")
	}
	f.Fuzz(func(t *testing.T, s, prefix string) {
		got := didrouter.IsSID(s, prefix)
		want := (prefix == "" || len(prefix) == 2 && strings.HasPrefix(s, prefix)) && sidShape.MatchString(s)
		if got != want {
			t.Fatalf("IsSID(%q, %q) = %v, want %v", s, prefix, got, want)
		}
	})
}
