package eventcallback

import (
	"context"
	"net/url"
	"strconv"
	"strings"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/routing"
)

// resourceTypes names an event's resource as TaskRouter's callbacks do.
var resourceTypes = map[string]string{
	"task":        "Task",
	"reservation": "Reservation",
	"worker":      "Worker",
	"workflow":    "Workflow",
	"taskqueue":   "TaskQueue",
	"activity":    "Activity",
	"workspace":   "Workspace",
}

// Wanted reports whether an EventsFilter (comma-separated event types; ""
// = every event) lets eventType through.
func Wanted(filter, eventType string) bool {
	if strings.TrimSpace(filter) == "" {
		return true
	}
	for f := range strings.SplitSeq(filter, ",") {
		if strings.EqualFold(strings.TrimSpace(f), eventType) {
			return true
		}
	}
	return false
}

// params builds TaskRouter's event callback parameters. The task and worker
// fields are read when the event is sent (they show the resource as it is
// then); a resource deleted meanwhile contributes its sid alone.
func (d *Dispatcher) params(ctx context.Context, ws didrouter.Workspace, e didrouter.Event) url.Values {
	v := url.Values{}
	v.Set("EventType", e.EventType)
	v.Set("EventDescription", e.Description)
	rt := resourceTypes[e.ResourceType]
	if rt == "" {
		rt = e.ResourceType
	}
	v.Set("ResourceType", rt)
	v.Set("ResourceSid", e.ResourceSID)
	v.Set("Timestamp", strconv.FormatInt(e.Date.Unix(), 10))
	v.Set("AccountSid", d.cfg.AccountSID)
	v.Set("WorkspaceSid", ws.SID)
	v.Set("WorkspaceName", ws.FriendlyName)
	if e.TaskSID != "" {
		v.Set("TaskSid", e.TaskSID)
		if t, err := d.cfg.Store.GetTask(ctx, ws.SID, e.TaskSID); err == nil {
			v.Set("TaskAttributes", routing.AttributesJSON(t.Attributes))
			v.Set("TaskAge", strconv.Itoa(max(int(e.Date.Sub(t.DateCreated).Seconds()), 0)))
			v.Set("TaskPriority", strconv.Itoa(t.Priority))
			v.Set("TaskAssignmentStatus", t.AssignmentStatus)
			v.Set("TaskChannelUniqueName", t.TaskChannel)
			v.Set("TaskQueueSid", t.TaskQueueSID)
			v.Set("WorkflowSid", t.WorkflowSID)
			switch e.EventType {
			case didrouter.EventTaskCanceled:
				v.Set("TaskCanceledReason", t.Reason)
			case didrouter.EventTaskCompleted:
				v.Set("TaskCompletedReason", t.Reason)
			}
		}
	}
	if e.ReservationSID != "" {
		v.Set("ReservationSid", e.ReservationSID)
	}
	if e.WorkerSID != "" {
		v.Set("WorkerSid", e.WorkerSID)
		if w, err := d.cfg.Store.GetWorker(ctx, ws.SID, e.WorkerSID); err == nil {
			v.Set("WorkerName", w.FriendlyName)
			v.Set("WorkerAttributes", routing.AttributesJSON(w.Attributes))
			v.Set("WorkerActivitySid", w.ActivitySID)
			v.Set("WorkerActivityName", w.ActivityName)
		}
	}
	return v
}
