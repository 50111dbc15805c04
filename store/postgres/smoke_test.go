package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/store/storetest"
)

func TestSmoke(t *testing.T) {
	s := storetest.Postgres(t)
	ctx := context.Background()
	now := time.Now()
	ws := engine.Workspace{SID: engine.NewSID(engine.PrefixWorkspace), FriendlyName: "w", DateCreated: now, DateUpdated: now}
	wk := engine.Worker{SID: engine.NewSID(engine.PrefixWorker), WorkspaceSID: ws.SID, FriendlyName: "alice", Attributes: `{}`,
		Available: true, Capacity: 1, PhoneNumber: "+15125550100", DateCreated: now, DateUpdated: now}
	task := engine.Task{SID: engine.NewSID(engine.PrefixTask), WorkspaceSID: ws.SID, AssignmentStatus: engine.TaskPending,
		CallSID: "CA1", RejectedWorkers: []string{"WKa"}, DateCreated: now, DateUpdated: now, StepEnteredAt: now}
	err := s.Tx(ctx, func(tx engine.Tx) error {
		if err := tx.InsertWorkspace(ctx, ws); err != nil {
			return err
		}
		if err := tx.InsertWorker(ctx, wk); err != nil {
			return err
		}
		if _, _, err := tx.InsertTask(ctx, task); err != nil {
			return err
		}
		return tx.SetTimer(ctx, engine.Timer{WorkspaceSID: ws.SID, Kind: engine.TimerTask, TaskSID: task.SID, FireAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.GetWorker(ctx, ws.SID, wk.SID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.DateCreated.Equal(now.Truncate(time.Microsecond)) || got.DateCreated != now.UTC().Truncate(time.Microsecond) {
		t.Errorf("date created %v, want %v", got.DateCreated, now)
	}
	if got.DateStatusChanged != (time.Time{}) {
		t.Errorf("zero time came back as %v", got.DateStatusChanged)
	}
	gt, err := s.GetTask(ctx, ws.SID, task.SID)
	if err != nil || len(gt.RejectedWorkers) != 1 || gt.Version != 1 {
		t.Fatalf("task %+v %v", gt, err)
	}
	err = s.Tx(ctx, func(tx engine.Tx) error {
		ok, err := tx.ClaimWorker(ctx, ws.SID, wk.SID, now)
		if err != nil || !ok {
			t.Errorf("claim = %v %v", ok, err)
		}
		ok, err = tx.ClaimWorker(ctx, ws.SID, wk.SID, now)
		if err != nil || ok {
			t.Errorf("second claim = %v %v", ok, err)
		}
		timers, err := tx.ClaimDueTimers(ctx, now, 10)
		if err != nil || len(timers) != 1 {
			t.Errorf("timers %v %v", timers, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
