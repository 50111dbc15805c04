package didrouter

import (
	"context"
	"time"
)

// Store persists the domain. store/postgres and store/sqlite implement it,
// and the contract suite of store/storetest runs against both. Errors are
// *Error values, such as ENOTFOUND or ECONFLICT, where a caller can act on
// them. Anything else is wrapped with %w.
//
// Several didrouter instances may share one Postgres store. So every
// decision that must be unique is taken inside Tx with row locks or
// conditional updates, never from in-memory state alone. A worker's
// capacity, a task's single pending reservation and a claimed timer are
// such decisions.
type Store interface {
	Reader

	// Tx runs fn in one transaction and commits when fn returns nil. A
	// deadlock, serialization failure or busy database is retried a few
	// times, so fn must be safe to run again. Change notifications written in
	// fn are delivered to subscribers (of every instance) only after commit.
	Tx(ctx context.Context, fn func(Tx) error) error

	// Subscribe delivers committed changes from every instance sharing the
	// store until ctx ends. A change only wakes the receiver, who re-reads
	// what it needs. On a lost connection Subscribe sends a Change with
	// Kind ChangeResync, and the receiver must reload its state.
	Subscribe(ctx context.Context) (<-chan Change, error)

	// Ping checks that the store is reachable.
	Ping(ctx context.Context) error
	Close()
}

// Change kinds.
const (
	ChangeWorker    = "worker"
	ChangeTaskQueue = "taskqueue"
	ChangeWorkflow  = "workflow"
	ChangeActivity  = "activity"
	ChangeTask      = "task"  // a task became pending (waiting for a worker) or left that state
	ChangeTimer     = "timer" // a timer was set: timer loops may want to wake earlier
	ChangeResync    = "resync"
	// Kinds of the configuration a call reads on every webhook.
	ChangeWorkspace = "workspace" // a workspace's settings changed
	ChangeBinding   = "binding"   // phone number bindings changed (SID unused: all are forgotten)
)

// ChangeReservation says a reservation was created or changed status. Its
// SID is the reservation's worker, because the agent desktop re-reads that
// worker's calls. Routing ignores it.
const ChangeReservation = "reservation"

// Change names a committed change.
type Change struct {
	Kind         string
	WorkspaceSID string
	SID          string
}

// Page asks for one page of a list, ordered by date created then sid.
// After is the sid of the last item of the previous page, or "" for the
// first page. Size 0 means 50, and the store caps it at 1000.
type Page struct {
	Size  int
	After string
}

// WorkerFilter narrows ListWorkers. Empty fields do not filter.
type WorkerFilter struct {
	Page
	ActivitySID  string
	ActivityName string
	Available    *bool
	FriendlyName string
}

// TaskFilter narrows ListTasks. Empty fields do not filter.
type TaskFilter struct {
	Page
	AssignmentStatus []string
	WorkflowSID      string
	TaskQueueSID     string
	Newest           bool // order by date created descending
}

// ReservationFilter narrows ListReservations. Empty fields do not filter.
type ReservationFilter struct {
	Page
	TaskSID   string
	WorkerSID string
	Status    string
	Newest    bool // order by date created descending (an agent's recent calls)
}

// EventFilter narrows ListEvents. Zero fields do not filter.
type EventFilter struct {
	Page
	EventType      string
	ResourceSID    string
	TaskSID        string
	WorkerSID      string
	ReservationSID string
	StartDate      time.Time
	EndDate        time.Time
	Newest         bool // order by date descending (a worker's latest activity change)
}

// Reader reads committed state. Get* return an ENOTFOUND *Error when the row
// does not exist (also when it exists in another workspace).
type Reader interface {
	GetWorkspace(ctx context.Context, sid string) (Workspace, error)
	ListWorkspaces(ctx context.Context) ([]Workspace, error)

	GetActivity(ctx context.Context, workspaceSID, sid string) (Activity, error)
	ListActivities(ctx context.Context, workspaceSID string) ([]Activity, error)

	GetWorker(ctx context.Context, workspaceSID, sid string) (Worker, error)
	// WorkerByPhoneNumber finds the owner of an E.164 DID.
	WorkerByPhoneNumber(ctx context.Context, workspaceSID, e164 string) (Worker, error)
	ListWorkers(ctx context.Context, workspaceSID string, f WorkerFilter) ([]Worker, error)
	// EachWorker streams every worker of a workspace (for building the index).
	EachWorker(ctx context.Context, workspaceSID string, fn func(Worker) error) error
	// EachWorkerRow streams the same workers as EachWorker, in no
	// particular order and with only the columns the routing index needs,
	// as raw bytes (loading the index of a large fleet). The row and its
	// byte slices are the store's and valid only until fn returns.
	EachWorkerRow(ctx context.Context, workspaceSID string, fn func(*WorkerRow) error) error
	// CountWorkers counts a workspace's workers (to size the index before
	// loading it).
	CountWorkers(ctx context.Context, workspaceSID string) (int, error)

	GetTaskQueue(ctx context.Context, workspaceSID, sid string) (TaskQueue, error)
	ListTaskQueues(ctx context.Context, workspaceSID string) ([]TaskQueue, error)

	GetWorkflow(ctx context.Context, workspaceSID, sid string) (Workflow, error)
	ListWorkflows(ctx context.Context, workspaceSID string) ([]Workflow, error)

	GetTask(ctx context.Context, workspaceSID, sid string) (Task, error)
	TaskByCallSID(ctx context.Context, workspaceSID, callSID string) (Task, error)
	ListTasks(ctx context.Context, workspaceSID string, f TaskFilter) ([]Task, error)
	// WaitingTasks lists pending tasks in service order: priority descending,
	// then date created ascending.
	WaitingTasks(ctx context.Context, workspaceSID string, limit int) ([]Task, error)
	// CountTasks counts the tasks f selects by status and priority, in one
	// aggregate query. Only combinations that occur are returned.
	CountTasks(ctx context.Context, workspaceSID string, f TaskCountFilter) ([]TaskCount, error)

	GetReservation(ctx context.Context, workspaceSID, sid string) (Reservation, error)
	ListReservations(ctx context.Context, workspaceSID string, f ReservationFilter) ([]Reservation, error)

	ListEvents(ctx context.Context, workspaceSID string, f EventFilter) ([]Event, error)

	GetBinding(ctx context.Context, e164 string) (PhoneNumberBinding, error)
	ListBindings(ctx context.Context, workspaceSID string) ([]PhoneNumberBinding, error)
}

// Tx is one transaction. Its Get* methods lock the row they return (SELECT
// … FOR UPDATE on Postgres) so that a read-modify-write on one task or
// worker is serialized across instances. Lock order is task, then
// reservation, then worker, to avoid deadlocks.
type Tx interface {
	Reader

	InsertWorkspace(ctx context.Context, w Workspace) error
	UpdateWorkspace(ctx context.Context, w Workspace) error
	// LockWorkspaces makes other transactions that call it wait until this
	// one ends. Reads after it see the workspaces they committed. Seeding
	// takes it so that instances starting at once create one workspace.
	LockWorkspaces(ctx context.Context) error

	InsertActivity(ctx context.Context, a Activity) error
	UpdateActivity(ctx context.Context, a Activity) error
	// DeleteActivity fails with ECONFLICT when a worker or the workspace uses it.
	DeleteActivity(ctx context.Context, workspaceSID, sid string) error

	// InsertWorker fails with ECONFLICT when PhoneNumber is owned by another worker.
	InsertWorker(ctx context.Context, w Worker) error
	// UpdateWorker writes FriendlyName, Attributes, ActivitySID, ActivityName,
	// Available, Capacity, MessageCapacity, PhoneNumber, DateStatusChanged
	// and DateUpdated, and bumps Version. ECONFLICT when PhoneNumber is
	// owned by another worker. It never writes Busy or MessageBusy. Only the
	// two methods below do.
	UpdateWorker(ctx context.Context, w Worker) error
	DeleteWorker(ctx context.Context, workspaceSID, sid string) error
	// ClaimWorker takes one unit of the capacity a task of the given task
	// channel needs if, and only if, the worker is available and has room
	// there. Room is Busy < Capacity for voice, and MessageBusy <
	// MessageCapacity for MessageChannel. It reports whether it did, and
	// returns the worker as written (locked) when it did. This is the
	// single place where "never two calls at once" is decided.
	ClaimWorker(ctx context.Context, workspaceSID, sid, channel string, now time.Time) (Worker, bool, error)
	// ReleaseWorker gives back one unit of that capacity, never going below
	// zero. For voice it sets DateStatusChanged to idleSince when Busy
	// reaches zero. A message leaves it alone, so the worker's place in the
	// line for calls does not move. It returns the worker as written.
	ReleaseWorker(ctx context.Context, workspaceSID, sid, channel string, idleSince time.Time) (Worker, error)

	InsertTaskQueue(ctx context.Context, q TaskQueue) error
	UpdateTaskQueue(ctx context.Context, q TaskQueue) error
	DeleteTaskQueue(ctx context.Context, workspaceSID, sid string) error

	InsertWorkflow(ctx context.Context, w Workflow) error
	UpdateWorkflow(ctx context.Context, w Workflow) error
	DeleteWorkflow(ctx context.Context, workspaceSID, sid string) error

	// InsertTask inserts t. When t.CallSID is set and a task with that CallSID
	// already exists in the workspace, nothing is written and the existing
	// task is returned with created=false.
	InsertTask(ctx context.Context, t Task) (existing Task, created bool, err error)
	// UpdateTask writes every mutable field of t and sets Version to
	// t.Version+1. It returns ECONFLICT when the stored version is not t.Version.
	UpdateTask(ctx context.Context, t Task) (Task, error)
	DeleteTask(ctx context.Context, workspaceSID, sid string) error

	// InsertReservation fails with ECONFLICT when the task already has a
	// pending or accepted reservation. A store may send the write later:
	// the transaction then fails with that error at its next statement or
	// at commit.
	InsertReservation(ctx context.Context, r Reservation) error
	// LockReservation returns a reservation and its task, both locked, the
	// task first. It returns ENOTFOUND when the reservation does not exist.
	LockReservation(ctx context.Context, workspaceSID, sid string) (Task, Reservation, error)
	// TaskReservations returns the task's reservations in the given
	// statuses (all when none given), oldest first, locked as Get* locks.
	TaskReservations(ctx context.Context, workspaceSID, taskSID string, statuses ...string) ([]Reservation, error)
	// UpdateReservation writes Status and DateUpdated.
	UpdateReservation(ctx context.Context, r Reservation) error

	InsertEvent(ctx context.Context, e Event) error

	// SetTimer inserts a timer, replacing any timer of the same Kind for the
	// same TaskSID (Kind reservation: the same ReservationSID). A worker with
	// capacity > 1 may have several wrap-up timers, one per task.
	SetTimer(ctx context.Context, t Timer) error
	// ClearTimers deletes the task's timers of the given kinds (all kinds when none given).
	ClearTimers(ctx context.Context, workspaceSID, taskSID string, kinds ...string) error
	// ClaimDueTimers deletes and returns up to limit timers with FireAt <= now,
	// skipping timers locked by another transaction. If the transaction rolls
	// back, the timers come back.
	ClaimDueTimers(ctx context.Context, now time.Time, limit int) ([]Timer, error)
	// NextTimer returns the earliest FireAt of any timer (zero when none).
	NextTimer(ctx context.Context) (time.Time, error)
	// ClearWorkerTimers deletes the worker's timers of the given kinds (all
	// kinds when none given): timers that guard a worker, not a task.
	ClearWorkerTimers(ctx context.Context, workspaceSID, workerSID string, kinds ...string) error

	// CountMissedCall adds one to the worker's reservations missed or
	// declined in a row and returns the new count, or ENOTFOUND when the
	// worker does not exist. It does not bump the worker's Version.
	CountMissedCall(ctx context.Context, workspaceSID, workerSID string) (int, error)
	// ClearMissedCalls sets that count back to zero.
	ClearMissedCalls(ctx context.Context, workspaceSID, workerSID string) error

	// TouchAgentPage records that the page was heard of at p.LastSeen,
	// storing it (created true, with p.OpenedAt) when it is not stored yet.
	// ENOTFOUND when the worker does not exist.
	TouchAgentPage(ctx context.Context, p AgentPage) (created bool, err error)
	// DeleteAgentPage forgets one page. A page not stored is no error.
	DeleteAgentPage(ctx context.Context, workspaceSID, workerSID, pageID string) error
	// AgentPages lists the worker's stored pages, locked, oldest first.
	AgentPages(ctx context.Context, workspaceSID, workerSID string) ([]AgentPage, error)
	// DeleteAgentPages forgets every page of the worker.
	DeleteAgentPages(ctx context.Context, workspaceSID, workerSID string) error

	PutBinding(ctx context.Context, b PhoneNumberBinding) error
	DeleteBinding(ctx context.Context, e164 string) error

	// Notify queues a change to be delivered to subscribers after commit.
	// The write methods above notify on their own for workers, queues,
	// workflows and activities. The engine calls Notify for tasks and
	// timers.
	Notify(ctx context.Context, c Change) error
}

// WorkerRow is a worker as the routing index loads it (EachWorkerRow).
// Attributes is the stored JSON document.
type WorkerRow struct {
	SID, FriendlyName, Attributes, ActivitySID, ActivityName []byte
	Available                                                bool
	Capacity, Busy                                           int
	MessageCapacity, MessageBusy                             int
	DateStatusChanged                                        time.Time
	Version                                                  int64
}

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
