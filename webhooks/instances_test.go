package webhooks_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/didrouter/didrouter/store/postgres"
	"github.com/didrouter/didrouter/store/storetest"
)

// Two server instances (two engines, two handlers) on one Postgres
// database, many calls at once spread over both: no worker is ever rung for
// two calls, every worker gets at most one, and the calls nobody can take
// wait in the queue.
func TestTwoInstancesNeverDoubleBook(t *testing.T) {
	t.Parallel()
	dbURL := storetest.PostgresURL(t)
	open := func() *postgres.Store {
		st, err := postgres.Open(context.Background(), dbURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Close)
		return st
	}
	clock := newClock()
	a := newInstance(t, open(), clock)
	b := newInstance(t, open(), clock)
	if a.ws.SID != b.ws.SID {
		t.Fatalf("instances seeded two workspaces: %s and %s", a.ws.SID, b.ws.SID)
	}
	// Both engines run as in production: change feed (LISTEN/NOTIFY) and
	// timer loop, concurrently with the calls.
	for _, in := range []*instance{a, b} {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- in.eng.Start(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	for !a.eng.Ready() || !b.eng.Ready() {
		time.Sleep(5 * time.Millisecond)
	}
	const workers, calls = 6, 16
	for i := range workers {
		a.worker(fmt.Sprintf("agent%d", i), fmt.Sprintf("+1512555%04d", 200+i), "Available")
	}
	// b hears of a's workers through the change feed; Sync makes sure it
	// has before the calls start, so that the test does not race the feed.
	if err := b.eng.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}

	var (
		mu       sync.Mutex
		rang     = map[string]int{}
		enqueued int
		wg       sync.WaitGroup
	)
	for i := range calls {
		in := a
		if i%2 == 1 {
			in = b
		}
		// Half the calls target an owner's DID, half an unknown number.
		to := "+15125559999"
		if i%2 == 0 {
			to = fmt.Sprintf("+1512555%04d", 200+(i/2)%workers)
		}
		c := newCall(to)
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, body := in.twilio(in.webhookURL("/incoming")+"?greeted=1", c.form()) // the routing step
			if resp.StatusCode != http.StatusOK {
				t.Errorf("incoming: %s", resp.Status)
				return
			}
			doc := parseTwiML(t, body)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case doc.has("Dial"):
				d := doc.Children[len(doc.Children)-1]
				rang[strings.TrimSpace(d.Children[0].Text)]++
			case doc.has("Enqueue"):
				enqueued++
			default:
				t.Errorf("call answered %v", doc.verbs())
			}
		}()
	}
	wg.Wait()
	for who, n := range rang {
		if n > 1 {
			t.Errorf("%s rung for %d calls at once", who, n)
		}
	}
	if len(rang) != workers || enqueued != calls-workers {
		t.Errorf("%d workers rung, %d calls waiting; want %d and %d", len(rang), enqueued, workers, calls-workers)
	}
	ws, err := a.store.ListWorkers(context.Background(), a.ws.SID, engineFilterAll())
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		if w.Busy > w.Capacity {
			t.Errorf("worker %s busy %d > capacity %d", w.FriendlyName, w.Busy, w.Capacity)
		}
	}
}
