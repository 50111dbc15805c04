package webhooks

import (
	"testing"
	"time"
)

// The estimate is said in words, never to the second.
func TestInWords(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                              "",
		20 * time.Second:               "less than a minute",
		90 * time.Second:               "about a minute",
		3 * time.Minute:                "a few minutes",
		5*time.Minute + 59*time.Second: "a few minutes",
		9 * time.Minute:                "about ten minutes",
		40 * time.Minute:               "more than fifteen minutes",
	} {
		if got := inWords(d); got != want {
			t.Errorf("inWords(%v) = %q, want %q", d, got, want)
		}
	}
}
