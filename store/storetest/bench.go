package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/didrouter/didrouter/engine"
)

// RunBenchmarks measures the store operations on a call's path. open must
// return a new, empty, migrated store.
func RunBenchmarks(b *testing.B, open func(b *testing.B) engine.Store) {
	b.Run("CallPath", func(b *testing.B) { benchCallPath(b, open(b)) })
	b.Run("ClaimRelease", func(b *testing.B) { benchClaimRelease(b, open(b)) })
	b.Run("WorkerByPhoneNumber", func(b *testing.B) { benchWorkerByPhone(b, open(b)) })
	b.Run("ClaimDueTimers", func(b *testing.B) { benchClaimDueTimers(b, open(b)) })
}

// benchWorld is one workspace with workers "+1512555NNNN".
type benchWorld struct {
	ctx     context.Context
	s       engine.Store
	ws      string
	workers []engine.Worker
}

func newBenchWorld(b *testing.B, s engine.Store, workers int) *benchWorld {
	b.Helper()
	w := &benchWorld{ctx: context.Background(), s: s, ws: engine.NewSID(engine.PrefixWorkspace)}
	now := time.Now()
	err := s.Tx(w.ctx, func(tx engine.Tx) error {
		if err := tx.InsertWorkspace(w.ctx, engine.Workspace{SID: w.ws, FriendlyName: "bench", DateCreated: now, DateUpdated: now}); err != nil {
			return err
		}
		for i := range workers {
			wk := engine.Worker{SID: engine.NewSID(engine.PrefixWorker), WorkspaceSID: w.ws, FriendlyName: fmt.Sprint("w", i),
				Attributes: `{}`, Available: true, Capacity: 1, PhoneNumber: fmt.Sprintf("+1512555%04d", i),
				DateStatusChanged: now, DateCreated: now, DateUpdated: now, Version: 1}
			if err := tx.InsertWorker(w.ctx, wk); err != nil {
				return err
			}
			w.workers = append(w.workers, wk)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return w
}

// benchCallPath: what an inbound call writes before the first ring: the task,
// the claim, the reservation, its event and its timeout, in one transaction.
func benchCallPath(b *testing.B, s engine.Store) {
	w := newBenchWorld(b, s, 1)
	worker := w.workers[0].SID
	b.ResetTimer()
	for i := range b.N {
		now := time.Now()
		task := engine.Task{SID: engine.NewSID(engine.PrefixTask), WorkspaceSID: w.ws, Attributes: `{}`,
			AssignmentStatus: engine.TaskReserved, TaskChannel: "voice", CallSID: fmt.Sprint("CA", i),
			StepEnteredAt: now, DateCreated: now, DateUpdated: now}
		err := s.Tx(w.ctx, func(tx engine.Tx) error {
			if _, _, err := tx.InsertTask(w.ctx, task); err != nil {
				return err
			}
			if ok, err := tx.ClaimWorker(w.ctx, w.ws, worker, engine.DefaultTaskChannel, now); err != nil || !ok {
				return fmt.Errorf("claim: %v %w", ok, err)
			}
			res := engine.Reservation{SID: engine.NewSID(engine.PrefixReservation), WorkspaceSID: w.ws, TaskSID: task.SID,
				WorkerSID: worker, Status: engine.ReservationPending, Timeout: 60, DateCreated: now, DateUpdated: now}
			if err := tx.InsertReservation(w.ctx, res); err != nil {
				return err
			}
			if err := tx.InsertEvent(w.ctx, engine.Event{SID: engine.NewSID(engine.PrefixEvent), WorkspaceSID: w.ws,
				EventType: engine.EventReservationCreated, TaskSID: task.SID, ReservationSID: res.SID, Data: `{}`, Date: now}); err != nil {
				return err
			}
			if err := tx.SetTimer(w.ctx, engine.Timer{WorkspaceSID: w.ws, Kind: engine.TimerReservation, TaskSID: task.SID,
				ReservationSID: res.SID, WorkerSID: worker, FireAt: now.Add(time.Minute)}); err != nil {
				return err
			}
			return tx.ReleaseWorker(w.ctx, w.ws, worker, engine.DefaultTaskChannel, now) // free the worker for the next iteration
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func benchClaimRelease(b *testing.B, s engine.Store) {
	w := newBenchWorld(b, s, 1)
	worker := w.workers[0].SID
	b.ResetTimer()
	for range b.N {
		now := time.Now()
		err := s.Tx(w.ctx, func(tx engine.Tx) error {
			_, err := tx.ClaimWorker(w.ctx, w.ws, worker, engine.DefaultTaskChannel, now)
			return err
		})
		if err == nil {
			err = s.Tx(w.ctx, func(tx engine.Tx) error { return tx.ReleaseWorker(w.ctx, w.ws, worker, engine.DefaultTaskChannel, now) })
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

func benchWorkerByPhone(b *testing.B, s engine.Store) {
	w := newBenchWorld(b, s, 1000)
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.WorkerByPhoneNumber(w.ctx, w.ws, w.workers[i%len(w.workers)].PhoneNumber); err != nil {
			b.Fatal(err)
		}
	}
}

// benchClaimDueTimers: set and claim timers in batches of 100 (reported per timer).
func benchClaimDueTimers(b *testing.B, s engine.Store) {
	w := newBenchWorld(b, s, 0)
	const batch = 100
	b.ResetTimer()
	for done := 0; done < b.N; done += batch {
		now := time.Now()
		err := s.Tx(w.ctx, func(tx engine.Tx) error {
			for range batch {
				if err := tx.SetTimer(w.ctx, engine.Timer{WorkspaceSID: w.ws, Kind: engine.TimerStep,
					TaskSID: engine.NewSID(engine.PrefixTask), FireAt: now}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		err = s.Tx(w.ctx, func(tx engine.Tx) error {
			got, err := tx.ClaimDueTimers(w.ctx, now, batch)
			if err == nil && len(got) != batch {
				err = fmt.Errorf("claimed %d timers, want %d", len(got), batch)
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
