package main

import (
	"context"
	"runtime/debug"
	"time"
)

// loadGCPercent is the garbage collector's target while the worker index
// loads. The load allocates the index that stays live, so collecting at
// every doubling, the default of 100, marks it over and over. At a million
// workers that costs about half of the start-up time.
const loadGCPercent = 400

// relaxGCWhileLoading raises the GC target until ready() reports the index
// loaded (or ctx ends), then puts the previous target back.
func relaxGCWhileLoading(ctx context.Context, ready func() bool) {
	prev := debug.SetGCPercent(loadGCPercent)
	if prev < 0 || prev > loadGCPercent {
		debug.SetGCPercent(prev) // GOGC=off or already higher: leave it
		return
	}
	go func() {
		defer debug.SetGCPercent(prev)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for !ready() {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
}
