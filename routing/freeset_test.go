package routing

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// BenchmarkEligibleEveryone is the fallback target of the DID workflow (a
// queue of everyone, expression 1==1) when 99% of the agents are busy: the
// lookup must not grow with the number of agents.
func BenchmarkEligibleEveryone(b *testing.B) {
	tg := &Target{Queue: "Q", Expr: MustCompile("1==1", ScopeTarget)}
	busySince := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		ix, _ := buildBenchIndex(b, n)
		for i := 0; i < n; i++ {
			if i%100 != 99 {
				ix.SetBusy(fmt.Sprintf("WK%032d", i), 1, busySince)
			}
		}
		var dst []WorkerInfo
		b.Run(fmt.Sprintf("workers=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				dst = ix.EligibleAppend(dst[:0], tg, nil, nil, 4)
				if len(dst) != 4 || dst[0].SID != fmt.Sprintf("WK%032d", 99) {
					b.Fatalf("eligible %v", dst)
				}
			}
		})
		runtime.KeepAlive(ix)
	}
}

// TestFreeLessIsIdleOrder: the inline keys order items as idleOrder orders
// their records.
func TestFreeLessIsIdleOrder(t *testing.T) {
	base := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	times := []time.Time{{}, base, base.Add(time.Nanosecond), base.Add(time.Second), base.Add(-time.Second),
		base.In(time.FixedZone("x", 3600)), time.Date(1600, 1, 1, 0, 0, 0, 5, time.UTC), time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}
	sids := []string{"", "A", "AB", "AB\x00", "WK00000000", "WK00000001", "WK0000000", "WK1", "WK0000000\xff", "é"}
	var recs []*wrec
	for _, ts := range times {
		for _, s := range sids {
			recs = append(recs, &wrec{info: WorkerInfo{SID: s, IdleSince: ts}})
		}
	}
	for _, a := range recs {
		for _, b := range recs {
			if got, want := freeLess(freeKey(a), freeKey(b)), idleOrder(a, b); got != want {
				t.Fatalf("freeLess(%q@%v, %q@%v) = %v, idleOrder says %v", a.info.SID, a.info.IdleSince, b.info.SID, b.info.IdleSince, got, want)
			}
		}
	}
}
