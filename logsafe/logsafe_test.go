package logsafe_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/didrouter/didrouter/logsafe"
)

func TestClip(t *testing.T) {
	short := strings.Repeat("x", logsafe.MaxRunes)
	if got := logsafe.Clip(short); got != short {
		t.Errorf("a value of MaxRunes runes changed: %q", got)
	}
	runes := strings.Repeat("é", logsafe.MaxRunes) // 128 bytes, 64 runes
	if got := logsafe.Clip(runes); got != runes {
		t.Errorf("64 two-byte runes changed: %q", got)
	}
	long := "CA" + strings.Repeat("0", 65534)
	if got, want := logsafe.Clip(long), long[:logsafe.MaxRunes]+"…(65536 bytes)"; got != want {
		t.Errorf("Clip(65536 bytes) = %q, want %q", got, want)
	}
	// The cut keeps whole runes, even after bytes that are not UTF-8.
	mixed := "\xff" + strings.Repeat("é", 100)
	got := logsafe.Clip(mixed)
	if !strings.HasPrefix(got, "\xff"+strings.Repeat("é", logsafe.MaxRunes-1)+"…(") {
		t.Errorf("Clip(mixed) = %q", got)
	}
	if !utf8.ValidString(strings.TrimPrefix(got, "\xff")) {
		t.Errorf("the cut split a rune: %q", got)
	}
	if a := logsafe.String("call_sid", long); a.Key != "call_sid" || len(a.Value.String()) > 100 {
		t.Errorf("String: %v", a)
	}
}

// FuzzClip: whatever arrives, the result is bounded, starts with the
// input, and is the input itself when that is short.
func FuzzClip(f *testing.F) {
	for _, seed := range []string{"", "CA00", strings.Repeat("é", 65), "\xff\xfe" + strings.Repeat("a", 70), strings.Repeat("\x00", 200)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := logsafe.Clip(s)
		if utf8.RuneCountInString(s) <= logsafe.MaxRunes {
			if got != s {
				t.Fatalf("short value changed: %q -> %q", s, got)
			}
			return
		}
		if len(got) > logsafe.MaxRunes*utf8.UTFMax+len("…(18446744073709551615 bytes)") {
			t.Fatalf("Clip kept %d bytes", len(got))
		}
		i := strings.LastIndex(got, "…(")
		cut := got[:max(i, 0)]
		if i < 0 || !strings.HasPrefix(s, cut) || utf8.RuneCountInString(cut) != logsafe.MaxRunes {
			t.Fatalf("Clip(%q) = %q", s, got)
		}
	})
}
