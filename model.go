package didrouter

import (
	"encoding/json"
	"strings"
	"time"
)

// Sid prefixes, as TaskRouter writes them (two letters + 32 hex digits).
const (
	PrefixWorkspace   = "WS"
	PrefixActivity    = "WA"
	PrefixWorker      = "WK"
	PrefixTaskQueue   = "WQ"
	PrefixWorkflow    = "WW"
	PrefixTask        = "WT"
	PrefixReservation = "WR"
	PrefixEvent       = "EV"
	PrefixTimer       = "TM" // didrouter's own; never shown over the TaskRouter API
)

// Workspace is a TaskRouter workspace: the container of everything else.
type Workspace struct {
	SID                string
	FriendlyName       string
	DefaultActivitySID string // activity of a newly created worker
	TimeoutActivitySID string // activity a worker is moved to when a reservation times out ("" = stay)
	DefaultWorkflowSID string // workflow for calls to numbers without their own binding
	EventCallbackURL   string
	EventsFilter       string // comma-separated event types sent to EventCallbackURL ("" = every event)
	Greeting           string // said before ringing anyone
	HoldMessage        string // said while a caller waits in the queue
	DateCreated        time.Time
	DateUpdated        time.Time
}

// Activity is a worker state such as Available or Offline.
type Activity struct {
	SID          string
	WorkspaceSID string
	FriendlyName string
	Available    bool
	DateCreated  time.Time
	DateUpdated  time.Time
}

// Worker is an agent. PhoneNumber is the worker's DID, the E.164 form of
// the "phone_number" attribute, or "" when the worker has none. It is
// unique within a workspace. ContactURI is the "contact_uri" attribute,
// which says how to ring them.
type Worker struct {
	SID               string
	WorkspaceSID      string
	FriendlyName      string
	Attributes        string // JSON object, as given (phone_number rewritten to E.164)
	ActivitySID       string
	ActivityName      string
	Available         bool // the activity's availability
	Capacity          int  // voice capacity, taken by every task channel but MessageChannel; 1 unless set
	Busy              int  // pending reservations + assigned/wrapping tasks on voice
	MessageCapacity   int  // capacity on MessageChannel, 10 unless set
	MessageBusy       int  // pending reservations + assigned/wrapping tasks on MessageChannel
	PhoneNumber       string
	DateStatusChanged time.Time // when the worker last changed activity or finished a task: "idle since"
	DateCreated       time.Time
	DateUpdated       time.Time
	Version           int64 // bumped by every write; the index ignores stale versions
}

// Task orders for a TaskQueue.
const (
	TaskOrderFIFO = "FIFO"
	TaskOrderLIFO = "LIFO"
)

// TaskQueue groups workers by a target_workers expression.
type TaskQueue struct {
	SID                string
	WorkspaceSID       string
	FriendlyName       string
	TargetWorkers      string // expression over worker attributes; "1==1" = everyone
	TaskOrder          string
	MaxReservedWorkers int
	DateCreated        time.Time
	DateUpdated        time.Time
}

// Workflow routes tasks into queues (TaskRouter configuration JSON).
type Workflow struct {
	SID                           string
	WorkspaceSID                  string
	FriendlyName                  string
	Configuration                 string // TaskRouter workflow configuration JSON
	TaskReservationTimeout        int    // seconds a reservation may stay pending
	AssignmentCallbackURL         string
	FallbackAssignmentCallbackURL string
	DateCreated                   time.Time
	DateUpdated                   time.Time
}

// Task assignment statuses (TaskRouter names).
const (
	TaskPending   = "pending"
	TaskReserved  = "reserved"
	TaskAssigned  = "assigned"
	TaskWrapping  = "wrapping"
	TaskCompleted = "completed"
	TaskCanceled  = "canceled"
)

// MessageChannel is the task channel of voicemail and call-back requests.
// A worker's capacity on it is Worker.MessageCapacity, apart from voice,
// which every other channel takes. So an offered message never keeps a call
// from an agent.
const MessageChannel = "messages"

// Task is a unit of work (a call) routed by a workflow.
type Task struct {
	SID              string
	WorkspaceSID     string
	WorkflowSID      string
	Attributes       string // JSON object
	AssignmentStatus string
	Priority         int
	Timeout          int    // seconds the task may live unassigned before it is canceled
	TaskChannel      string // "voice" for calls
	CallSID          string // the Twilio CallSid of the inbound call; unique per workspace when set
	Reason           string
	// Routing position: the matched filter (-1 = default filter), the target
	// within it, the queue of that target and when the task entered it.
	FilterIndex     int
	TargetIndex     int
	TaskQueueSID    string
	StepEnteredAt   time.Time
	RejectedWorkers []string // workers who rejected or let this task time out; not offered it again until a re-offer (engine/reoffer.go)
	DateCreated     time.Time
	DateUpdated     time.Time
	Version         int64
}

// FirstTarget reports whether a task at this routing position is at the
// first target of a filter it matched. That is its first choice, which is
// the number's owner in the DID workflow. Metrics, statistics and the
// admin console's board count an answer there as "answered by the owner".
// An answer anywhere else, including the default filter, went to someone
// else, such as Everyone.
func FirstTarget(filter, target int) bool { return filter >= 0 && target == 0 }

// Task types of the messages didrouter makes when nobody answers (the
// webhooks' voicemail and call-back tasks): their reservations ring no
// phone, so letting one time out is no missed call.
const (
	TaskTypeVoicemail = "voicemail"
	TaskTypeCallback  = "callback"
)

// IsCallbackRequest reports whether t is a caller's call-back request. The
// caller hung up on purpose to be called back, so the end of their call
// (a status callback, a journaled hang-up) must not end the task.
func IsCallbackRequest(t Task) bool {
	return strings.Contains(t.Attributes, TaskTypeCallback) && TaskType(t) == TaskTypeCallback
}

// CallbackNumber is the number a call-back request is to call back (its
// "callback_number" attribute), "" for any other task. The stores keep it
// in an indexed column, for CallSettingsStore.CallbackRequests.
func CallbackNumber(attributes string) string {
	if !strings.Contains(attributes, TaskTypeCallback) {
		return ""
	}
	var a struct {
		Type   any `json:"type"`
		Number any `json:"callback_number"`
	}
	if json.Unmarshal([]byte(attributes), &a) != nil || a.Type != TaskTypeCallback {
		return ""
	}
	n, _ := a.Number.(string)
	return n
}

// TaskType is the task's "type" attribute ("" when it is not a string).
func TaskType(t Task) string {
	var a struct {
		Type any `json:"type"`
	}
	_ = json.Unmarshal([]byte(t.Attributes), &a) // attributes are a JSON object; anything else has no type
	s, _ := a.Type.(string)
	return s
}

// Reservation statuses (TaskRouter names).
const (
	ReservationPending   = "pending"
	ReservationAccepted  = "accepted"
	ReservationRejected  = "rejected"
	ReservationTimeout   = "timeout"
	ReservationCanceled  = "canceled"
	ReservationRescinded = "rescinded"
	ReservationWrapping  = "wrapping"
	ReservationCompleted = "completed"
)

// Reservation offers a task to one worker.
type Reservation struct {
	SID          string
	WorkspaceSID string
	TaskSID      string
	WorkerSID    string
	Status       string
	Timeout      int // seconds it may stay pending
	DateCreated  time.Time
	DateUpdated  time.Time
}

// Event types, as TaskRouter names them.
const (
	EventTaskCreated            = "task.created"
	EventTaskUpdated            = "task.updated"
	EventTaskCanceled           = "task.canceled"
	EventTaskCompleted          = "task.completed"
	EventTaskWrapup             = "task.wrapup"
	EventTaskDeleted            = "task.deleted"
	EventTaskTransferred        = "task.transfer-initiated"
	EventTaskQueueEntered       = "task-queue.entered"
	EventTaskQueueMoved         = "task-queue.moved"
	EventTaskQueueTimeout       = "task-queue.timeout"
	EventWorkflowTargetMatched  = "workflow.target-matched"
	EventWorkflowEntered        = "workflow.entered"
	EventWorkflowSkipped        = "workflow.skipped"
	EventWorkflowTimeout        = "workflow.timeout"
	EventReservationCreated     = "reservation.created"
	EventReservationAccepted    = "reservation.accepted"
	EventReservationRejected    = "reservation.rejected"
	EventReservationTimeout     = "reservation.timeout"
	EventReservationCanceled    = "reservation.canceled"
	EventReservationRescinded   = "reservation.rescinded"
	EventReservationCompleted   = "reservation.completed"
	EventReservationWrapup      = "reservation.wrapup"
	EventWorkerCreated          = "worker.created"
	EventWorkerActivityUpdate   = "worker.activity.update"
	EventWorkerAttributesUpdate = "worker.attributes.update"
	EventWorkerCapacityUpdate   = "worker.capacity.update"
	EventWorkerDeleted          = "worker.deleted"
)

// Event is one recorded transition.
type Event struct {
	SID            string
	WorkspaceSID   string
	EventType      string
	ResourceType   string // "task", "reservation", "worker", "workflow", "taskqueue"
	ResourceSID    string
	Description    string
	TaskSID        string
	WorkerSID      string
	ReservationSID string
	Data           string // JSON object with the event's details
	Date           time.Time
}

// Timer kinds. Timer deadlines live in the store so that any instance can
// fire a timer set by another one.
const (
	TimerStep        = "step"        // a workflow target's timeout: move the task on
	TimerReservation = "reservation" // a pending reservation's timeout
	TimerTask        = "task"        // the task's own timeout: cancel it
	TimerWrapup      = "wrapup"      // end of a worker's wrap-up time
	// TimerReoffer ends a waiting task's exclusions: the workers who missed
	// or declined it may be offered it again. Keyed by task like the step timer.
	TimerReoffer = "reoffer"
	// TimerAway fires when a worker's last agent desktop page may have been
	// gone for the engine's AgentAway. Keyed by worker (one per worker), not task.
	TimerAway = "away"
)

// Timer is a stored deadline. Key identifies what it guards (a task or
// reservation sid); Version lets a fired timer be ignored when the task has
// moved on since the timer was set.
type Timer struct {
	SID            string
	WorkspaceSID   string
	Kind           string
	TaskSID        string
	ReservationSID string
	WorkerSID      string
	TaskVersion    int64
	FireAt         time.Time
}

// AgentPage is an agent desktop page open for a worker (engine/presence.go):
// PageID names one browser tab, LastSeen is when it was last heard of.
type AgentPage struct {
	WorkspaceSID string
	WorkerSID    string
	PageID       string
	OpenedAt     time.Time
	LastSeen     time.Time
}

// PhoneNumberBinding binds a dialed number to a workflow other than the
// workspace default.
type PhoneNumberBinding struct {
	PhoneNumber  string // E.164
	WorkspaceSID string
	WorkflowSID  string
}
