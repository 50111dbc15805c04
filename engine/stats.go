package engine

// TaskCountFilter narrows Reader.CountTasks. Empty fields do not filter.
type TaskCountFilter struct {
	TaskQueueSID string
	WorkflowSID  string
	TaskChannel  string
}

// TaskCount is how many tasks of a workspace have one status and priority
// (the real-time statistics of the TaskRouter API).
type TaskCount struct {
	Status   string
	Priority int
	N        int
}

// FirstTarget reports whether a task at this routing position is at the
// first target of a filter it matched: its first choice, the number's
// owner in the DID workflow. An answer there is "answered by the owner"
// (metrics, statistics and the admin console's board); anywhere else,
// including the default filter, it went to someone else (Everyone).
func FirstTarget(filter, target int) bool { return filter >= 0 && target == 0 }
