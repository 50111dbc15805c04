package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twilio/twilio-go/twiml"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

// What happens when nobody can answer is told in docs/voicemail.md. Out of
// business hours the caller hears the after-hours message and goes to
// voicemail. A caller whom nobody in the call's queues can answer goes to
// voicemail at once. A caller who has waited VoicemailAfter is offered
// voicemail or a call-back. A recorded message becomes a task of type
// "voicemail", routed as a call to the same number would be, so an agent's
// own messages reach that agent first.

// DefaultVoicemailMaxLength is the longest message a caller may leave.
const DefaultVoicemailMaxLength = 2 * time.Minute

// settingsWait bounds a read of the call settings, so that a database that
// does not answer leaves the webhook time to route the call (as if always
// open) or fall back.
const settingsWait = 2 * time.Second

// Reasons written on the caller's task when the call leaves the queue for
// voicemail or the line is closed; dequeued reads them back.
const (
	reasonVoicemail  = "caller went to voicemail"
	reasonAfterHours = "after hours"
	reasonCalledBack = "caller called again"
)

// What callers hear.
const (
	sayAfterHours   = "Thank you for calling. We are closed right now."
	sayNobody       = "Nobody is available to take your call right now."
	sayLeaveMessage = "Please leave a message after the tone. Press the pound key when you are done."
	sayNoMessage    = "We did not get a message. Goodbye."
	sayThanks       = "Thank you for your message. Goodbye."
	sayCallback     = "Thank you. We will call you back at the number you are calling from. Goodbye."
	sayNotAnOption  = "Sorry, that is not an option."
)

// Task types of the tasks this file creates or turns a call into (the
// engine does not count their reservations as missed calls).
const (
	typeVoicemail = didrouter.TaskTypeVoicemail
	typeCallback  = didrouter.TaskTypeCallback
)

// answeringEngine is what this file needs from the engine beyond Engine
// (*engine.Engine has it all). Without it voicemail and call-backs are off.
type answeringEngine interface {
	AnyoneAvailable(ctx context.Context, t didrouter.Task) (bool, error)
	QueuePosition(ctx context.Context, t didrouter.Task) (position, waiting int, err error)
	UpdateTask(ctx context.Context, workspaceSID, sid string, u engine.TaskUpdate) (didrouter.Task, error)
	CancelCall(ctx context.Context, n engine.TaskInsert, reason string) (didrouter.Task, error)
}

// answerer returns the engine's answeringEngine, or nil.
func (h *Handler) answerer() answeringEngine {
	a, _ := h.eng.(answeringEngine)
	return a
}

// answering resolves the business hours and voicemail delay of a number
// of a workspace. A settings row that cannot be read or parsed is logged
// and the defaults apply: a bad row never stops a call.
func (h *Handler) answering(ctx context.Context, workspaceSID, dialed string) engine.Answering {
	if h.answerer() == nil {
		return engine.Answering{}
	}
	st := h.settings
	if h.degradedActive() {
		st = nil // the database is down: the server's defaults, without waiting for it
	}
	if st == nil {
		return engine.Answering{VoicemailAfter: h.voicemailAfter}
	}
	ctx, cancel := context.WithTimeout(ctx, settingsWait)
	defer cancel()
	a, err := h.answers.answering(ctx, st, workspaceSID, dialed, h.voicemailAfter, h.clock.Now())
	if err != nil {
		h.log.WarnContext(ctx, "call settings unusable, defaults apply", "workspace_sid", workspaceSID,
			"phone_number", dialed, "err", err)
	}
	return a
}

// answerCache keeps each workspace's call settings for answersTTL, so that
// neither a new call nor every wait poll of every waiting caller reads them
// again: a workspace's rows are read in one list, and a number without a
// row of its own, the usual DID, costs no read. A change made through the
// API (on any instance) applies within answersTTL.
type answerCache struct {
	mu      sync.Mutex
	by      map[string]*workspaceAnswers // by workspace sid
	rowsMax int                          // rows of one workspace held; 0 is answersRowsMax
}

// workspaceAnswers is one workspace's settings as read at at.
type workspaceAnswers struct {
	at time.Time
	// rows are the stored rows by phone number ("" is the workspace's own),
	// read-only once loaded; nil when the workspace has more than
	// answersRowsMax, whose numbers are then read one by one.
	rows     map[string]didrouter.CallSettings
	resolved map[string]engine.Answering // by dialed number
}

const (
	answersTTL     = 5 * time.Second
	answersMax     = 10000 // workspaces, and numbers per workspace, kept; past it the map starts again
	answersRowsMax = 2000  // rows of one workspace held in memory
)

// answering resolves a number's settings from the cache, reading what it
// lacks. An answer whose rows could not be read or parsed is not kept, so
// the next call tries again (and logs again).
func (c *answerCache) answering(ctx context.Context, st didrouter.CallSettingsStore, workspaceSID, dialed string, def time.Duration, now time.Time) (engine.Answering, error) {
	c.mu.Lock()
	e := c.by[workspaceSID]
	if e != nil && (now.Sub(e.at) >= answersTTL || now.Before(e.at)) {
		e = nil
	}
	if a, ok := e.answer(dialed); ok {
		c.mu.Unlock()
		return a, nil
	}
	c.mu.Unlock()
	if e == nil {
		var err error
		if e, err = c.load(ctx, st, workspaceSID, now); err != nil {
			return engine.Answering{VoicemailAfter: def}, err
		}
		c.mu.Lock()
		if c.by == nil || len(c.by) >= answersMax {
			c.by = make(map[string]*workspaceAnswers)
		}
		c.by[workspaceSID] = e
		c.mu.Unlock()
	}
	var a engine.Answering
	var err error
	if e.rows != nil {
		var rows []didrouter.CallSettings // the workspace's first, the number's over it
		if r, ok := e.rows[""]; ok {
			rows = append(rows, r)
		}
		if r, ok := e.rows[dialed]; ok && dialed != "" {
			rows = append(rows, r)
		}
		a, err = engine.AnsweringOf(rows, def)
	} else {
		a, err = engine.ResolveAnswering(ctx, st, workspaceSID, dialed, def)
	}
	if err != nil {
		return a, err
	}
	c.mu.Lock()
	if e.resolved == nil || len(e.resolved) >= answersMax {
		e.resolved = make(map[string]engine.Answering)
	}
	e.resolved[dialed] = a
	c.mu.Unlock()
	return a, nil
}

// answer is the kept answer for a dialed number; e may be nil. The cache's
// lock must be held.
func (e *workspaceAnswers) answer(dialed string) (engine.Answering, bool) {
	if e == nil {
		return engine.Answering{}, false
	}
	a, ok := e.resolved[dialed]
	return a, ok
}

// load reads a workspace's settings rows in one list.
func (c *answerCache) load(ctx context.Context, st didrouter.CallSettingsStore, workspaceSID string, now time.Time) (*workspaceAnswers, error) {
	list, err := st.ListCallSettings(ctx, workspaceSID)
	if err != nil {
		return nil, fmt.Errorf("list call settings of %s: %w", workspaceSID, err)
	}
	e := &workspaceAnswers{at: now}
	max := c.rowsMax
	if max <= 0 {
		max = answersRowsMax
	}
	if len(list) <= max {
		e.rows = make(map[string]didrouter.CallSettings, len(list))
		for _, r := range list {
			e.rows[r.PhoneNumber] = r
		}
	}
	return e, nil
}

// taskAttrs reads the attributes of a call's task that this file uses.
type taskAttrs struct {
	Name        string `json:"name"`
	PhoneNumber string `json:"phone_number"`
	Type        string `json:"type"`
}

func attrsOf(t didrouter.Task) taskAttrs {
	var a taskAttrs
	_ = json.Unmarshal([]byte(t.Attributes), &a) // a task's attributes are a JSON object
	return a
}

// isCallback reports whether a task is a caller's call-back request: the
// call is over, the task waits for an agent to call back.
func isCallback(t didrouter.Task) bool { return didrouter.IsCallbackRequest(t) }

// dialedNumber is the call's To in E.164 when it is a number.
func (h *Handler) dialedNumber(c *call) string {
	to := c.param("To")
	if n, err := h.norm.Normalize(to); err == nil {
		return n.E164
	}
	return to
}

// afterHours answers a call to a closed line. The call is recorded as a
// missed call, its task canceled with the reason "after hours". The caller
// hears the after-hours message and then voicemail, or a goodbye when
// voicemail is off. ok is false when the line is open or its hours cannot
// be told.
func (h *Handler) afterHours(ctx context.Context, c *call) ([]twiml.Element, bool) {
	cc := h.answerer()
	if h.settings == nil || cc == nil {
		return nil, false
	}
	dialed := h.dialedNumber(c)
	ws, _, err := h.workflowFor(ctx, dialed)
	if err != nil {
		return nil, false // the ordinary path meets the same error and falls back
	}
	ans := h.answering(ctx, ws.SID, dialed)
	if ans.Open(h.clock.Now()) {
		return nil, false
	}
	_, nt, err := h.callTask(ctx, c)
	if err != nil {
		return nil, false
	}
	t, err := cc.CancelCall(ctx, nt, reasonAfterHours)
	if err != nil {
		h.log.ErrorContext(ctx, "recording an after-hours call failed", "call_sid", c.callSID, "err", err)
		return nil, false
	}
	c.taskSID = t.SID
	why := "closed"
	if name := ans.Hours.Closure(h.clock.Now()); name != "" {
		why = "closed: " + name
	}
	h.decision(ctx, c, t.SID, "", "after-hours", why)
	verbs := say(sayAfterHours)
	if ans.VoicemailAfter <= 0 {
		return append(verbs, hangup()), true
	}
	return append(verbs, h.voicemailTwiML(ctx, c, t, dialed)...), true
}

// straightToVoicemail sends a caller who is about to wait to voicemail
// when voicemail is on for the number and nobody in the call's queues is
// in an available activity: waiting would be for nobody. ok is false when
// the caller should wait.
func (h *Handler) straightToVoicemail(ctx context.Context, c *call, t didrouter.Task) ([]twiml.Element, bool) {
	a := h.answerer()
	if a == nil || isCallback(t) {
		return nil, false
	}
	dialed := attrsOf(t).PhoneNumber
	if h.answering(ctx, t.WorkspaceSID, dialed).VoicemailAfter <= 0 {
		return nil, false
	}
	anyone, err := a.AnyoneAvailable(ctx, t)
	if err != nil {
		h.log.WarnContext(ctx, "cannot tell whether anyone can answer, caller waits", "call_sid", c.callSID, "task_sid", t.SID, "err", err)
		return nil, false
	}
	if anyone {
		return nil, false
	}
	if _, err := h.eng.CancelTask(ctx, t.WorkspaceSID, t.SID, reasonVoicemail); err != nil {
		h.log.WarnContext(ctx, "cannot move caller to voicemail, caller waits", "call_sid", c.callSID, "task_sid", t.SID, "err", err)
		return nil, false
	}
	h.decision(ctx, c, t.SID, "", "voicemail", "nobody in the call's queues is available")
	return append(say(sayNobody), h.voicemailTwiML(ctx, c, t, dialed)...), true
}

// voicemailTwiML is the greeting and the <Record> of a message for the
// dialed number: for an agent's number the owner's greeting (their
// recorded greeting, attribute voicemail_greeting_url, else a spoken one
// naming them), for any other number the shared mailbox's.
func (h *Handler) voicemailTwiML(ctx context.Context, c *call, t didrouter.Task, dialed string) []twiml.Element {
	var verbs []twiml.Element
	owner, err := h.store.WorkerByPhoneNumber(ctx, t.WorkspaceSID, dialed)
	switch {
	case err == nil && greetingURL(owner.Attributes) != "":
		verbs = append(verbs, &twiml.VoicePlay{Url: greetingURL(owner.Attributes)})
	case err == nil:
		verbs = append(verbs, say("You have reached the voicemail of "+owner.FriendlyName+".")...)
		fallthrough
	default:
		verbs = append(verbs, say(sayLeaveMessage)...)
	}
	q := h.taskQuery(t)
	rec := &twiml.VoiceRecord{
		Action:                        h.url("/voicemail/recorded", q),
		Method:                        http.MethodPost,
		MaxLength:                     strconv.Itoa(int(h.voicemailMax / time.Second)),
		Timeout:                       "5",
		FinishOnKey:                   "#",
		PlayBeep:                      "true",
		RecordingStatusCallback:       h.url("/voicemail/recording", q),
		RecordingStatusCallbackMethod: http.MethodPost,
		RecordingStatusCallbackEvent:  "completed",
	}
	if h.transcribe {
		rec.Transcribe = "true"
		rec.TranscribeCallback = h.url("/voicemail/transcription", q)
	}
	// Twilio goes on past <Record> only when nothing was recorded.
	return append(verbs, rec, &twiml.VoiceSay{Message: sayNoMessage}, hangup())
}

// greetingURL is a worker's recorded voicemail greeting (attribute
// voicemail_greeting_url), when it is an absolute http(s) URL.
func greetingURL(attributes string) string {
	var a struct {
		URL any `json:"voicemail_greeting_url"`
	}
	if json.Unmarshal([]byte(attributes), &a) != nil {
		return ""
	}
	s, _ := a.URL.(string)
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	return u.String()
}

// recorded is the <Record> action: the message is saved (see
// saveVoicemail) and the caller thanked.
func (h *Handler) recorded(ctx context.Context, c *call) ([]twiml.Element, error) {
	if err := h.saveVoicemail(ctx, c); err != nil {
		return nil, err
	}
	if c.param("RecordingSid") == "" || recordingSeconds(c) <= 0 {
		return []twiml.Element{&twiml.VoiceSay{Message: sayNoMessage}, hangup()}, nil
	}
	return []twiml.Element{&twiml.VoiceSay{Message: sayThanks}, hangup()}, nil
}

// recordedFallback thanks the caller when saving failed: the recording
// status callback, which Twilio sends too, tries again.
func (h *Handler) recordedFallback(context.Context, *call) ([]twiml.Element, error) {
	return []twiml.Element{&twiml.VoiceSay{Message: sayThanks}, hangup()}, nil
}

// recordingStatus is the recording status callback: the same message as
// the <Record> action, which either may bring first. Twilio ignores the
// answer. A failure answers 500 so that Twilio's retry (when the number
// has one configured) brings it again; nothing is half written.
func (h *Handler) recordingStatus(w http.ResponseWriter, r *http.Request) {
	h.callback(w, r, "recording status", func(ctx context.Context, c *call) error {
		if s := c.param("RecordingStatus"); s != "" && s != "completed" {
			return nil // absent, failed: nothing to keep
		}
		return h.saveVoicemail(ctx, c)
	})
}

// callback runs fn for a webhook whose answer Twilio ignores: 204, or 500
// without details when fn failed or panicked.
func (h *Handler) callback(w http.ResponseWriter, r *http.Request, name string, fn func(ctx context.Context, c *call) error) {
	c := h.newCall(r)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), h.timeout)
	defer cancel()
	err := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
			}
		}()
		return fn(ctx, c)
	}()
	if err != nil {
		h.log.ErrorContext(ctx, "recording callback failed", "callback", name, "call_sid", c.callSID, "task_sid", c.taskSID, "err", err)
		http.Error(w, "not saved", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func recordingSeconds(c *call) int {
	n, err := strconv.Atoi(c.param("RecordingDuration"))
	if err != nil {
		return 0
	}
	return n
}

// saveVoicemail turns a recording into a voicemail task, once: the task is
// keyed by the RecordingSid (as a call's task by its CallSid), so the
// <Record> action and the status callback, or one of them twice, make one
// voicemail. An empty recording (the caller hung up at the tone) makes
// none: the caller's task, canceled when the call left for voicemail,
// already records a missed call. While the store is down the task is
// journaled for it (degraded mode).
func (h *Handler) saveVoicemail(ctx context.Context, c *call) error {
	recSID := c.param("RecordingSid")
	secs := recordingSeconds(c)
	if recSID == "" || secs <= 0 {
		h.decision(ctx, c, c.taskSID, "", "missed", "empty recording: a missed call, no voicemail")
		return nil
	}
	nt, err := h.voicemailTask(ctx, c, recSID, secs)
	if err != nil {
		return err
	}
	res, err := h.eng.CreateTask(ctx, nt)
	if err != nil && res.Task.SID == "" {
		if h.degradedActive() {
			if jerr := h.degraded.Voicemail(ctx, nt); jerr == nil {
				h.decision(ctx, c, c.taskSID, "", "voicemail-task", "store unreachable: voicemail "+recSID+" journaled")
				return nil
			}
		}
		return fmt.Errorf("create voicemail task for recording %s: %w", recSID, err)
	}
	if !res.Created {
		h.log.InfoContext(ctx, "recording already has its voicemail task", "call_sid", c.callSID, "recording_sid", recSID, "task_sid", res.Task.SID)
		return nil
	}
	h.decision(ctx, c, res.Task.SID, "", "voicemail-task", fmt.Sprintf("recording %s, %d s", recSID, secs))
	return nil
}

// voicemailTask is the task of a message: routed by the workflow of the
// dialed number, as the call was. It is built from what Twilio sent and
// what the engine keeps in memory, so that it can be journaled while the
// store is down; the owner is named when the store answers.
func (h *Handler) voicemailTask(ctx context.Context, c *call, recSID string, secs int) (engine.TaskInsert, error) {
	dialed := h.dialedNumber(c)
	ws, workflowSID, err := h.workflowFor(ctx, dialed)
	switch {
	case err != nil && h.degradedActive():
		// The store is down and the number's workflow is not in memory:
		// the call's workspace and its default workflow route the message.
		ws, workflowSID = didrouter.Workspace{SID: c.ws}, ""
	case err != nil:
		return engine.TaskInsert{}, err
	}
	caller := h.callerName(c.param("From"))
	attrs := map[string]any{
		"type":               typeVoicemail,
		"direction":          "inbound",
		"name":               caller,
		"caller":             caller,
		"phone_number":       dialed,
		"did":                dialed,
		"call_sid":           c.callSID,
		"recording_sid":      recSID,
		"recording_duration": secs,
		"mailbox":            "shared",
	}
	if u := c.param("RecordingUrl"); strings.HasPrefix(u, "https://api.twilio.com/") {
		attrs["recording_url"] = u
	}
	if c.taskSID != "" {
		attrs["call_task_sid"] = c.taskSID
	}
	if !h.degradedActive() {
		if owner, err := h.store.WorkerByPhoneNumber(ctx, ws.SID, dialed); err == nil {
			attrs["owner_worker_sid"] = owner.SID
			attrs["mailbox"] = "owner"
		}
	}
	raw, err := json.Marshal(attrs)
	if err != nil {
		return engine.TaskInsert{}, fmt.Errorf("encode voicemail attributes: %w", err)
	}
	return engine.TaskInsert{
		WorkspaceSID: ws.SID, WorkflowSID: workflowSID, Attributes: string(raw),
		TaskChannel: didrouter.MessageChannel, CallSID: recSID,
	}, nil
}

// transcription adds Twilio's transcription to the message's task when it
// arrives (transcribe callback). A message already handled keeps its
// attributes.
func (h *Handler) transcription(w http.ResponseWriter, r *http.Request) {
	h.callback(w, r, "transcription", func(ctx context.Context, c *call) error {
		a := h.answerer()
		recSID := c.param("RecordingSid")
		if a == nil || recSID == "" || c.param("TranscriptionStatus") != "completed" {
			return nil
		}
		t, err := h.store.TaskByCallSID(ctx, c.ws, recSID)
		if didrouter.ErrorCode(err) == didrouter.ENOTFOUND {
			return nil // a recording without a voicemail (empty, or not ours)
		}
		if err != nil {
			return fmt.Errorf("find voicemail of recording %s: %w", recSID, err)
		}
		var attrs map[string]any
		if err := json.Unmarshal([]byte(t.Attributes), &attrs); err != nil || attrs["type"] != typeVoicemail {
			return nil
		}
		attrs["transcription"] = c.param("TranscriptionText")
		raw, err := json.Marshal(attrs)
		if err != nil {
			return fmt.Errorf("encode voicemail attributes: %w", err)
		}
		s := string(raw)
		if _, err := a.UpdateTask(ctx, t.WorkspaceSID, t.SID, engine.TaskUpdate{Attributes: &s}); err != nil && didrouter.ErrorCode(err) != didrouter.EUNAVAILABLE {
			return fmt.Errorf("add transcription to task %s: %w", t.SID, err)
		}
		return nil
	})
}

// offer is the voicemail and call-back offer said while a caller waits,
// once they have waited the number's VoicemailAfter: on the first poll past
// it and then with each hold message. nil when not due.
func (h *Handler) offer(ctx context.Context, c *call, t didrouter.Task) twiml.Element {
	if h.answerer() == nil {
		return nil
	}
	after := h.answering(ctx, t.WorkspaceSID, attrsOf(t).PhoneNumber).VoicemailAfter
	if after <= 0 {
		return nil
	}
	waited := h.clock.Now().Sub(t.DateCreated)
	if waited < after {
		return nil
	}
	if waited-after >= time.Duration(h.waitPause)*time.Second && !h.sayHold(c) {
		return nil
	}
	return &twiml.VoiceGather{
		NumDigits:     "1",
		Timeout:       "3",
		Action:        h.url("/choice", h.taskQuery(t)),
		Method:        http.MethodPost,
		InnerElements: say("To leave a message, press 1. To hang up and be called back, press 2. Or stay on the line."),
	}
}

// choice is the offer's <Gather> action, in the queue's wait: 1 leaves for
// voicemail, 2 turns the call into a call-back request that keeps its
// place. Either takes the caller out of the queue (<Leave/>); the Enqueue
// action (dequeued) then plays the message prompt or says goodbye.
func (h *Handler) choice(ctx context.Context, c *call) ([]twiml.Element, error) {
	a := h.answerer()
	if c.taskSID == "" || a == nil {
		return nil, didrouter.Errorf(didrouter.EINVALID, "choice without a task")
	}
	t, err := h.store.GetTask(ctx, c.ws, c.taskSID)
	if err != nil {
		return nil, fmt.Errorf("read task %s: %w", c.taskSID, err)
	}
	if t.AssignmentStatus != didrouter.TaskPending && t.AssignmentStatus != didrouter.TaskReserved {
		return []twiml.Element{leave()}, nil // answered or over meanwhile: dequeued follows the task
	}
	switch c.param("Digits") {
	case "1":
		if _, err := h.eng.CancelTask(ctx, t.WorkspaceSID, t.SID, reasonVoicemail); err != nil && didrouter.ErrorCode(err) != didrouter.EUNAVAILABLE {
			return nil, fmt.Errorf("cancel task %s for voicemail: %w", t.SID, err)
		}
		h.decision(ctx, c, t.SID, "", "voicemail", "caller pressed 1 while waiting")
		return []twiml.Element{leave()}, nil
	case "2":
		var attrs map[string]any
		if err := json.Unmarshal([]byte(t.Attributes), &attrs); err != nil {
			return nil, fmt.Errorf("task %s attributes: %w", t.SID, err)
		}
		attrs["type"] = typeCallback
		attrs["callback_number"] = attrs["name"]
		attrs["callback_requested_at"] = h.clock.Now().UTC().Format(time.RFC3339)
		raw, err := json.Marshal(attrs)
		if err != nil {
			return nil, fmt.Errorf("encode task attributes: %w", err)
		}
		s, ch := string(raw), didrouter.MessageChannel
		// A request is a message: it moves to the message channel, so it
		// takes an agent's message capacity, not the one for calls.
		if _, err := a.UpdateTask(ctx, t.WorkspaceSID, t.SID, engine.TaskUpdate{Attributes: &s, TaskChannel: &ch}); err != nil {
			if didrouter.ErrorCode(err) == didrouter.EUNAVAILABLE {
				return []twiml.Element{leave()}, nil
			}
			return nil, fmt.Errorf("turn task %s into a call-back: %w", t.SID, err)
		}
		h.decision(ctx, c, t.SID, "", "callback", "caller pressed 2 while waiting")
		return []twiml.Element{leave()}, nil
	}
	return say(sayNotAnOption), nil
}

// choiceFallback keeps the caller waiting; the offer comes again.
func (h *Handler) choiceFallback(context.Context, *call) ([]twiml.Element, error) {
	return []twiml.Element{pause(1)}, nil
}

// leftByChoice answers the Enqueue action of a caller who left the queue
// by their choice (voicemail or call-back); ok is false otherwise.
func (h *Handler) leftByChoice(ctx context.Context, c *call, t didrouter.Task) ([]twiml.Element, bool) {
	switch {
	case t.AssignmentStatus == didrouter.TaskCanceled && t.Reason == reasonVoicemail:
		return h.voicemailTwiML(ctx, c, t, attrsOf(t).PhoneNumber), true
	case isCallback(t) && (t.AssignmentStatus == didrouter.TaskPending || t.AssignmentStatus == didrouter.TaskReserved):
		h.decision(ctx, c, t.SID, "", "hangup", "call-back requested: the task waits for an agent")
		return []twiml.Element{&twiml.VoiceSay{Message: sayCallback}, hangup()}, true
	}
	return nil, false
}

// replaceCallback cancels the call-back requests of a caller who calls
// again: they are on the line now, and one caller is queued once. The
// requests are found by the caller's number through the store's index
// (CallSettingsStore.CallbackRequests), for numbers with voicemail on. While
// the store is down nothing is looked up: the caller is queued, and the
// request stays for an agent to call back.
func (h *Handler) replaceCallback(ctx context.Context, c *call, nt engine.TaskInsert) {
	caller := h.callerName(c.param("From"))
	if h.settings == nil || h.degradedActive() || !strings.HasPrefix(caller, "+") ||
		h.answering(ctx, nt.WorkspaceSID, h.dialedNumber(c)).VoicemailAfter <= 0 {
		return
	}
	lctx, cancel := context.WithTimeout(ctx, settingsWait)
	list, err := h.settings.CallbackRequests(lctx, nt.WorkspaceSID, caller)
	cancel()
	if err != nil {
		h.log.WarnContext(ctx, "cannot look up caller's call-back requests", "call_sid", c.callSID, "err", err)
		return
	}
	for _, t := range list {
		if t.CallSID == c.callSID {
			continue
		}
		if _, err := h.eng.CancelTask(ctx, t.WorkspaceSID, t.SID, reasonCalledBack); err != nil {
			h.log.WarnContext(ctx, "cannot cancel call-back of a caller who called again",
				"call_sid", c.callSID, "task_sid", t.SID, "err", err)
			continue
		}
		h.decision(ctx, c, t.SID, "", "cancel", "the caller of call-back request "+t.SID+" called again")
	}
}

// calledBack completes the call-back requests offered to or taken by an
// agent who now calls their number: the agent is calling back, so the
// request is handled (and the agent's capacity is free for the call). A
// request that cannot be completed stays for the agent to complete; the
// outbound call goes ahead either way.
func (h *Handler) calledBack(ctx context.Context, c *call, w didrouter.Worker, dialed string) {
	list, err := h.store.ListReservations(ctx, w.WorkspaceSID, didrouter.ReservationFilter{Page: didrouter.Page{Size: 100}, WorkerSID: w.SID, Newest: true})
	if err != nil {
		h.log.WarnContext(ctx, "cannot look up agent's call-back requests", "call_sid", c.callSID, "worker_sid", w.SID, "err", err)
		return
	}
	for _, r := range list {
		if r.Status != didrouter.ReservationPending && r.Status != didrouter.ReservationAccepted {
			continue
		}
		t, err := h.store.GetTask(ctx, r.WorkspaceSID, r.TaskSID)
		if err != nil || !isCallback(t) {
			continue
		}
		var attrs map[string]any
		if json.Unmarshal([]byte(t.Attributes), &attrs) != nil || attrs["callback_number"] != dialed {
			continue
		}
		if r.Status == didrouter.ReservationPending {
			if _, err := h.eng.AcceptReservation(ctx, r.WorkspaceSID, r.SID); err != nil {
				h.log.WarnContext(ctx, "cannot accept the call-back being placed", "task_sid", t.SID, "err", err)
				continue
			}
		}
		if _, err := h.eng.CompleteTask(ctx, t.WorkspaceSID, t.SID, "called back"); err != nil {
			h.log.WarnContext(ctx, "cannot complete the call-back being placed", "task_sid", t.SID, "err", err)
			continue
		}
		h.decision(ctx, c, t.SID, w.SID, "complete", "the agent calls back "+dialed)
	}
}
