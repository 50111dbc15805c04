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
