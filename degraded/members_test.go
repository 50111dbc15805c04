package degraded

import (
	"fmt"
	"testing"
	"time"
)

// Instances that saw the same members split the workers without overlap
// and without leaving anyone out; an instance not heard for a while no
// longer gets a share.
func TestMembersSplitWorkers(t *testing.T) {
	now := time.Now()
	names := []string{"i1", "i2", "i3"}
	views := map[string]*Members{}
	for _, self := range names {
		m := NewMembers(self, nil)
		for _, other := range names {
			m.heard(other, now.Add(-time.Second))
		}
		m.heard("gone", now.Add(-time.Minute))
		views[self] = m
	}
	for i := range 300 {
		w := fmt.Sprintf("WK%032d", i)
		owners := 0
		for _, m := range views {
			if m.Mine(w, now) {
				owners++
			}
		}
		if owners != 1 {
			t.Fatalf("worker %s has %d owners, want 1", w, owners)
		}
	}
	if alive := views["i1"].Alive(now); len(alive) != 3 {
		t.Fatalf("alive: %v, want the three live instances", alive)
	}
	alone := NewMembers("solo", nil)
	if !alone.Mine("WKany", now) {
		t.Fatal("a lone instance must own every worker")
	}
}
