package routing

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

func BenchmarkParseDIDWorkflow(b *testing.B) {
	cfg := []byte(didConfig)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseWorkflow(cfg, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompileDIDExpression(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile("task.phone_number CONTAINS worker.phone_number", ScopeTarget); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEvalDIDExpression(b *testing.B) {
	e := MustCompile("task.phone_number CONTAINS worker.phone_number", ScopeTarget)
	task := Attributes{"phone_number": "+15127640580", "name": "+15125550100", "type": "inbound", "direction": "inbound"}
	worker := Attributes{"phone_number": "+15127640580", "contact_uri": "client:alice"}
	b.ReportAllocs()
	for b.Loop() {
		if !e.Eval(task, worker) {
			b.Fatal("no match")
		}
	}
}

func benchPhone(i int) string { return fmt.Sprintf("+1%010d", 2000000000+i) }

// buildBenchIndex indexes n workers with one DID each, all in one queue, and
// reports the heap it took per worker (attributes included).
func buildBenchIndex(b *testing.B, n int) (*Index, float64) {
	b.Helper()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	ix := NewIndex()
	ix.SetQueue("Q", MustCompile("1==1", ScopeWorker))
	idle := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		ix.UpsertWorker(WorkerInfo{
			SID:          fmt.Sprintf("WK%032d", i),
			FriendlyName: fmt.Sprintf("agent%d", i),
			Attributes:   Attributes{"phone_number": benchPhone(i), "contact_uri": fmt.Sprintf("client:agent%d", i)},
			Available:    true, Capacity: 1, IdleSince: idle.Add(time.Duration(i) * time.Second), Version: 1,
		})
	}
	ix.ensurePaths(MustCompile("task.phone_number CONTAINS worker.phone_number", ScopeTarget))
	runtime.GC()
	runtime.ReadMemStats(&after)
	return ix, float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

// BenchmarkEligibleDID looks up the owner of one dialed number, through the
// index and by evaluating every queue member.
func BenchmarkEligibleDID(b *testing.B) {
	tg := &Target{Queue: "Q", Expr: MustCompile("task.phone_number CONTAINS worker.phone_number", ScopeTarget)}
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		ix, perWorker := buildBenchIndex(b, n)
		task := Attributes{"phone_number": benchPhone(n / 2)}
		var dst []WorkerInfo
		b.Run(fmt.Sprintf("index/workers=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				dst = ix.EligibleAppend(dst[:0], tg, task, nil, 1)
				if len(dst) != 1 {
					b.Fatalf("%d eligible", len(dst))
				}
			}
			b.ReportMetric(perWorker, "B/worker")
		})
		b.Run(fmt.Sprintf("scan/workers=%d", n), func(b *testing.B) {
			ix.scanOnly = true
			defer func() { ix.scanOnly = false }()
			b.ReportAllocs()
			for b.Loop() {
				dst = ix.EligibleAppend(dst[:0], tg, task, nil, 1)
				if len(dst) != 1 {
					b.Fatalf("%d eligible", len(dst))
				}
			}
		})
		runtime.KeepAlive(ix)
	}
}

// BenchmarkEligibleDIDFirst is BenchmarkEligibleDID asking for a different
// owner each time: with -benchtime below the fleet size, every answer is a
// worker handed out for the first time (its attributes become a map then).
func BenchmarkEligibleDIDFirst(b *testing.B) {
	tg := &Target{Queue: "Q", Expr: MustCompile("task.phone_number CONTAINS worker.phone_number", ScopeTarget)}
	const n = 1_000_000
	ix, _ := buildBenchIndex(b, n)
	tasks := make([]Attributes, n)
	for i := range tasks {
		tasks[i] = Attributes{"phone_number": benchPhone(i)}
	}
	var dst []WorkerInfo
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		dst = ix.EligibleAppend(dst[:0], tg, tasks[i%n], nil, 1)
		if len(dst) != 1 {
			b.Fatalf("%d eligible", len(dst))
		}
		i++
	}
}
