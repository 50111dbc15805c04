package assignment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/api/callback"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/routing"
)

// Defaults of a Dispatcher.
const (
	DefaultQueue   = 1000
	DefaultWorkers = 4
)

// Engine is what the dispatcher needs from the engine to carry out an
// instruction.
type Engine interface {
	AcceptReservation(ctx context.Context, workspaceSID, reservationSID string) (didrouter.Reservation, error)
	RejectReservation(ctx context.Context, workspaceSID, reservationSID, status string) (engine.TaskResult, error)
	UpdateWorker(ctx context.Context, workspaceSID, sid string, u engine.WorkerUpdate) (didrouter.Worker, error)
}

// Config configures a Dispatcher. Engine, Store and Client are required.
type Config struct {
	Engine Engine
	Store  didrouter.Reader
	// Settings say how callbacks are sent. Their Client is required.
	callback.Settings

	Queue   int // callbacks waiting to be sent; 0 = 1000 (more are dropped, with a warning)
	Workers int // callbacks sent at once; 0 = 4
}

// Dispatcher sends assignment callbacks in the background.
type Dispatcher struct {
	cfg    Config
	log    *slog.Logger
	queue  *callback.Queue[didrouter.Reservation]
	sender callback.Sender
}

// New checks cfg and returns a Dispatcher; call Run to send.
func New(cfg Config) (*Dispatcher, error) {
	switch {
	case cfg.Engine == nil:
		return nil, errors.New("assignment: Config.Engine is required")
	case cfg.Store == nil:
		return nil, errors.New("assignment: Config.Store is required")
	case cfg.Client == nil:
		return nil, errors.New("assignment: Config.Client is required")
	}
	if cfg.Clock == nil {
		cfg.Clock = didrouter.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultQueue
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	// One shard: callbacks of different reservations need no order.
	return &Dispatcher{cfg: cfg, log: cfg.Logger, queue: callback.NewQueue[didrouter.Reservation](1, cfg.Workers, cfg.Queue),
		sender: cfg.Sender("didrouter-assignment-callback")}, nil
}

// Notify queues a committed reservation's callback without blocking. It is
// safe on a nil Dispatcher (callbacks off).
func (d *Dispatcher) Notify(r didrouter.Reservation) {
	if d == nil {
		return
	}
	if !d.queue.Add(0, r) {
		d.log.Warn("assignment callback dropped", "reason", "queue full", "reservation", r.SID, "task", r.TaskSID)
	}
}

// Run sends queued callbacks until ctx ends; callbacks still queued then
// are not sent (the reservations time out, or are handled over the API).
func (d *Dispatcher) Run(ctx context.Context) error {
	return d.queue.Run(ctx, func(ctx context.Context, r didrouter.Reservation, _ <-chan didrouter.Reservation) {
		d.handle(ctx, r)
	})
}

// Instruction is an application's answer to an assignment callback.
type Instruction struct {
	Instruction string `json:"instruction"`
	ActivitySID string `json:"activity_sid"` // reject: the worker's activity afterwards
	// PostWorkActivitySID and To are read to tell apart a dequeue didrouter
	// performs as asked from one whose options it would ignore.
	PostWorkActivitySID string `json:"post_work_activity_sid"`
	To                  string `json:"to"`
	From                string `json:"from"`
}

// handle sends one callback and carries out its answer. Errors are logged:
// there is no caller to return them to, and the reservation's own timeout
// still applies.
func (d *Dispatcher) handle(ctx context.Context, r didrouter.Reservation) {
	if c, ok := d.cfg.Engine.(callbackCheck); ok {
		if used, err := c.AssignmentCallbacksUsed(ctx, r.WorkspaceSID); err == nil && !used {
			return // no workflow of the workspace has a callback: read nothing
		}
	}
	log := d.log.With("reservation", r.SID, "task", r.TaskSID, "worker", r.WorkerSID)
	params, wf, err := d.params(ctx, r)
	if err != nil {
		if didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
			log.WarnContext(ctx, "assignment callback not sent", "reason", "reservation unreadable", "err", err)
		}
		return
	}
	if wf.AssignmentCallbackURL == "" {
		return
	}
	// The callback may have waited in the queue, and a try takes seconds:
	// each try reads the workflow's URLs again (the engine's cache), so a
	// URL cleared or changed meanwhile is honoured. A cleared primary URL
	// ends the callback, as it would for a new reservation.
	primary := d.currentURL(r.WorkspaceSID, wf.SID, func(wf didrouter.Workflow) string { return wf.AssignmentCallbackURL })
	fallback := d.currentURL(r.WorkspaceSID, wf.SID, func(wf didrouter.Workflow) string {
		if wf.AssignmentCallbackURL == "" {
			return ""
		}
		return wf.FallbackAssignmentCallbackURL
	})
	ins, used, err := d.post(ctx, primary, params)
	if err != nil && !errors.Is(err, callback.ErrNotWanted) && wf.FallbackAssignmentCallbackURL != "" {
		log.WarnContext(ctx, "assignment callback failed, trying fallback", "url", callback.Redact(used), "err", err)
		ins, used, err = d.post(ctx, fallback, params)
	}
	if errors.Is(err, callback.ErrNotWanted) {
		log.InfoContext(ctx, "assignment callback not sent", "reason", "workflow callback url cleared")
		return
	}
	if err != nil {
		log.WarnContext(ctx, "assignment callback failed", "then", "the reservation stays pending until handled over the api or timed out",
			"url", callback.Redact(used), "err", err)
		return
	}
	if err := d.apply(ctx, r, ins); err != nil {
		log.WarnContext(ctx, "assignment callback instruction not carried out", "url", callback.Redact(used),
			"instruction", ins.Instruction, "err", err)
		return
	}
	log.InfoContext(ctx, "assignment callback", "url", callback.Redact(used), "instruction", ins.Instruction)
}

// currentURL is the callback.Target of one of a workflow's callback URLs,
// read when asked.
func (d *Dispatcher) currentURL(workspaceSID, workflowSID string, pick func(didrouter.Workflow) string) callback.Target {
	return func(ctx context.Context) (string, error) {
		wf, err := d.workflow(ctx, workspaceSID, workflowSID)
		if didrouter.ErrorCode(err) == didrouter.ENOTFOUND {
			return "", nil // deleted meanwhile: nothing to call
		}
		if err != nil {
			return "", err
		}
		return pick(wf), nil
	}
}

// callbackCheck is implemented by an engine that knows, from its change
// feed, which workspaces use assignment callbacks (*engine.Engine).
type callbackCheck interface {
	AssignmentCallbacksUsed(ctx context.Context, workspaceSID string) (bool, error)
}

// workflowCache is implemented by an engine that caches workflows
// (*engine.Engine), kept current by its change feed.
type workflowCache interface {
	CachedWorkflow(ctx context.Context, workspaceSID, sid string) (didrouter.Workflow, error)
}

// workflow reads a workflow, from the engine's cache when it has one.
func (d *Dispatcher) workflow(ctx context.Context, workspaceSID, sid string) (didrouter.Workflow, error) {
	if c, ok := d.cfg.Engine.(workflowCache); ok {
		return c.CachedWorkflow(ctx, workspaceSID, sid)
	}
	return d.cfg.Store.GetWorkflow(ctx, workspaceSID, sid)
}

// params reads what the callback reports and the workflow that names its
// URLs (params are nil when the workflow has no callback URL).
func (d *Dispatcher) params(ctx context.Context, r didrouter.Reservation) (url.Values, didrouter.Workflow, error) {
	t, err := d.cfg.Store.GetTask(ctx, r.WorkspaceSID, r.TaskSID)
	if err != nil {
		return nil, didrouter.Workflow{}, err
	}
	wf, err := d.workflow(ctx, r.WorkspaceSID, t.WorkflowSID)
	if err != nil {
		return nil, didrouter.Workflow{}, err
	}
	if wf.AssignmentCallbackURL == "" {
		// No callback to send (the usual case): every reservation of every
		// call passes here, so read nothing more.
		return nil, wf, nil
	}
	w, err := d.cfg.Store.GetWorker(ctx, r.WorkspaceSID, r.WorkerSID)
	if err != nil {
		return nil, didrouter.Workflow{}, err
	}
	now := d.cfg.Clock.Now()
	v := url.Values{}
	v.Set("AccountSid", d.cfg.AccountSID)
	v.Set("WorkspaceSid", r.WorkspaceSID)
	v.Set("WorkflowSid", t.WorkflowSID)
	v.Set("TaskQueueSid", t.TaskQueueSID)
	v.Set("TaskSid", t.SID)
	v.Set("TaskAttributes", routing.AttributesJSON(t.Attributes))
	v.Set("TaskAge", strconv.Itoa(max(int(now.Sub(t.DateCreated).Seconds()), 0)))
	v.Set("TaskPriority", strconv.Itoa(t.Priority))
	v.Set("TaskChannelUniqueName", t.TaskChannel)
	v.Set("WorkerSid", w.SID)
	v.Set("WorkerName", w.FriendlyName)
	v.Set("WorkerAttributes", routing.AttributesJSON(w.Attributes))
	v.Set("ReservationSid", r.SID)
	v.Set("Timestamp", strconv.FormatInt(r.DateCreated.Unix(), 10))
	return v, wf, nil
}

// post sends the callback to target (see callback.Sender.Post for retries)
// and decodes the instruction of its 2xx answer.
func (d *Dispatcher) post(ctx context.Context, target callback.Target, params url.Values) (Instruction, string, error) {
	raw, u, err := d.sender.Post(ctx, target, params)
	if err != nil {
		return Instruction{}, u, err
	}
	ins, err := decodeInstruction(raw)
	return ins, u, err
}

// decodeInstruction reads a 2xx answer. As in TaskRouter, an empty answer
// means no instruction, because the application will act over the REST
// API. Anything else must be a JSON object.
func decodeInstruction(raw []byte) (Instruction, error) {
	if strings.TrimSpace(string(raw)) == "" {
		return Instruction{}, nil
	}
	var ins Instruction
	if err := json.Unmarshal(raw, &ins); err != nil {
		return Instruction{}, fmt.Errorf("%w: the answer is not a JSON instruction: %v", callback.ErrFinal, err)
	}
	ins.Instruction = strings.ToLower(strings.TrimSpace(ins.Instruction))
	return ins, nil
}

// apply carries out an instruction. The engine does accept and reject. A
// dequeue of a call's task needs nothing more, because didrouter's voice
// flow already takes the caller out of the queue and rings the worker's
// contact_uri, and answering accepts. Its to, from and
// post_work_activity_sid options are not applied. call, redirect and
// conference are refused, because they need Twilio's voice API, which
// didrouter does not call.
func (d *Dispatcher) apply(ctx context.Context, r didrouter.Reservation, ins Instruction) error {
	switch ins.Instruction {
	case "":
		return nil
	case "accept":
		_, err := d.cfg.Engine.AcceptReservation(ctx, r.WorkspaceSID, r.SID)
		return err
	case "reject":
		if _, err := d.cfg.Engine.RejectReservation(ctx, r.WorkspaceSID, r.SID, didrouter.ReservationRejected); err != nil {
			return err
		}
		if ins.ActivitySID != "" {
			act := ins.ActivitySID
			_, err := d.cfg.Engine.UpdateWorker(ctx, r.WorkspaceSID, r.WorkerSID, engine.WorkerUpdate{ActivitySID: &act})
			return err
		}
		return nil
	case "dequeue":
		t, err := d.cfg.Store.GetTask(ctx, r.WorkspaceSID, r.TaskSID)
		if err != nil {
			return err
		}
		if t.CallSID == "" {
			return fmt.Errorf("dequeue: task %s is not a call", t.SID)
		}
		if ins.To != "" || ins.From != "" || ins.PostWorkActivitySID != "" {
			d.log.WarnContext(ctx, "dequeue options ignored",
				"ignored", "to, from, post_work_activity_sid", "reason", "the voice flow rings the worker's contact_uri", "reservation", r.SID)
		}
		return nil
	case "call", "redirect", "conference":
		return fmt.Errorf("instruction %q is not supported: it needs Twilio's voice API, which didrouter does not call", ins.Instruction)
	default:
		return fmt.Errorf("unknown instruction %q", ins.Instruction)
	}
}

// Sign computes X-Twilio-Signature for a form POST to u (callback.Sign).
func Sign(authToken, u string, params url.Values) string {
	return callback.Sign(authToken, u, params)
}
