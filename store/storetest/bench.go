package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
)

// RunBenchmarks measures the store operations on a call's path. open must
// return a new, empty, migrated store.
func RunBenchmarks(b *testing.B, open func(b *testing.B) didrouter.Store) {
	b.Run("CallPath", func(b *testing.B) { benchCallPath(b, open(b)) })
	b.Run("ClaimRelease", func(b *testing.B) { benchClaimRelease(b, open(b)) })
	b.Run("WorkerByPhoneNumber", func(b *testing.B) { benchWorkerByPhone(b, open(b)) })
	b.Run("ClaimDueTimers", func(b *testing.B) { benchClaimDueTimers(b, open(b)) })
}

// benchWorld is one workspace with workers "+1512555NNNN".
type benchWorld struct {
	ctx     context.Context
	s       didrouter.Store
	ws      string
	workers []didrouter.Worker
}

func newBenchWorld(b *testing.B, s didrouter.Store, workers int) *benchWorld {
	b.Helper()
	w := &benchWorld{ctx: context.Background(), s: s, ws: didrouter.NewSID(didrouter.PrefixWorkspace)}
	now := time.Now()
	err := s.Tx(w.ctx, func(tx didrouter.Tx) error {
		if err := tx.InsertWorkspace(w.ctx, didrouter.Workspace{SID: w.ws, FriendlyName: "bench", DateCreated: now, DateUpdated: now}); err != nil {
			return err
		}
		for i := range workers {
			wk := didrouter.Worker{SID: didrouter.NewSID(didrouter.PrefixWorker), WorkspaceSID: w.ws, FriendlyName: fmt.Sprint("w", i),
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
func benchCallPath(b *testing.B, s didrouter.Store) {
	w := newBenchWorld(b, s, 1)
	worker := w.workers[0].SID
	b.ResetTimer()
	for i := range b.N {
		now := time.Now()
		task := didrouter.Task{SID: didrouter.NewSID(didrouter.PrefixTask), WorkspaceSID: w.ws, Attributes: `{}`,
			AssignmentStatus: didrouter.TaskReserved, TaskChannel: "voice", CallSID: fmt.Sprint("CA", i),
			StepEnteredAt: now, DateCreated: now, DateUpdated: now}
		err := s.Tx(w.ctx, func(tx didrouter.Tx) error {
			if _, _, err := tx.InsertTask(w.ctx, task); err != nil {
				return err
			}
			if ok, err := tx.ClaimWorker(w.ctx, w.ws, worker, voiceChannel, now); err != nil || !ok {
				return fmt.Errorf("claim: %v %w", ok, err)
			}
			res := didrouter.Reservation{SID: didrouter.NewSID(didrouter.PrefixReservation), WorkspaceSID: w.ws, TaskSID: task.SID,
				WorkerSID: worker, Status: didrouter.ReservationPending, Timeout: 60, DateCreated: now, DateUpdated: now}
			if err := tx.InsertReservation(w.ctx, res); err != nil {
				return err
			}
			if err := tx.InsertEvent(w.ctx, didrouter.Event{SID: didrouter.NewSID(didrouter.PrefixEvent), WorkspaceSID: w.ws,
				EventType: didrouter.EventReservationCreated, TaskSID: task.SID, ReservationSID: res.SID, Data: `{}`, Date: now}); err != nil {
				return err
			}
			if err := tx.SetTimer(w.ctx, didrouter.Timer{WorkspaceSID: w.ws, Kind: didrouter.TimerReservation, TaskSID: task.SID,
				ReservationSID: res.SID, WorkerSID: worker, FireAt: now.Add(time.Minute)}); err != nil {
				return err
			}
			return tx.ReleaseWorker(w.ctx, w.ws, worker, voiceChannel, now) // free the worker for the next iteration
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func benchClaimRelease(b *testing.B, s didrouter.Store) {
	w := newBenchWorld(b, s, 1)
	worker := w.workers[0].SID
	b.ResetTimer()
	for range b.N {
		now := time.Now()
		err := s.Tx(w.ctx, func(tx didrouter.Tx) error {
			_, err := tx.ClaimWorker(w.ctx, w.ws, worker, voiceChannel, now)
			return err
		})
		if err == nil {
			err = s.Tx(w.ctx, func(tx didrouter.Tx) error { return tx.ReleaseWorker(w.ctx, w.ws, worker, voiceChannel, now) })
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

func benchWorkerByPhone(b *testing.B, s didrouter.Store) {
	w := newBenchWorld(b, s, 1000)
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.WorkerByPhoneNumber(w.ctx, w.ws, w.workers[i%len(w.workers)].PhoneNumber); err != nil {
			b.Fatal(err)
		}
	}
}

// benchClaimDueTimers: set and claim timers in batches of 100 (reported per timer).
func benchClaimDueTimers(b *testing.B, s didrouter.Store) {
	w := newBenchWorld(b, s, 0)
	const batch = 100
	b.ResetTimer()
	for done := 0; done < b.N; done += batch {
		now := time.Now()
		err := s.Tx(w.ctx, func(tx didrouter.Tx) error {
			for range batch {
				if err := tx.SetTimer(w.ctx, didrouter.Timer{WorkspaceSID: w.ws, Kind: didrouter.TimerStep,
					TaskSID: didrouter.NewSID(didrouter.PrefixTask), FireAt: now}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		err = s.Tx(w.ctx, func(tx didrouter.Tx) error {
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
