package api

import (
	"context"
	"net/http"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/routing"
	"github.com/didrouter/didrouter/stats"
)

// The statistics' JSON pieces, as package stats computes them.
type (
	activityStat = stats.ActivityCount
	durationJSON = stats.Summary
)

// workerStats counts workers by activity; with a queue, only its members
// (the workers its target_workers expression matches). available counts
// members in an available activity.
func (h *Handler) workerStats(ctx context.Context, ws string, queue *didrouter.TaskQueue) (acts []activityStat, total, available int, err error) {
	var member func(didrouter.Worker) bool
	if queue != nil {
		expr, err := compileFilter("target_workers of "+queue.SID, queue.TargetWorkers, routing.ScopeWorker)
		if err != nil {
			return nil, 0, 0, err
		}
		member = func(w didrouter.Worker) bool { return expr.EvalWorker(nil, workerInfo(w)) }
	}
	return stats.Workers(ctx, h.store, ws, member)
}

type workspaceRealTimeJSON struct {
	AccountSID            *string        `json:"account_sid"`
	ActivityStatistics    []activityStat `json:"activity_statistics"`
	LongestTaskWaitingAge int            `json:"longest_task_waiting_age"`
	LongestTaskWaitingSID *string        `json:"longest_task_waiting_sid"`
	TasksByPriority       map[string]int `json:"tasks_by_priority"`
	TasksByStatus         map[string]int `json:"tasks_by_status"`
	TotalTasks            int            `json:"total_tasks"`
	TotalWorkers          int            `json:"total_workers"`
	WorkspaceSID          string         `json:"workspace_sid"`
	URL                   string         `json:"url,omitempty"`
}

// workspaceRealTimeJSON computes the workspace's real-time statistics; url
// is shown as their url ("" inside /Statistics).
func (h *Handler) workspaceRealTimeJSON(r *http.Request, url string) (workspaceRealTimeJSON, error) {
	ws := workspaceOf(r).SID
	rt, err := stats.Tasks(r.Context(), h.store, ws, "", h.clock.Now())
	if err != nil {
		return workspaceRealTimeJSON{}, err
	}
	acts, total, _, err := h.workerStats(r.Context(), ws, nil)
	if err != nil {
		return workspaceRealTimeJSON{}, err
	}
	return workspaceRealTimeJSON{
		AccountSID: nullable(h.account), ActivityStatistics: acts,
		LongestTaskWaitingAge: rt.LongestAge, LongestTaskWaitingSID: nullable(rt.LongestSID),
		TasksByPriority: rt.ByPriority, TasksByStatus: rt.ByStatus, TotalTasks: rt.Total, TotalWorkers: total,
		WorkspaceSID: ws, URL: url,
	}, nil
}

type cumulativeJSON struct {
	AccountSID                       *string        `json:"account_sid"`
	AvgTaskAcceptanceTime            int            `json:"avg_task_acceptance_time"`
	StartTime                        *string        `json:"start_time"`
	EndTime                          *string        `json:"end_time"`
	ReservationsCreated              int            `json:"reservations_created"`
	ReservationsAccepted             int            `json:"reservations_accepted"`
	ReservationsRejected             int            `json:"reservations_rejected"`
	ReservationsTimedOut             int            `json:"reservations_timed_out"`
	ReservationsCanceled             int            `json:"reservations_canceled"`
	ReservationsRescinded            int            `json:"reservations_rescinded"`
	SplitByWaitTime                  map[string]any `json:"split_by_wait_time"`
	WaitDurationUntilAccepted        durationJSON   `json:"wait_duration_until_accepted"`
	WaitDurationUntilCanceled        durationJSON   `json:"wait_duration_until_canceled"`
	WaitDurationInQueueUntilAccepted *durationJSON  `json:"wait_duration_in_queue_until_accepted,omitempty"`
	TasksCanceled                    int            `json:"tasks_canceled"`
	TasksCompleted                   int            `json:"tasks_completed"`
	TasksCreated                     *int           `json:"tasks_created,omitempty"`
	TasksDeleted                     int            `json:"tasks_deleted"`
	TasksEntered                     *int           `json:"tasks_entered,omitempty"`
	TasksMoved                       int            `json:"tasks_moved"`
	TasksTimedOutInWorkflow          *int           `json:"tasks_timed_out_in_workflow,omitempty"`
	TaskQueueSID                     string         `json:"task_queue_sid,omitempty"`
	WorkspaceSID                     string         `json:"workspace_sid"`
	URL                              string         `json:"url,omitempty"`
}

// cumulativeJSON renders c; queueSID "" renders the workspace's figures.
func (h *Handler) cumulativeJSON(ws, queueSID string, c *stats.Cumulative, win stats.Window) cumulativeJSON {
	acc := c.Accepted.Summary()
	out := cumulativeJSON{
		AccountSID: nullable(h.account), AvgTaskAcceptanceTime: acc.Avg,
		StartTime: isoTime(win.Start), EndTime: isoTime(win.End),
		ReservationsCreated:       c.Counts[didrouter.EventReservationCreated],
		ReservationsAccepted:      c.Counts[didrouter.EventReservationAccepted],
		ReservationsRejected:      c.Counts[didrouter.EventReservationRejected],
		ReservationsTimedOut:      c.Counts[didrouter.EventReservationTimeout],
		ReservationsCanceled:      c.Counts[didrouter.EventReservationCanceled],
		ReservationsRescinded:     c.Counts[didrouter.EventReservationRescinded],
		SplitByWaitTime:           c.SplitByWaitTime(win.Splits),
		WaitDurationUntilAccepted: acc,
		WaitDurationUntilCanceled: c.Canceled.Summary(),
		TasksCanceled:             c.Counts[didrouter.EventTaskCanceled],
		TasksCompleted:            c.Counts[didrouter.EventTaskCompleted],
		TasksDeleted:              c.Counts[didrouter.EventTaskDeleted],
		TasksMoved:                c.Moved,
		TaskQueueSID:              queueSID,
		WorkspaceSID:              ws,
	}
	if len(win.Splits) == 0 {
		out.SplitByWaitTime = nil
	}
	if queueSID == "" {
		created, timedOut := c.Counts[didrouter.EventTaskCreated], c.Counts[didrouter.EventWorkflowTimeout]
		out.TasksCreated, out.TasksTimedOutInWorkflow = &created, &timedOut
	} else {
		inQueue, entered := c.InQueue.Summary(), c.Entered
		out.WaitDurationInQueueUntilAccepted, out.TasksEntered = &inQueue, &entered
	}
	return out
}

// cumulative computes the cumulative statistics of the request's window,
// of the queue queueSID or, when it is "", of the workspace. url is shown
// as their url ("" inside /Statistics).
func (h *Handler) cumulative(r *http.Request, ws, queueSID, url string) (cumulativeJSON, error) {
	win, err := parseWindow(r.URL.Query(), h.clock.Now())
	if err != nil {
		return cumulativeJSON{}, err
	}
	pass, err := stats.Collect(r.Context(), h.store, ws, win)
	if err != nil {
		return cumulativeJSON{}, err
	}
	c := pass.Workspace
	if queueSID != "" {
		c = pass.Queue(queueSID)
	}
	out := h.cumulativeJSON(ws, queueSID, c, win)
	out.URL = url
	return out, nil
}

func (h *Handler) workspaceRealTime(w http.ResponseWriter, r *http.Request) error {
	out, err := h.workspaceRealTimeJSON(r, h.workspaceURL(r, workspaceOf(r).SID)+"/RealTimeStatistics")
	return reply(w, out, err)
}

func (h *Handler) workspaceCumulative(w http.ResponseWriter, r *http.Request) error {
	ws := workspaceOf(r).SID
	out, err := h.cumulative(r, ws, "", h.workspaceURL(r, ws)+"/CumulativeStatistics")
	return reply(w, out, err)
}

func (h *Handler) workspaceStatistics(w http.ResponseWriter, r *http.Request) error {
	ws := workspaceOf(r).SID
	rt, err := h.workspaceRealTimeJSON(r, "")
	if err != nil {
		return err
	}
	cu, err := h.cumulative(r, ws, "", "")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"account_sid": nullable(h.account), "workspace_sid": ws, "realtime": rt, "cumulative": cu,
		"url": h.workspaceURL(r, ws) + "/Statistics",
	})
	return nil
}

type queueRealTimeJSON struct {
	AccountSID                    *string        `json:"account_sid"`
	ActivityStatistics            []activityStat `json:"activity_statistics"`
	LongestTaskWaitingAge         int            `json:"longest_task_waiting_age"`
	LongestTaskWaitingSID         *string        `json:"longest_task_waiting_sid"`
	LongestRelativeTaskAgeInQueue int            `json:"longest_relative_task_age_in_queue"`
	LongestRelativeTaskSIDInQueue *string        `json:"longest_relative_task_sid_in_queue"`
	TaskQueueSID                  string         `json:"task_queue_sid"`
	TasksByPriority               map[string]int `json:"tasks_by_priority"`
	TasksByStatus                 map[string]int `json:"tasks_by_status"`
	TotalAvailableWorkers         int            `json:"total_available_workers"`
	TotalEligibleWorkers          int            `json:"total_eligible_workers"`
	TotalTasks                    int            `json:"total_tasks"`
	WorkspaceSID                  string         `json:"workspace_sid"`
	URL                           string         `json:"url,omitempty"`
}

// queueRealTimeJSON computes the real-time statistics of q; url is shown
// as their url ("" inside a queue's statistics).
func (h *Handler) queueRealTimeJSON(ctx context.Context, q didrouter.TaskQueue, url string) (queueRealTimeJSON, error) {
	rt, err := stats.Tasks(ctx, h.store, q.WorkspaceSID, q.SID, h.clock.Now())
	if err != nil {
		return queueRealTimeJSON{}, err
	}
	acts, total, available, err := h.workerStats(ctx, q.WorkspaceSID, &q)
	if err != nil {
		return queueRealTimeJSON{}, err
	}
	return queueRealTimeJSON{
		AccountSID: nullable(h.account), ActivityStatistics: acts,
		LongestTaskWaitingAge: rt.LongestAge, LongestTaskWaitingSID: nullable(rt.LongestSID),
		LongestRelativeTaskAgeInQueue: rt.LongestRelAge, LongestRelativeTaskSIDInQueue: nullable(rt.LongestRelSID),
		TaskQueueSID: q.SID, TasksByPriority: rt.ByPriority, TasksByStatus: rt.ByStatus,
		TotalAvailableWorkers: available, TotalEligibleWorkers: total, TotalTasks: rt.Total, WorkspaceSID: q.WorkspaceSID,
		URL: url,
	}, nil
}

// pathQueue reads the queue of the path.
func (h *Handler) pathQueue(r *http.Request) (didrouter.TaskQueue, error) {
	ws, sid := pathSID(r)
	return h.store.GetTaskQueue(r.Context(), ws, sid)
}

// queueURL is the url of a queue, the prefix of its statistics'.
func (h *Handler) queueURL(r *http.Request, q didrouter.TaskQueue) string {
	return h.workspaceURL(r, q.WorkspaceSID) + "/TaskQueues/" + q.SID
}

func (h *Handler) taskQueueRealTime(w http.ResponseWriter, r *http.Request, q didrouter.TaskQueue) error {
	if s := r.URL.Query().Get("TaskChannel"); s != "" {
		return didrouter.Errorf(didrouter.EINVALID, "TaskChannel is not supported by didrouter's statistics (they count every channel)")
	}
	out, err := h.queueRealTimeJSON(r.Context(), q, h.queueURL(r, q)+"/RealTimeStatistics")
	return reply(w, out, err)
}

func (h *Handler) taskQueueCumulative(w http.ResponseWriter, r *http.Request, q didrouter.TaskQueue) error {
	out, err := h.cumulative(r, q.WorkspaceSID, q.SID, h.queueURL(r, q)+"/CumulativeStatistics")
	return reply(w, out, err)
}

func (h *Handler) taskQueueStatistics(w http.ResponseWriter, r *http.Request, q didrouter.TaskQueue) error {
	cu, err := h.cumulative(r, q.WorkspaceSID, q.SID, "")
	if err != nil {
		return err
	}
	rt, err := h.queueRealTimeJSON(r.Context(), q, "")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"account_sid": nullable(h.account), "workspace_sid": q.WorkspaceSID, "task_queue_sid": q.SID,
		"realtime": rt, "cumulative": cu, "url": h.queueURL(r, q) + "/Statistics",
	})
	return nil
}

// taskQueuesStatistics lists every queue's statistics (FriendlyName
// filters), computing the window's events once for all of them.
func (h *Handler) taskQueuesStatistics(w http.ResponseWriter, r *http.Request, p pageRequest) error {
	q := r.URL.Query()
	ws := workspaceOf(r).SID
	win, err := parseWindow(q, h.clock.Now())
	if err != nil {
		return err
	}
	all, err := h.store.ListTaskQueues(r.Context(), ws)
	if err != nil {
		return err
	}
	name := q.Get("FriendlyName")
	kept := keep(all, func(tq didrouter.TaskQueue) bool { return name == "" || tq.FriendlyName == name })
	page, next := pageOf(kept, p, func(q didrouter.TaskQueue) string { return q.SID })
	pass, err := stats.Collect(r.Context(), h.store, ws, win)
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(page))
	for _, tq := range page {
		rt, err := h.queueRealTimeJSON(r.Context(), tq, "")
		if err != nil {
			return err
		}
		out = append(out, map[string]any{
			"account_sid": nullable(h.account), "workspace_sid": ws, "task_queue_sid": tq.SID,
			"realtime": rt, "cumulative": h.cumulativeJSON(ws, tq.SID, pass.Queue(tq.SID), win),
		})
	}
	return h.writePage(w, r, "task_queues_statistics", p, next, out)
}
