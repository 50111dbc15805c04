package api

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/routing"
	"github.com/didrouter/didrouter/stats"
)

type taskJSON struct {
	AccountSID            *string           `json:"account_sid"`
	Age                   int               `json:"age"`
	AssignmentStatus      string            `json:"assignment_status"`
	Attributes            string            `json:"attributes"`
	DateCreated           *string           `json:"date_created"`
	DateUpdated           *string           `json:"date_updated"`
	TaskQueueEnteredDate  *string           `json:"task_queue_entered_date"`
	Priority              int               `json:"priority"`
	Reason                *string           `json:"reason"`
	SID                   string            `json:"sid"`
	TaskQueueSID          *string           `json:"task_queue_sid"`
	TaskQueueFriendlyName *string           `json:"task_queue_friendly_name"`
	TaskChannelSID        string            `json:"task_channel_sid"`
	TaskChannelUniqueName string            `json:"task_channel_unique_name"`
	Timeout               int               `json:"timeout"`
	WorkflowSID           string            `json:"workflow_sid"`
	WorkflowFriendlyName  *string           `json:"workflow_friendly_name"`
	WorkspaceSID          string            `json:"workspace_sid"`
	URL                   string            `json:"url"`
	Links                 map[string]string `json:"links"`
}

// queueAndFlowNames looks up the friendly names of queues and workflows,
// nil when unset or gone, each at most once a request.
func (h *Handler) queueAndFlowNames(ctx context.Context, ws string) *memo[*string] {
	return newMemo(func(sid string) *string {
		switch {
		case sid == "":
		case strings.HasPrefix(sid, didrouter.PrefixTaskQueue):
			if q, err := h.store.GetTaskQueue(ctx, ws, sid); err == nil {
				return &q.FriendlyName
			}
		case strings.HasPrefix(sid, didrouter.PrefixWorkflow):
			if wf, err := h.store.GetWorkflow(ctx, ws, sid); err == nil {
				return &wf.FriendlyName
			}
		}
		return nil
	})
}

// oneTaskJSON shows a task on its own.
func (h *Handler) oneTaskJSON(r *http.Request, t didrouter.Task) taskJSON {
	return h.taskJSON(r, t, h.queueAndFlowNames(r.Context(), t.WorkspaceSID))
}

func (h *Handler) taskJSON(r *http.Request, t didrouter.Task, names *memo[*string]) taskJSON {
	ws := h.workspaceURL(r, t.WorkspaceSID)
	age := 0
	if !t.DateCreated.IsZero() {
		age = max(int(h.clock.Now().Sub(t.DateCreated).Seconds()), 0)
	}
	var entered *string
	if t.TaskQueueSID != "" {
		entered = isoTime(t.StepEnteredAt)
	}
	return taskJSON{
		AccountSID:            nullable(h.account),
		Age:                   age,
		AssignmentStatus:      t.AssignmentStatus,
		Attributes:            routing.AttributesJSON(t.Attributes),
		DateCreated:           isoTime(t.DateCreated),
		DateUpdated:           isoTime(t.DateUpdated),
		TaskQueueEnteredDate:  entered,
		Priority:              t.Priority,
		Reason:                nullable(t.Reason),
		SID:                   t.SID,
		TaskQueueSID:          nullable(t.TaskQueueSID),
		TaskQueueFriendlyName: names.of(t.TaskQueueSID),
		TaskChannelSID:        taskChannelSID(t.WorkspaceSID, t.TaskChannel),
		TaskChannelUniqueName: t.TaskChannel,
		Timeout:               t.Timeout,
		WorkflowSID:           t.WorkflowSID,
		WorkflowFriendlyName:  names.of(t.WorkflowSID),
		WorkspaceSID:          t.WorkspaceSID,
		URL:                   ws + "/Tasks/" + t.SID,
		Links: map[string]string{
			"workflow":     ws + "/Workflows/" + t.WorkflowSID,
			"workspace":    ws,
			"reservations": ws + "/Tasks/" + t.SID + "/Reservations",
		},
	}
}

// taskStatuses are a task's assignment statuses, in the order of its life.
func taskStatuses() []string {
	return append(slices.Clone(stats.LiveStatuses), didrouter.TaskCompleted, didrouter.TaskCanceled)
}

// listTasks filters by AssignmentStatus, WorkflowSid, WorkflowName,
// TaskQueueSid, TaskQueueName and Priority in the store. AssignmentStatus
// may be given several times or comma-separated. EvaluateTaskAttributes is
// an expression over task attributes, evaluated on each task.
func (h *Handler) listTasks(w http.ResponseWriter, r *http.Request, p pageRequest) error {
	q := r.URL.Query()
	if q.Get("RoutingTarget") != "" {
		return didrouter.Errorf(didrouter.EINVALID, "filter RoutingTarget is not supported by didrouter")
	}
	if s := q.Get("HasAddons"); s != "" && s != "false" {
		return didrouter.Errorf(didrouter.EINVALID, "HasAddons=%s is not supported: didrouter has no add-ons", s)
	}
	ws := workspaceOf(r).SID
	f := didrouter.TaskFilter{WorkflowSID: q.Get("WorkflowSid"), TaskQueueSID: q.Get("TaskQueueSid")}
	var err error
	if f.AssignmentStatus, err = enumValues("AssignmentStatus", q["AssignmentStatus"], taskStatuses()); err != nil {
		return err
	}
	switch o := q.Get("Ordering"); o {
	case "", "DateCreated:asc":
	case "DateCreated:desc":
		f.Newest = true
	default:
		return didrouter.Errorf(didrouter.EINVALID, "Ordering %q is not supported (DateCreated:asc or DateCreated:desc)", o)
	}
	var keep []func(didrouter.Task) bool
	none := false
	if name := q.Get("WorkflowName"); name != "" {
		sids, err := h.workflowsNamed(r.Context(), ws, name)
		if err != nil {
			return err
		}
		none = none || len(sids) == 0
		keep = append(keep, func(t didrouter.Task) bool { return sids[t.WorkflowSID] })
	}
	if name := q.Get("TaskQueueName"); name != "" {
		queues, err := h.queuesNamed(r.Context(), ws, name)
		if err != nil {
			return err
		}
		sids := map[string]bool{}
		for _, tq := range queues {
			sids[tq.SID] = true
		}
		none = none || len(sids) == 0
		keep = append(keep, func(t didrouter.Task) bool { return sids[t.TaskQueueSID] })
	}
	if s := q.Get("Priority"); s != "" {
		prio, err := strconv.Atoi(s)
		if err != nil {
			return didrouter.Errorf(didrouter.EINVALID, "Priority must be an integer, not %q", s)
		}
		keep = append(keep, func(t didrouter.Task) bool { return t.Priority == prio })
	}
	if src := q.Get("EvaluateTaskAttributes"); src != "" {
		e, err := compileFilter("EvaluateTaskAttributes", src, routing.ScopeTask)
		if err != nil {
			return err
		}
		keep = append(keep, func(t didrouter.Task) bool {
			attrs, err := routing.ParseAttributes([]byte(t.Attributes))
			return err == nil && e.Eval(attrs, nil)
		})
	}
	var match func(didrouter.Task) bool
	if len(keep) > 0 {
		match = func(t didrouter.Task) bool {
			for _, k := range keep {
				if !k(t) {
					return false
				}
			}
			return true
		}
	}
	page, next, err := listPage(p, none, func(page didrouter.Page) ([]didrouter.Task, error) {
		f.Page = page
		return h.store.ListTasks(r.Context(), ws, f)
	}, match, func(t didrouter.Task) string { return t.SID })
	if err != nil {
		return err
	}
	names := h.queueAndFlowNames(r.Context(), ws)
	return h.writePage(w, r, "tasks", p, next, render(r, page, func(r *http.Request, t didrouter.Task) taskJSON {
		return h.taskJSON(r, t, names)
	}))
}

// workflowsNamed returns the sids of the workflows with a friendly name.
func (h *Handler) workflowsNamed(ctx context.Context, ws, name string) (map[string]bool, error) {
	all, err := h.store.ListWorkflows(ctx, ws)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, wf := range all {
		if strings.EqualFold(wf.FriendlyName, name) {
			out[wf.SID] = true
		}
	}
	return out, nil
}

// createTask takes Attributes, WorkflowSid, Priority, Timeout and
// TaskChannel. WorkflowSid defaults to the workspace's default workflow.
// TaskChannel is a unique name such as "voice" or "chat", or its sid. The
// engine routes the task at once, like the task of a call.
func (h *Handler) createTask(ctx context.Context, ws string, f form) (didrouter.Task, error) {
	err := f.only("Attributes", "WorkflowSid", "Priority", "Timeout", "TaskChannel")
	var priority, timeout *int
	if err == nil {
		priority, err = f.intPtr("Priority")
	}
	if err == nil {
		timeout, err = f.intPtr("Timeout")
	}
	var channel string
	if err == nil {
		channel, err = taskChannelName(ws, f.get("TaskChannel"))
	}
	if err != nil {
		return didrouter.Task{}, err
	}
	n := engine.TaskInsert{WorkspaceSID: ws, WorkflowSID: f.get("WorkflowSid"), Attributes: f.get("Attributes"), TaskChannel: channel}
	if priority != nil {
		n.Priority = *priority
	}
	if timeout != nil {
		if *timeout == 0 {
			return didrouter.Task{}, didrouter.Errorf(didrouter.EINVALID, "Timeout must be between 1 and %d seconds, not 0", engine.MaxTaskTimeout)
		}
		n.Timeout = *timeout
	}
	res, err := h.eng.CreateTask(ctx, n)
	if err != nil && !res.Created {
		return didrouter.Task{}, err
	}
	if err != nil {
		// Stored but not routed yet: it waits like any pending task.
		h.log.WarnContext(ctx, "task created but not routed", "task", res.Task.SID, "err", err)
	}
	return res.Task, nil
}

// taskChannelName reads a TaskChannel parameter: a unique name, or the sid
// the API shows for one.
func taskChannelName(ws, v string) (string, error) {
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		return "", nil
	case isSID(v) && strings.HasPrefix(v, "TC"):
		for _, name := range []string{"voice", didrouter.MessageChannel, "default", "chat", "sms", "video", "email"} {
			if taskChannelSID(ws, name) == v {
				return name, nil
			}
		}
		return "", didrouter.Errorf(didrouter.EINVALID, "TaskChannel %s is not a task channel of this workspace", v)
	case len(v) > 64 || strings.ContainsFunc(v, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}):
		return "", didrouter.Errorf(didrouter.EINVALID, "TaskChannel %q is not a task channel name", v)
	}
	return strings.ToLower(v), nil
}

// updateTask takes Attributes and Priority, and routes a pending task again
// with them. It also takes AssignmentStatus with an optional Reason. A
// pending or reserved task may be canceled, and an assigned one may be
// wrapping or completed.
func (h *Handler) updateTask(ctx context.Context, ws, sid string, f form) (didrouter.Task, error) {
	err := f.only("Attributes", "Priority", "AssignmentStatus", "Reason")
	var priority *int
	if err == nil {
		priority, err = f.intPtr("Priority")
	}
	status, reason := f.get("AssignmentStatus"), f.get("Reason")
	if err == nil && reason != "" && status == "" {
		err = didrouter.Errorf(didrouter.EINVALID, "Reason goes with AssignmentStatus canceled, wrapping or completed")
	}
	if err != nil {
		return didrouter.Task{}, err
	}
	t, err := h.store.GetTask(ctx, ws, sid)
	if err != nil {
		return t, err
	}
	if attrs := f.ptr("Attributes"); attrs != nil || priority != nil {
		if t, err = h.eng.UpdateTask(ctx, ws, sid, engine.TaskUpdate{Attributes: attrs, Priority: priority}); err != nil {
			return t, err
		}
	}
	switch status {
	case "":
		return t, nil
	case didrouter.TaskCanceled:
		return h.eng.CancelTask(ctx, ws, sid, reason)
	case didrouter.TaskWrapping:
		return h.eng.WrapUpTask(ctx, ws, sid, reason)
	case didrouter.TaskCompleted:
		if err := h.completeAll(ctx, ws, sid, reason); err != nil {
			return t, err
		}
		return h.store.GetTask(ctx, ws, sid)
	default:
		return t, didrouter.Errorf(didrouter.EINVALID, "AssignmentStatus must be canceled, wrapping or completed, not %q", status)
	}
}
