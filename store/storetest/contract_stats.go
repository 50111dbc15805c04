package storetest

import (
	"testing"
	"time"

	"github.com/didrouter/didrouter/engine"
)

func (c *contract) countTasks(t *testing.T, f *fixture) {
	mk := func(i int, status string, priority int, queue, workflow, channel string) {
		task := f.newTask("")
		task.AssignmentStatus, task.Priority, task.TaskQueueSID, task.WorkflowSID, task.TaskChannel =
			status, priority, queue, workflow, channel
		task.DateCreated = f.at(time.Duration(i) * time.Second)
		f.insertTask(task)
	}
	mk(0, engine.TaskPending, 0, "WQ1", "WW1", "voice")
	mk(1, engine.TaskPending, 0, "WQ1", "WW1", "voice")
	mk(2, engine.TaskPending, 5, "WQ2", "WW1", "chat")
	mk(3, engine.TaskCompleted, 0, "WQ1", "WW2", "voice")
	mk(4, engine.TaskCanceled, 5, "WQ2", "WW2", "voice")
	// Another workspace's task is never counted.
	other := engine.Workspace{SID: engine.NewSID(engine.PrefixWorkspace), FriendlyName: "Other", DateCreated: f.now, DateUpdated: f.now}
	f.mustTx(func(tx engine.Tx) error { return tx.InsertWorkspace(f.ctx, other) })
	foreign := f.newTask("")
	foreign.WorkspaceSID = other.SID
	f.insertTask(foreign)

	for _, tc := range []struct {
		name string
		f    engine.TaskCountFilter
		want []engine.TaskCount
	}{
		{"all", engine.TaskCountFilter{}, []engine.TaskCount{
			{Status: engine.TaskCanceled, Priority: 5, N: 1}, {Status: engine.TaskCompleted, Priority: 0, N: 1}, {Status: engine.TaskPending, Priority: 0, N: 2}, {Status: engine.TaskPending, Priority: 5, N: 1}}},
		{"queue", engine.TaskCountFilter{TaskQueueSID: "WQ2"}, []engine.TaskCount{
			{Status: engine.TaskCanceled, Priority: 5, N: 1}, {Status: engine.TaskPending, Priority: 5, N: 1}}},
		{"workflow", engine.TaskCountFilter{WorkflowSID: "WW1"}, []engine.TaskCount{
			{Status: engine.TaskPending, Priority: 0, N: 2}, {Status: engine.TaskPending, Priority: 5, N: 1}}},
		{"channel", engine.TaskCountFilter{TaskChannel: "chat"}, []engine.TaskCount{{Status: engine.TaskPending, Priority: 5, N: 1}}},
		{"none", engine.TaskCountFilter{TaskQueueSID: "WQ9"}, nil},
	} {
		got, err := f.s.CountTasks(f.ctx, f.ws.SID, tc.f)
		noErr(t, err)
		if len(got) == 0 {
			got = nil
		}
		equal(t, tc.name, got, tc.want)
	}
}
