package storetest

import (
	"testing"
	"time"

	"github.com/didrouter/didrouter"
)

func (c *contract) countTasks(t *testing.T, f *fixture) {
	mk := func(i int, status string, priority int, queue, workflow, channel string) {
		task := f.newTask("")
		task.AssignmentStatus, task.Priority, task.TaskQueueSID, task.WorkflowSID, task.TaskChannel =
			status, priority, queue, workflow, channel
		task.DateCreated = f.at(time.Duration(i) * time.Second)
		f.insertTask(task)
	}
	mk(0, didrouter.TaskPending, 0, "WQ1", "WW1", "voice")
	mk(1, didrouter.TaskPending, 0, "WQ1", "WW1", "voice")
	mk(2, didrouter.TaskPending, 5, "WQ2", "WW1", "chat")
	mk(3, didrouter.TaskCompleted, 0, "WQ1", "WW2", "voice")
	mk(4, didrouter.TaskCanceled, 5, "WQ2", "WW2", "voice")
	// Another workspace's task is never counted.
	other := didrouter.Workspace{SID: didrouter.NewSID(didrouter.PrefixWorkspace), FriendlyName: "Other", DateCreated: f.now, DateUpdated: f.now}
	f.mustTx(func(tx didrouter.Tx) error { return tx.InsertWorkspace(f.ctx, other) })
	foreign := f.newTask("")
	foreign.WorkspaceSID = other.SID
	f.insertTask(foreign)

	for _, tc := range []struct {
		name string
		f    didrouter.TaskCountFilter
		want []didrouter.TaskCount
	}{
		{"all", didrouter.TaskCountFilter{}, []didrouter.TaskCount{
			{Status: didrouter.TaskCanceled, Priority: 5, N: 1}, {Status: didrouter.TaskCompleted, Priority: 0, N: 1}, {Status: didrouter.TaskPending, Priority: 0, N: 2}, {Status: didrouter.TaskPending, Priority: 5, N: 1}}},
		{"queue", didrouter.TaskCountFilter{TaskQueueSID: "WQ2"}, []didrouter.TaskCount{
			{Status: didrouter.TaskCanceled, Priority: 5, N: 1}, {Status: didrouter.TaskPending, Priority: 5, N: 1}}},
		{"workflow", didrouter.TaskCountFilter{WorkflowSID: "WW1"}, []didrouter.TaskCount{
			{Status: didrouter.TaskPending, Priority: 0, N: 2}, {Status: didrouter.TaskPending, Priority: 5, N: 1}}},
		{"channel", didrouter.TaskCountFilter{TaskChannel: "chat"}, []didrouter.TaskCount{{Status: didrouter.TaskPending, Priority: 5, N: 1}}},
		{"none", didrouter.TaskCountFilter{TaskQueueSID: "WQ9"}, nil},
	} {
		got, err := f.s.CountTasks(f.ctx, f.ws.SID, tc.f)
		noErr(t, err)
		equalList(t, tc.name, got, tc.want)
	}
}
