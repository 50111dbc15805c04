package routing

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestNormalize(t *testing.T) {
	n, err := NewNormalizer("us")
	if err != nil {
		t.Fatal(err)
	}
	if n.Region() != "US" {
		t.Errorf("region %q", n.Region())
	}
	for _, raw := range []string{"+1 (512) 764-0580", "512-764-0580", "5127640580", "15127640580", "+15127640580", " (512) 764 0580 ", "512.764.0580", "1-512-764-0580", "512-764-0580 ext 5"} {
		num, err := n.Normalize(raw)
		if err != nil || num.E164 != "+15127640580" || num.Raw != raw {
			t.Errorf("Normalize(%q) = %+v, %v", raw, num, err)
		}
	}
	if num, err := n.Normalize("+44 20 7183 8750"); err != nil || num.E164 != "+442071838750" {
		t.Errorf("UK number: %+v, %v", num, err)
	}
	for _, tc := range []struct{ raw, why string }{
		{"", "is empty"},
		{"   ", "is empty"},
		{"client:alice", "Twilio Client identity"},
		{"Client:Alice", "Twilio Client identity"},
		{"sip:bob@example.com", "SIP address"},
		{"anonymous", "anonymous caller"},
		{"Restricted", "anonymous caller"},
		{"+266696687", "anonymous caller"},
		{"555-2671", "not a valid number"},
		{"+1555", "not a valid number"},
		{"+15555555555", "not a valid number"},
		{"hello", "cannot be read as a number"},
		{strings.Repeat("1", 100), "longer than"},
		{"+0123456789", "cannot be read"},
	} {
		num, err := n.Normalize(tc.raw)
		if !errors.Is(err, ErrNotANumber) || !strings.Contains(err.Error(), tc.why) || num.E164 != "" {
			t.Errorf("Normalize(%q) = %+v, %v; want ErrNotANumber (%s)", tc.raw, num, err, tc.why)
		}
	}
	if _, err := NewNormalizer("XX"); err == nil {
		t.Error("region XX accepted")
	}
	if _, err := NewNormalizer(""); err == nil {
		t.Error("empty region accepted")
	}
}

func TestNormalizeCacheBoundedAndConcurrent(t *testing.T) {
	n, _ := NewNormalizer("US")
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 3*normCacheSize; i++ {
				raw := fmt.Sprintf("512-7%02d-%04d", i/10000, i%10000)
				num, err := n.Normalize(raw)
				if err != nil || num.E164 != fmt.Sprintf("+15127%02d%04d", i/10000, i%10000) {
					t.Errorf("Normalize(%q) = %+v, %v", raw, num, err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	n.mu.Lock()
	size := len(n.cur) + len(n.old)
	n.mu.Unlock()
	if size > 2*normCacheSize {
		t.Errorf("cache holds %d entries", size)
	}
}

// A caller's number is shown in E.164 when it is one, else as it came;
// E.164 numbers do not enter the cache.
func TestCaller(t *testing.T) {
	n, _ := NewNormalizer("US")
	for raw, want := range map[string]string{
		"+15127640580":   "+15127640580",
		"(512) 764-0580": "+15127640580",
		"anonymous":      "anonymous",
		"client:alice":   "client:alice",
		"+1":             "+1",
	} {
		if got := n.Caller(raw); got != want {
			t.Errorf("Caller(%q) = %q, want %q", raw, got, want)
		}
	}
	n.mu.Lock()
	_, cached := n.cur["+15127640580"]
	n.mu.Unlock()
	if cached {
		t.Error("an E.164 caller number went into the cache")
	}
}

func TestNormalizeCachedE164DoesNotAllocate(t *testing.T) {
	n, _ := NewNormalizer("US")
	if _, err := n.Normalize("+15127640580"); err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(100, func() { n.Normalize("+15127640580") }); a != 0 {
		t.Errorf("%v allocations for a cached number", a)
	}
}

func BenchmarkNormalize(b *testing.B) {
	n, _ := NewNormalizer("US")
	b.Run("cached-e164", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			n.Normalize("+15127640580")
		}
	})
	b.Run("uncached", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			n.Normalize(fmt.Sprintf("(512) 764-%04d", i%10000)) // 10000 distinct: more than the cache holds
		}
	})
}
