package engine_test

import (
	"strings"
	"testing"

	"github.com/didrouter/didrouter/engine"
)

func TestIsSID(t *testing.T) {
	for s, want := range map[string]bool{
		engine.NewSID(engine.PrefixActivity): true,
		"WAABCDEF0123456789abcdef0123456789": true,
		"WA0123":                             false,
		"WA\x00" + strings.Repeat("0", 31):   false,
		"WK" + strings.Repeat("0", 32):       false, // another prefix
	} {
		if got := engine.IsSID(s, engine.PrefixActivity); got != want {
			t.Errorf("IsSID(%q, WA) = %v", s, got)
		}
	}
	if !engine.IsSID("WK"+strings.Repeat("0", 32), "") {
		t.Error("any prefix")
	}
}
