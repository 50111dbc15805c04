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
