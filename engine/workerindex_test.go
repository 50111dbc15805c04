package engine_test

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/routing"
)

// loadAttrs are the attribute documents the load test spreads over its
// workers: flat ones (the fast path), everything else encoding/json
// decodes, and a document that does not parse.
var loadAttrs = []string{
	`{"contact_uri":"client:a","phone_number":"+15125550100"}`,
	`{}`, ``, `null`, ` {"n": 3, "ok": true, "none": null, "f": -1.5e2} `,
	`{"skills":["en","fr"],"team":{"name":"x"}}`, `{"name":"Zo\u00eb \"q\""}`, `{"name":"Zoë"}`,
	`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9}`, `{"a":1,"a":2}`, `{"broken":`,
}

// TestIndexLoad: a fresh engine's index holds what the store holds, more
// than one load batch of workers with every kind of attribute document.
func TestIndexLoad(t *testing.T) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			s := k.open(t)
			h := newHarness(t, s)
			ctx := h.ctx
			base := time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC)
			want := map[string]routing.WorkerInfo{}
			err := s.Tx(ctx, func(tx didrouter.Tx) error {
				for i := range 1100 {
					act, actName, avail := h.acts["Available"], "Available", true
					if i%3 == 0 {
						act, actName, avail = h.acts["Offline"], "Offline", false
					}
					w := didrouter.Worker{SID: fmt.Sprintf("WK%032d", i), WorkspaceSID: h.ws.SID, FriendlyName: fmt.Sprintf("w%d", i%700),
						Attributes: loadAttrs[i%len(loadAttrs)], ActivitySID: act, ActivityName: actName, Available: avail,
						Capacity: 1 + i%3, Busy: i % 2, DateStatusChanged: base.Add(time.Duration(i) * time.Second),
						DateCreated: base, DateUpdated: base, Version: int64(1 + i%5)}
					if err := tx.InsertWorker(ctx, w); err != nil {
						return err
					}
					attrs, err := routing.ParseAttributes([]byte(w.Attributes))
					if err != nil {
						attrs = routing.Attributes{}
					}
					want[w.SID] = routing.WorkerInfo{SID: w.SID, FriendlyName: w.FriendlyName, Attributes: attrs,
						Available: w.Available, Capacity: w.Capacity, Busy: w.Busy, IdleSince: w.DateStatusChanged,
						Version: w.Version, ActivitySID: w.ActivitySID, ActivityName: w.ActivityName}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			eng, err := engine.New(engine.Config{Store: s, Clock: h.clock, InstanceID: "load"})
			if err != nil {
				t.Fatal(err)
			}
			got, err := eng.IndexedWorkers(ctx, h.ws.SID)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d workers indexed, want %d", len(got), len(want))
			}
			for _, w := range got {
				if !reflect.DeepEqual(w, want[w.SID]) {
					t.Fatalf("indexed %+v\nwant    %+v", w, want[w.SID])
				}
			}
		})
	}
}

// rowCounter counts (and can hold) the index loads that reach the store.
type rowCounter struct {
	didrouter.Store
	loads atomic.Int32
	hold  chan struct{}
}

func (c *rowCounter) EachWorkerRow(ctx context.Context, ws string, fn func(*didrouter.WorkerRow) error) error {
	c.loads.Add(1)
	<-c.hold
	return c.Store.EachWorkerRow(ctx, ws, fn)
}

// TestIndexLoadedOnce: callers needing an index while it loads (degraded
// mode warming up beside the start-up load) wait for that load instead of
// reading every worker again.
func TestIndexLoadedOnce(t *testing.T) {
	s := storeKinds[0].open(t)
	h := newHarness(t, s)
	h.worker("alice", ownerDID, "Available")
	c := &rowCounter{Store: s, hold: make(chan struct{})}
	eng, err := engine.New(engine.Config{Store: c, Clock: h.clock, InstanceID: "once"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := eng.Degraded().Warm(h.ctx, h.ws.SID, h.ws.DefaultWorkflowSID)
			errs <- err
		}()
	}
	for c.loads.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // the others arrive while the first load is held
	close(c.hold)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := c.loads.Load(); n != 1 {
		t.Fatalf("the index was read %d times, want once", n)
	}
	if n := eng.IndexSize(); n != 1 {
		t.Fatalf("IndexSize = %d, want 1", n)
	}
}
