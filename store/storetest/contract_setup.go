package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
)

func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// equalList is equal for a list the store answered, where no rows may
// come as nil or as an empty slice.
func equalList[T any](t *testing.T, what string, got, want []T) {
	t.Helper()
	if len(got) == 0 {
		got = nil
	}
	equal(t, what, got, want)
}

func (c *contract) workspaces(t *testing.T, f *fixture) {
	got, err := f.s.GetWorkspace(f.ctx, f.ws.SID)
	noErr(t, err)
	equal(t, "workspace", got, f.ws)
	if got.DateCreated.Location() != time.UTC {
		t.Errorf("date created in %v, want UTC", got.DateCreated.Location())
	}
	if got.DateCreated.Nanosecond()%1000 != 0 {
		t.Errorf("date created %v keeps sub-microsecond digits", got.DateCreated)
	}

	second := didrouter.Workspace{SID: didrouter.NewSID(didrouter.PrefixWorkspace), FriendlyName: "Sales",
		DateCreated: f.at(time.Second), DateUpdated: f.at(time.Second)}
	f.mustTx(func(tx didrouter.Tx) error { return tx.InsertWorkspace(f.ctx, second) })
	list, err := f.s.ListWorkspaces(f.ctx)
	noErr(t, err)
	if len(list) != 2 || list[0].SID != f.ws.SID || list[1].SID != second.SID {
		t.Errorf("ListWorkspaces = %+v, want %s then %s", list, f.ws.SID, second.SID)
	}

	upd := f.ws
	upd.FriendlyName, upd.DefaultActivitySID, upd.TimeoutActivitySID = "Support 2", "WAa", "WAb"
	upd.DefaultWorkflowSID, upd.Greeting, upd.HoldMessage, upd.EventCallbackURL = "WWw", "Hi", "Wait", ""
	upd.EventsFilter = "reservation.created"
	upd.DateUpdated = f.at(time.Minute)
	f.mustTx(func(tx didrouter.Tx) error { return tx.UpdateWorkspace(f.ctx, upd) })
	got, err = f.s.GetWorkspace(f.ctx, f.ws.SID)
	noErr(t, err)
	upd.DateUpdated = utc(upd.DateUpdated)
	equal(t, "updated workspace", got, upd)

	_, err = f.s.GetWorkspace(f.ctx, "WSmissing")
	wantCode(t, err, didrouter.ENOTFOUND, "WSmissing")
	err = f.tx(func(tx didrouter.Tx) error { return tx.UpdateWorkspace(f.ctx, didrouter.Workspace{SID: "WSmissing"}) })
	wantCode(t, err, didrouter.ENOTFOUND, "WSmissing")
	err = f.tx(func(tx didrouter.Tx) error { return tx.InsertWorkspace(f.ctx, second) })
	wantCode(t, err, didrouter.ECONFLICT, second.SID)
}

func (c *contract) activities(t *testing.T, f *fixture) {
	avail := f.activity("Available", true)
	off := f.activity("Offline", false)
	got, err := f.s.GetActivity(f.ctx, f.ws.SID, avail.SID)
	noErr(t, err)
	equal(t, "activity", got, avail)
	list, err := f.s.ListActivities(f.ctx, f.ws.SID)
	noErr(t, err)
	equal(t, "activities", list, []didrouter.Activity{avail, off})

	// The activity is invisible from another workspace.
	_, err = f.s.GetActivity(f.ctx, "WSother", avail.SID)
	wantCode(t, err, didrouter.ENOTFOUND, avail.SID)

	// Renaming an activity renames it on its workers.
	w := f.newWorker("alice", "")
	w.ActivitySID, w.ActivityName, w.Available = avail.SID, avail.FriendlyName, true
	w = f.insertWorker(w)
	avail.FriendlyName, avail.Available, avail.DateUpdated = "Ready", false, utc(f.at(time.Minute))
	f.mustTx(func(tx didrouter.Tx) error { return tx.UpdateActivity(f.ctx, avail) })
	got, err = f.s.GetActivity(f.ctx, f.ws.SID, avail.SID)
	noErr(t, err)
	equal(t, "updated activity", got, avail)
	gw, err := f.s.GetWorker(f.ctx, f.ws.SID, w.SID)
	noErr(t, err)
	if gw.ActivityName != "Ready" || gw.Available || gw.Version <= w.Version {
		t.Errorf("worker after activity update: name %q available %v version %d (was %d)",
			gw.ActivityName, gw.Available, gw.Version, w.Version)
	}

	// An activity in use cannot be deleted.
	err = f.tx(func(tx didrouter.Tx) error { return tx.DeleteActivity(f.ctx, f.ws.SID, avail.SID) })
	wantCode(t, err, didrouter.ECONFLICT, avail.SID, w.SID)
	ws := f.ws
	ws.DefaultActivitySID = off.SID
	f.mustTx(func(tx didrouter.Tx) error { return tx.UpdateWorkspace(f.ctx, ws) })
	err = f.tx(func(tx didrouter.Tx) error { return tx.DeleteActivity(f.ctx, f.ws.SID, off.SID) })
	wantCode(t, err, didrouter.ECONFLICT, off.SID)

	spare := f.activity("Break", false)
	f.mustTx(func(tx didrouter.Tx) error { return tx.DeleteActivity(f.ctx, f.ws.SID, spare.SID) })
	_, err = f.s.GetActivity(f.ctx, f.ws.SID, spare.SID)
	wantCode(t, err, didrouter.ENOTFOUND, spare.SID)
	err = f.tx(func(tx didrouter.Tx) error { return tx.DeleteActivity(f.ctx, f.ws.SID, spare.SID) })
	wantCode(t, err, didrouter.ENOTFOUND, spare.SID)

	err = f.tx(func(tx didrouter.Tx) error {
		return tx.InsertActivity(f.ctx, didrouter.Activity{SID: "WAx", WorkspaceSID: "WSmissing", FriendlyName: "x"})
	})
	wantCode(t, err, didrouter.ENOTFOUND, "WSmissing")
}

func (c *contract) taskQueues(t *testing.T, f *fixture) {
	q := didrouter.TaskQueue{SID: didrouter.NewSID(didrouter.PrefixTaskQueue), WorkspaceSID: f.ws.SID, FriendlyName: "Everyone",
		TargetWorkers: "1==1", TaskOrder: didrouter.TaskOrderFIFO, MaxReservedWorkers: 1, DateCreated: f.now, DateUpdated: f.now}
	f.mustTx(func(tx didrouter.Tx) error { return tx.InsertTaskQueue(f.ctx, q) })
	q.DateCreated, q.DateUpdated = utc(q.DateCreated), utc(q.DateUpdated)
	got, err := f.s.GetTaskQueue(f.ctx, f.ws.SID, q.SID)
	noErr(t, err)
	equal(t, "queue", got, q)

	q.FriendlyName, q.TargetWorkers, q.TaskOrder, q.MaxReservedWorkers = "Sales", `skills HAS "sales"`, didrouter.TaskOrderLIFO, 3
	q.DateUpdated = utc(f.at(time.Hour))
	f.mustTx(func(tx didrouter.Tx) error { return tx.UpdateTaskQueue(f.ctx, q) })
	list, err := f.s.ListTaskQueues(f.ctx, f.ws.SID)
	noErr(t, err)
	equal(t, "queues", list, []didrouter.TaskQueue{q})

	f.mustTx(func(tx didrouter.Tx) error { return tx.DeleteTaskQueue(f.ctx, f.ws.SID, q.SID) })
	_, err = f.s.GetTaskQueue(f.ctx, f.ws.SID, q.SID)
	wantCode(t, err, didrouter.ENOTFOUND, q.SID)
	err = f.tx(func(tx didrouter.Tx) error { return tx.DeleteTaskQueue(f.ctx, f.ws.SID, q.SID) })
	wantCode(t, err, didrouter.ENOTFOUND, q.SID)
	err = f.tx(func(tx didrouter.Tx) error { return tx.UpdateTaskQueue(f.ctx, q) })
	wantCode(t, err, didrouter.ENOTFOUND, q.SID)
}

func (c *contract) workflows(t *testing.T, f *fixture) {
	w := didrouter.Workflow{SID: didrouter.NewSID(didrouter.PrefixWorkflow), WorkspaceSID: f.ws.SID, FriendlyName: "DID",
		Configuration: `{"task_routing":{"filters":[],"default_filter":{"queue":"WQx"}}}`, TaskReservationTimeout: 60,
		AssignmentCallbackURL: "https://example.com/a", FallbackAssignmentCallbackURL: "https://example.com/b",
		DateCreated: f.now, DateUpdated: f.now}
	f.mustTx(func(tx didrouter.Tx) error { return tx.InsertWorkflow(f.ctx, w) })
	w.DateCreated, w.DateUpdated = utc(w.DateCreated), utc(w.DateUpdated)
	got, err := f.s.GetWorkflow(f.ctx, f.ws.SID, w.SID)
	noErr(t, err)
	equal(t, "workflow", got, w)

	w.FriendlyName, w.Configuration, w.TaskReservationTimeout = "DID 2", `{"task_routing":{}}`, 30
	w.AssignmentCallbackURL, w.FallbackAssignmentCallbackURL, w.DateUpdated = "", "", utc(f.at(time.Hour))
	f.mustTx(func(tx didrouter.Tx) error { return tx.UpdateWorkflow(f.ctx, w) })
	list, err := f.s.ListWorkflows(f.ctx, f.ws.SID)
	noErr(t, err)
	equal(t, "workflows", list, []didrouter.Workflow{w})

	// A workflow that calls still reach cannot be deleted.
	f.mustTx(func(tx didrouter.Tx) error {
		return tx.PutBinding(f.ctx, didrouter.PhoneNumberBinding{PhoneNumber: "+15125550199", WorkspaceSID: f.ws.SID, WorkflowSID: w.SID})
	})
	err = f.tx(func(tx didrouter.Tx) error { return tx.DeleteWorkflow(f.ctx, f.ws.SID, w.SID) })
	wantCode(t, err, didrouter.ECONFLICT, w.SID, "+15125550199")
	f.mustTx(func(tx didrouter.Tx) error { return tx.DeleteBinding(f.ctx, "+15125550199") })
	ws := f.ws
	ws.DefaultWorkflowSID = w.SID
	f.mustTx(func(tx didrouter.Tx) error { return tx.UpdateWorkspace(f.ctx, ws) })
	err = f.tx(func(tx didrouter.Tx) error { return tx.DeleteWorkflow(f.ctx, f.ws.SID, w.SID) })
	wantCode(t, err, didrouter.ECONFLICT, w.SID)
	f.mustTx(func(tx didrouter.Tx) error { return tx.UpdateWorkspace(f.ctx, f.ws) })

	f.mustTx(func(tx didrouter.Tx) error { return tx.DeleteWorkflow(f.ctx, f.ws.SID, w.SID) })
	_, err = f.s.GetWorkflow(f.ctx, f.ws.SID, w.SID)
	wantCode(t, err, didrouter.ENOTFOUND, w.SID)
	err = f.tx(func(tx didrouter.Tx) error { return tx.DeleteWorkflow(f.ctx, f.ws.SID, w.SID) })
	wantCode(t, err, didrouter.ENOTFOUND, w.SID)
}

func (c *contract) bindings(t *testing.T, f *fixture) {
	b1 := didrouter.PhoneNumberBinding{PhoneNumber: "+15125550101", WorkspaceSID: f.ws.SID, WorkflowSID: "WWone"}
	b2 := didrouter.PhoneNumberBinding{PhoneNumber: "+15125550100", WorkspaceSID: f.ws.SID, WorkflowSID: "WWtwo"}
	f.mustTx(func(tx didrouter.Tx) error {
		if err := tx.PutBinding(f.ctx, b1); err != nil {
			return err
		}
		return tx.PutBinding(f.ctx, b2)
	})
	got, err := f.s.GetBinding(f.ctx, b1.PhoneNumber)
	noErr(t, err)
	equal(t, "binding", got, b1)
	list, err := f.s.ListBindings(f.ctx, f.ws.SID)
	noErr(t, err)
	equal(t, "bindings", list, []didrouter.PhoneNumberBinding{b2, b1})

	b1.WorkflowSID = "WWthree"
	f.mustTx(func(tx didrouter.Tx) error { return tx.PutBinding(f.ctx, b1) })
	got, err = f.s.GetBinding(f.ctx, b1.PhoneNumber)
	noErr(t, err)
	equal(t, "rebound", got, b1)

	other := f.workspace()
	err = f.tx(func(tx didrouter.Tx) error {
		return tx.PutBinding(f.ctx, didrouter.PhoneNumberBinding{PhoneNumber: b1.PhoneNumber, WorkspaceSID: other.SID, WorkflowSID: "WWx"})
	})
	wantCode(t, err, didrouter.ECONFLICT, b1.PhoneNumber)

	f.mustTx(func(tx didrouter.Tx) error { return tx.DeleteBinding(f.ctx, b1.PhoneNumber) })
	_, err = f.s.GetBinding(f.ctx, b1.PhoneNumber)
	wantCode(t, err, didrouter.ENOTFOUND, b1.PhoneNumber)
	err = f.tx(func(tx didrouter.Tx) error { return tx.DeleteBinding(f.ctx, b1.PhoneNumber) })
	wantCode(t, err, didrouter.ENOTFOUND, b1.PhoneNumber)
}

func (c *contract) pingClose(t *testing.T, f *fixture) {
	noErr(t, f.s.Ping(f.ctx))
	s := c.open(t)
	s.Close()
	if err := s.Ping(f.ctx); err == nil {
		t.Error("Ping after Close succeeded")
	}
}
