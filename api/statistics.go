package api

import (
	"context"
	"net/http"
	"slices"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/routing"
)

func (h *Handler) statisticsRoutes(r chi.Router) {
	r.Get("/Statistics", h.workspaceStatistics)
	r.Get("/RealTimeStatistics", h.workspaceRealTime)
	r.Get("/CumulativeStatistics", h.workspaceCumulative)
	r.Get("/TaskQueues/Statistics", h.taskQueuesStatistics)
	r.Get("/TaskQueues/{sid}/Statistics", h.taskQueueStatistics)
	r.Get("/TaskQueues/{sid}/RealTimeStatistics", h.taskQueueRealTime)
	r.Get("/TaskQueues/{sid}/CumulativeStatistics", h.taskQueueCumulative)
}

// liveStatuses are the statuses of tasks still being routed or worked on.
var liveStatuses = []string{engine.TaskPending, engine.TaskReserved, engine.TaskAssigned, engine.TaskWrapping}

// realtime is the current state of a workspace's or a queue's tasks.
type realtime struct {
	byStatus   map[string]int
	byPriority map[string]int // live tasks by priority
	total      int

	longestSID, longestRelSID string // oldest waiting (pending or reserved) task: by age, by time in its queue
	longestAge, longestRelAge int
}

// realtimeTasks counts a workspace's tasks (queueSID "") or a queue's:
// one aggregate query for the counts, and a read of the waiting tasks
// (pending or reserved: few) for the longest waiting.
func (h *Handler) realtimeTasks(ctx context.Context, ws, queueSID string) (realtime, error) {
	rt := realtime{byStatus: map[string]int{}, byPriority: map[string]int{}}
	for _, s := range append([]string{engine.TaskCompleted, engine.TaskCanceled}, liveStatuses...) {
		rt.byStatus[s] = 0
	}
	counts, err := h.store.CountTasks(ctx, ws, engine.TaskCountFilter{TaskQueueSID: queueSID})
	if err != nil {
		return rt, err
	}
	for _, c := range counts {
		rt.byStatus[c.Status] += c.N
		rt.total += c.N
		if slices.Contains(liveStatuses, c.Status) {
			rt.byPriority[strconv.Itoa(c.Priority)] += c.N
		}
	}
	now := h.clock.Now()
	var oldest, oldestRel engine.Task
	err = h.eachTask(ctx, ws, engine.TaskFilter{AssignmentStatus: []string{engine.TaskPending, engine.TaskReserved},
		TaskQueueSID: queueSID}, func(t engine.Task) {
		if oldest.SID == "" || t.DateCreated.Before(oldest.DateCreated) {
			oldest = t
		}
		if oldestRel.SID == "" || t.StepEnteredAt.Before(oldestRel.StepEnteredAt) {
			oldestRel = t
		}
	})
	if err != nil {
		return rt, err
	}
	if oldest.SID != "" {
		rt.longestSID, rt.longestAge = oldest.SID, max(int(now.Sub(oldest.DateCreated).Seconds()), 0)
		rt.longestRelSID, rt.longestRelAge = oldestRel.SID, max(int(now.Sub(oldestRel.StepEnteredAt).Seconds()), 0)
	}
	return rt, nil
}

// eachTask pages through every task the filter selects.
func (h *Handler) eachTask(ctx context.Context, ws string, f engine.TaskFilter, fn func(engine.Task)) error {
	for {
		f.Page.Size = maxPageSize
		rows, err := h.store.ListTasks(ctx, ws, f)
		if err != nil {
			return err
		}
		for _, t := range rows {
			fn(t)
		}
		if len(rows) < maxPageSize {
			return nil
		}
		f.Page.After = rows[len(rows)-1].SID
	}
}

type activityStat struct {
	SID          string `json:"sid"`
	FriendlyName string `json:"friendly_name"`
	Workers      int    `json:"workers"`
}

// workerStats counts workers by activity; with a queue, only its members
// (the workers its target_workers expression matches). available counts
// members in an available activity.
func (h *Handler) workerStats(ctx context.Context, ws string, queue *engine.TaskQueue) (acts []activityStat, total, available int, err error) {
	activities, err := h.store.ListActivities(ctx, ws)
	if err != nil {
		return nil, 0, 0, err
	}
	var expr *routing.Expr
	if queue != nil {
		if expr, err = compileFilter("target_workers of "+queue.SID, queue.TargetWorkers, routing.ScopeWorker); err != nil {
			return nil, 0, 0, err
		}
	}
	byActivity := map[string]int{}
	err = h.store.EachWorker(ctx, ws, func(w engine.Worker) error {
		if expr != nil && !expr.EvalWorker(nil, workerInfo(w)) {
			return nil
		}
		total++
		byActivity[w.ActivitySID]++
		if w.Available {
			available++
		}
		return nil
	})
	if err != nil {
		return nil, 0, 0, err
	}
	acts = make([]activityStat, 0, len(activities))
	for _, a := range activities {
		acts = append(acts, activityStat{SID: a.SID, FriendlyName: a.FriendlyName, Workers: byActivity[a.SID]})
	}
	return acts, total, available, nil
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

func (h *Handler) workspaceRealTimeJSON(r *http.Request) (workspaceRealTimeJSON, error) {
	ws := workspaceOf(r).SID
	rt, err := h.realtimeTasks(r.Context(), ws, "")
	if err != nil {
		return workspaceRealTimeJSON{}, err
	}
	acts, total, _, err := h.workerStats(r.Context(), ws, nil)
	if err != nil {
		return workspaceRealTimeJSON{}, err
	}
	return workspaceRealTimeJSON{
		AccountSID: nullable(h.account), ActivityStatistics: acts,
		LongestTaskWaitingAge: rt.longestAge, LongestTaskWaitingSID: nullable(rt.longestSID),
		TasksByPriority: rt.byPriority, TasksByStatus: rt.byStatus, TotalTasks: rt.total, TotalWorkers: total,
		WorkspaceSID: ws,
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
func (h *Handler) cumulativeJSON(ws, queueSID string, c *cumulative, win statsWindow) cumulativeJSON {
	if c == nil {
		c = newCumulative()
	}
	acc := c.accepted.summary()
	out := cumulativeJSON{
		AccountSID: nullable(h.account), AvgTaskAcceptanceTime: acc.Avg,
		StartTime: isoTime(win.start), EndTime: isoTime(win.end),
		ReservationsCreated:       c.counts[engine.EventReservationCreated],
		ReservationsAccepted:      c.counts[engine.EventReservationAccepted],
		ReservationsRejected:      c.counts[engine.EventReservationRejected],
		ReservationsTimedOut:      c.counts[engine.EventReservationTimeout],
		ReservationsCanceled:      c.counts[engine.EventReservationCanceled],
		ReservationsRescinded:     c.counts[engine.EventReservationRescinded],
		SplitByWaitTime:           c.splitJSON(win.splits),
		WaitDurationUntilAccepted: acc,
		WaitDurationUntilCanceled: c.canceled.summary(),
		TasksCanceled:             c.counts[engine.EventTaskCanceled],
		TasksCompleted:            c.counts[engine.EventTaskCompleted],
		TasksDeleted:              c.counts[engine.EventTaskDeleted],
		TasksMoved:                c.moved,
		TaskQueueSID:              queueSID,
		WorkspaceSID:              ws,
	}
	if len(win.splits) == 0 {
		out.SplitByWaitTime = nil
	}
	if queueSID == "" {
		created, timedOut := c.counts[engine.EventTaskCreated], c.counts[engine.EventWorkflowTimeout]
		out.TasksCreated, out.TasksTimedOutInWorkflow = &created, &timedOut
	} else {
		inQueue, entered := c.inQueue.summary(), c.entered
		out.WaitDurationInQueueUntilAccepted, out.TasksEntered = &inQueue, &entered
	}
	return out
}

func (h *Handler) workspaceCumulativeJSON(r *http.Request) (cumulativeJSON, error) {
	ws := workspaceOf(r).SID
	win, err := parseWindow(r.URL.Query(), h.clock.Now())
	if err != nil {
		return cumulativeJSON{}, err
	}
	pass, err := h.cumulativeStats(r.Context(), ws, win)
	if err != nil {
		return cumulativeJSON{}, err
	}
	return h.cumulativeJSON(ws, "", pass.workspace, win), nil
}

func (h *Handler) workspaceRealTime(w http.ResponseWriter, r *http.Request) {
	out, err := h.workspaceRealTimeJSON(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out.URL = h.workspaceURL(r, out.WorkspaceSID) + "/RealTimeStatistics"
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) workspaceCumulative(w http.ResponseWriter, r *http.Request) {
	out, err := h.workspaceCumulativeJSON(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out.URL = h.workspaceURL(r, out.WorkspaceSID) + "/CumulativeStatistics"
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) workspaceStatistics(w http.ResponseWriter, r *http.Request) {
	rt, err := h.workspaceRealTimeJSON(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	cu, err := h.workspaceCumulativeJSON(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ws := workspaceOf(r).SID
	writeJSON(w, http.StatusOK, map[string]any{
		"account_sid": nullable(h.account), "workspace_sid": ws, "realtime": rt, "cumulative": cu,
		"url": h.workspaceURL(r, ws) + "/Statistics",
	})
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

func (h *Handler) queueRealTimeJSON(ctx context.Context, q engine.TaskQueue) (queueRealTimeJSON, error) {
	rt, err := h.realtimeTasks(ctx, q.WorkspaceSID, q.SID)
	if err != nil {
		return queueRealTimeJSON{}, err
	}
	acts, total, available, err := h.workerStats(ctx, q.WorkspaceSID, &q)
	if err != nil {
		return queueRealTimeJSON{}, err
	}
	return queueRealTimeJSON{
		AccountSID: nullable(h.account), ActivityStatistics: acts,
		LongestTaskWaitingAge: rt.longestAge, LongestTaskWaitingSID: nullable(rt.longestSID),
		LongestRelativeTaskAgeInQueue: rt.longestRelAge, LongestRelativeTaskSIDInQueue: nullable(rt.longestRelSID),
		TaskQueueSID: q.SID, TasksByPriority: rt.byPriority, TasksByStatus: rt.byStatus,
		TotalAvailableWorkers: available, TotalEligibleWorkers: total, TotalTasks: rt.total, WorkspaceSID: q.WorkspaceSID,
	}, nil
}

// pathQueue reads the queue of the path.
func (h *Handler) pathQueue(r *http.Request) (engine.TaskQueue, error) {
	return h.store.GetTaskQueue(r.Context(), workspaceOf(r).SID, chi.URLParam(r, "sid"))
}

func (h *Handler) taskQueueRealTime(w http.ResponseWriter, r *http.Request) {
	q, err := h.pathQueue(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if s := r.URL.Query().Get("TaskChannel"); s != "" {
		h.writeError(w, r, engine.Errorf(engine.EINVALID, "TaskChannel is not supported by didrouter's statistics (they count every channel)"))
		return
	}
	out, err := h.queueRealTimeJSON(r.Context(), q)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out.URL = h.workspaceURL(r, q.WorkspaceSID) + "/TaskQueues/" + q.SID + "/RealTimeStatistics"
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) queueCumulative(r *http.Request, q engine.TaskQueue) (cumulativeJSON, error) {
	win, err := parseWindow(r.URL.Query(), h.clock.Now())
	if err != nil {
		return cumulativeJSON{}, err
	}
	pass, err := h.cumulativeStats(r.Context(), q.WorkspaceSID, win)
	if err != nil {
		return cumulativeJSON{}, err
	}
	return h.cumulativeJSON(q.WorkspaceSID, q.SID, pass.queues[q.SID], win), nil
}

func (h *Handler) taskQueueCumulative(w http.ResponseWriter, r *http.Request) {
	q, err := h.pathQueue(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out, err := h.queueCumulative(r, q)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out.URL = h.workspaceURL(r, q.WorkspaceSID) + "/TaskQueues/" + q.SID + "/CumulativeStatistics"
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) taskQueueStatistics(w http.ResponseWriter, r *http.Request) {
	q, err := h.pathQueue(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	cu, err := h.queueCumulative(r, q)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	rt, err := h.queueRealTimeJSON(r.Context(), q)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"account_sid": nullable(h.account), "workspace_sid": q.WorkspaceSID, "task_queue_sid": q.SID,
		"realtime": rt, "cumulative": cu,
		"url": h.workspaceURL(r, q.WorkspaceSID) + "/TaskQueues/" + q.SID + "/Statistics",
	})
}

// taskQueuesStatistics lists every queue's statistics (FriendlyName
// filters), computing the window's events once for all of them.
func (h *Handler) taskQueuesStatistics(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, err := parsePage(q)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ws := workspaceOf(r).SID
	win, err := parseWindow(q, h.clock.Now())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	all, err := h.store.ListTaskQueues(r.Context(), ws)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	name := q.Get("FriendlyName")
	kept := all[:0:0]
	for _, tq := range all {
		if name == "" || tq.FriendlyName == name {
			kept = append(kept, tq)
		}
	}
	page, next := pageOf(kept, p, func(q engine.TaskQueue) string { return q.SID })
	pass, err := h.cumulativeStats(r.Context(), ws, win)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := make([]map[string]any, 0, len(page))
	for _, tq := range page {
		rt, err := h.queueRealTimeJSON(r.Context(), tq)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		out = append(out, map[string]any{
			"account_sid": nullable(h.account), "workspace_sid": ws, "task_queue_sid": tq.SID,
			"realtime": rt, "cumulative": h.cumulativeJSON(ws, tq.SID, pass.queues[tq.SID], win),
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"task_queues_statistics": out,
		"meta": h.listMeta(r, "task_queues_statistics", p, next)})
}
