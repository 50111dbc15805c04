package routing

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestIndexConcurrentUse runs writers and readers together; run with -race.
func TestIndexConcurrentUse(t *testing.T) {
	ix := NewIndex()
	ix.SetQueue("Q", MustCompile("1==1", ScopeWorker))
	tg := didTarget(t)
	other := &Target{Queue: "Q", Expr: MustCompile("worker.team == task.team", ScopeTarget), OrderBy: []OrderKey{{Path: "worker.level"}}}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				sid := fmt.Sprintf("WK%d", i%50)
				switch i % 5 {
				case 0, 1, 2:
					ix.UpsertWorker(WorkerInfo{SID: sid, Attributes: Attributes{"phone_number": fmt.Sprintf("+1512764%04d", i%50), "team": fmt.Sprint(i % 3), "level": float64(i % 7)},
						Available: true, Capacity: 1, Version: int64(i)})
				case 3:
					ix.SetBusy(sid, i%2, time.Unix(int64(i), 0))
				case 4:
					ix.RemoveWorker(sid)
				}
			}
		}(g)
	}
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				task := Attributes{"phone_number": fmt.Sprintf("+1512764%04d", i%50), "team": fmt.Sprint(i % 3)}
				for _, w := range ix.Eligible(tg, task, nil, 1) {
					if w.Attributes["phone_number"] != task["phone_number"] {
						t.Errorf("got %v for %v", w.Attributes, task)
					}
				}
				ix.Matches(other, task)
				ix.QueueStats("Q")
				if i%100 == 0 {
					ix.SetQueue("Q", MustCompile("level >= 0 OR 1==1", ScopeWorker))
				}
			}
		}(g)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
}
