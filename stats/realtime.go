package stats

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/didrouter/didrouter"
)

// LiveStatuses are the statuses of tasks still being routed or worked on.
var LiveStatuses = []string{didrouter.TaskPending, didrouter.TaskReserved, didrouter.TaskAssigned, didrouter.TaskWrapping}

// RealTime is the current state of a workspace's or a queue's tasks.
type RealTime struct {
	ByStatus   map[string]int // every status, zeros included
	ByPriority map[string]int // live tasks by priority
	Total      int

	// The oldest waiting (pending or reserved) task, by age and by time in
	// its current queue; "" when nobody waits. The ages are whole seconds
	// at now; the dates let a cached figure age on its own.
	LongestSID, LongestRelSID       string
	LongestAge, LongestRelAge       int
	LongestCreated, LongestRelEnter time.Time
}

// Waiting is how many tasks wait for an agent (pending or reserved: a
// caller listening to the ringing or the hold music).
func (rt RealTime) Waiting() int {
	return rt.ByStatus[didrouter.TaskPending] + rt.ByStatus[didrouter.TaskReserved]
}

// Tasks counts a queue's tasks, or the workspace's when queueSID is "". One
// aggregate query gives the counts. The waiting tasks are read to find the
// longest waiting, which is cheap because few tasks wait at a time.
func Tasks(ctx context.Context, st didrouter.Reader, ws, queueSID string, now time.Time) (RealTime, error) {
	rt := RealTime{ByStatus: map[string]int{}, ByPriority: map[string]int{}}
	for _, s := range append([]string{didrouter.TaskCompleted, didrouter.TaskCanceled}, LiveStatuses...) {
		rt.ByStatus[s] = 0
	}
	counts, err := st.CountTasks(ctx, ws, didrouter.TaskCountFilter{TaskQueueSID: queueSID})
	if err != nil {
		return rt, err
	}
	for _, c := range counts {
		rt.ByStatus[c.Status] += c.N
		rt.Total += c.N
		if slices.Contains(LiveStatuses, c.Status) {
			rt.ByPriority[strconv.Itoa(c.Priority)] += c.N
		}
	}
	var oldest, oldestRel didrouter.Task
	err = EachTask(ctx, st, ws, didrouter.TaskFilter{AssignmentStatus: []string{didrouter.TaskPending, didrouter.TaskReserved},
		TaskQueueSID: queueSID}, func(t didrouter.Task) {
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
		rt.LongestSID, rt.LongestCreated = oldest.SID, oldest.DateCreated
		rt.LongestRelSID, rt.LongestRelEnter = oldestRel.SID, oldestRel.StepEnteredAt
		rt.LongestAge, rt.LongestRelAge = Age(oldest.DateCreated, now), Age(oldestRel.StepEnteredAt, now)
	}
	return rt, nil
}

// Age is the whole seconds from since to now, never negative.
func Age(since, now time.Time) int { return max(int(now.Sub(since).Seconds()), 0) }

// EachTask pages through every task the filter selects.
func EachTask(ctx context.Context, st didrouter.Reader, ws string, f didrouter.TaskFilter, fn func(didrouter.Task)) error {
	for {
		f.Page.Size = pageSize
		rows, err := st.ListTasks(ctx, ws, f)
		if err != nil {
			return err
		}
		for _, t := range rows {
			fn(t)
		}
		if len(rows) < pageSize {
			return nil
		}
		f.Page.After = rows[len(rows)-1].SID
	}
}

// ActivityCount is how many workers are in one activity.
type ActivityCount struct {
	SID          string `json:"sid"`
	FriendlyName string `json:"friendly_name"`
	Available    bool   `json:"-"`
	Workers      int    `json:"workers"`
}

// Workers counts a workspace's workers by activity, in the store's order
// of activities; with member, only the workers it accepts (a queue's
// members). available counts the counted workers in an available activity.
func Workers(ctx context.Context, st didrouter.Reader, ws string, member func(didrouter.Worker) bool) (acts []ActivityCount, total, available int, err error) {
	activities, err := st.ListActivities(ctx, ws)
	if err != nil {
		return nil, 0, 0, err
	}
	byActivity := map[string]int{}
	err = st.EachWorker(ctx, ws, func(w didrouter.Worker) error {
		if member != nil && !member(w) {
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
	acts = make([]ActivityCount, 0, len(activities))
	for _, a := range activities {
		acts = append(acts, ActivityCount{SID: a.SID, FriendlyName: a.FriendlyName, Available: a.Available, Workers: byActivity[a.SID]})
	}
	return acts, total, available, nil
}
