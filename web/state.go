package web

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/routing"
)

// recentCalls is how many of an agent's calls the desktop lists.
const recentCalls = 20

// agentState is what the desktop shows, as rendered into the page and sent
// on the event stream (the same JSON, so both always agree).
type agentState struct {
	Name string `json:"name"`
	// Version is the worker's version: the page ignores a state older than
	// one it has shown (a slow presence answer after a newer pushed change).
	Version       int64          `json:"version"`
	Number        string         `json:"number"`         // the agent's DID, E.164; "" without one
	NumberDisplay string         `json:"number_display"` // as people write it
	ActivitySID   string         `json:"activity_sid"`
	ActivityName  string         `json:"activity_name"`
	Available     bool           `json:"available"`
	Activities    []activityView `json:"activities"`
	Call          *callView      `json:"call"` // the call ringing or under way; nil when none
	Recent        []callView     `json:"recent"`
	// Messages are the voicemails and call-back requests offered to the
	// agent and not handled yet (they ring no phone).
	Messages []callView `json:"messages"`
}

type activityView struct {
	SID       string `json:"sid"`
	Name      string `json:"name"`
	Available bool   `json:"available"`
	Pressed   bool   `json:"pressed"`
}

// callView is one of the agent's calls (one reservation).
type callView struct {
	ReservationSID string `json:"reservation_sid"`
	TaskSID        string `json:"task_sid"`
	Direction      string `json:"direction"` // inbound, outbound
	Number         string `json:"number"`    // the other party (E.164 when it is a phone number)
	NumberDisplay  string `json:"number_display"`
	// ToYou: an inbound call dialed the agent's own number (else it came
	// through a queue, Via).
	ToYou bool   `json:"to_your_number"`
	Via   string `json:"via"`
	// State: ringing, on_call or wrapping while it lasts; Outcome once it
	// is over: answered, missed, declined, abandoned (inbound), answered,
	// no answer, busy, failed, placed (outbound).
	State   string `json:"state,omitempty"`
	Outcome string `json:"outcome,omitempty"`
	Label   string `json:"label"` // State or Outcome, in words
	Text    string `json:"text"`  // one sentence for the page
	When    string `json:"when"`  // RFC 3339, when it started ringing

	// Kind is "" for a call, voicemail or callback for a message.
	Kind         string `json:"kind,omitempty"`
	RecordingURL string `json:"recording_url,omitempty"` // didrouter's playback of a voicemail
	Duration     int    `json:"recording_duration,omitempty"`
	Transcript   string `json:"transcription,omitempty"`
}

// stateReader computes agent states. It keeps what cannot change any more,
// such as finished calls and queue names, because an event stream
// recomputes its agent's state on every change.
type stateReader struct {
	h        *Handler
	finished map[string]callView // by reservation sid
	queues   map[string]string   // queue names by sid
}

func (h *Handler) newStateReader() *stateReader {
	return &stateReader{h: h, finished: map[string]callView{}, queues: map[string]string{}}
}

// read computes the state of worker w.
func (s *stateReader) read(ctx context.Context, w didrouter.Worker) (agentState, error) {
	st := s.h.store
	norm := s.h.eng.Normalizer()
	out := agentState{Name: w.FriendlyName, Number: w.PhoneNumber, NumberDisplay: display(norm, w.PhoneNumber),
		ActivitySID: w.ActivitySID, ActivityName: w.ActivityName, Available: w.Available, Version: w.Version,
		Activities: []activityView{}, Recent: []callView{}, Messages: []callView{}}
	acts, err := st.ListActivities(ctx, w.WorkspaceSID)
	if err != nil {
		return agentState{}, fmt.Errorf("list activities: %w", err)
	}
	// Available ones first, then by name: a stable order (the seeded
	// activities share one creation time, so the store's order is by sid).
	slices.SortFunc(acts, func(a, b didrouter.Activity) int {
		if a.Available != b.Available {
			if a.Available {
				return -1
			}
			return 1
		}
		return cmp.Or(strings.Compare(a.FriendlyName, b.FriendlyName), strings.Compare(a.SID, b.SID))
	})
	for _, a := range acts {
		out.Activities = append(out.Activities, activityView{SID: a.SID, Name: a.FriendlyName, Available: a.Available, Pressed: a.SID == w.ActivitySID})
	}
	list, err := st.ListReservations(ctx, w.WorkspaceSID, didrouter.ReservationFilter{
		Page: didrouter.Page{Size: recentCalls}, WorkerSID: w.SID, Newest: true})
	if err != nil {
		return agentState{}, fmt.Errorf("list reservations: %w", err)
	}
	for _, r := range list {
		c, ok := s.finished[r.SID]
		if !ok {
			c, err = s.call(ctx, w, r)
			if err != nil {
				return agentState{}, err
			}
			if c.State == "" {
				s.finished[r.SID] = c
			}
		}
		if c.Kind != "" {
			// A message is listed while it waits for the agent; handled,
			// it is gone (it was no call of theirs).
			if c.State != "" {
				out.Messages = append(out.Messages, c)
			}
			continue
		}
		if c.State != "" && out.Call == nil {
			cc := c
			out.Call = &cc
		}
		out.Recent = append(out.Recent, c)
	}
	if len(s.finished) > 4*recentCalls {
		clear(s.finished) // a long shift: start over rather than grow
	}
	return out, nil
}

// call describes reservation r of worker w.
func (s *stateReader) call(ctx context.Context, w didrouter.Worker, r didrouter.Reservation) (callView, error) {
	norm := s.h.eng.Normalizer()
	t, err := s.h.store.GetTask(ctx, w.WorkspaceSID, r.TaskSID)
	if didrouter.ErrorCode(err) == didrouter.ENOTFOUND {
		t = didrouter.Task{SID: r.TaskSID, Attributes: "{}"} // deleted: show what the reservation says
	} else if err != nil {
		return callView{}, fmt.Errorf("read task %s: %w", r.TaskSID, err)
	}
	var attrs map[string]any
	_ = json.Unmarshal([]byte(t.Attributes), &attrs) // stored attributes are a JSON object
	str := func(k string) string { v, _ := attrs[k].(string); return v }
	c := callView{ReservationSID: r.SID, TaskSID: t.SID, Direction: "inbound", When: r.DateCreated.UTC().Format(time.RFC3339)}
	if k := str("type"); k == didrouter.TaskTypeVoicemail || k == didrouter.TaskTypeCallback {
		c.Kind = k
		if k == didrouter.TaskTypeVoicemail && str("recording_sid") != "" {
			c.RecordingURL = AgentVoicemail + "/" + t.SID + "/recording"
		}
		if d, ok := attrs["recording_duration"].(float64); ok && d > 0 {
			c.Duration = int(d)
		}
		c.Transcript = str("transcription")
	}
	if str("direction") == "outbound" || str("type") == "outbound" {
		c.Direction = "outbound"
		c.Number = str("to")
	} else {
		c.Number = str("name") // the caller's number, as the incoming webhook wrote it
		if c.Number == "" {
			c.Number = str("from")
		}
		dialed := str("phone_number")
		c.ToYou = dialed != "" && dialed == w.PhoneNumber
		if !c.ToYou {
			c.Via, err = s.queueName(ctx, w.WorkspaceSID, t.TaskQueueSID)
			if err != nil {
				return callView{}, err
			}
		}
	}
	c.NumberDisplay = display(norm, c.Number)
	if c.NumberDisplay == "" {
		c.NumberDisplay = "an unknown number"
	}
	c.State, c.Outcome = callStatus(r, t, c.Direction)
	c.Label = c.Outcome
	if c.State != "" {
		c.Label = stateLabel(c.State)
	}
	c.Text = c.sentence()
	return c, nil
}

func (s *stateReader) queueName(ctx context.Context, workspaceSID, sid string) (string, error) {
	if sid == "" {
		return "the queue", nil
	}
	if name, ok := s.queues[sid]; ok {
		return name, nil
	}
	q, err := s.h.store.GetTaskQueue(ctx, workspaceSID, sid)
	switch {
	case didrouter.ErrorCode(err) == didrouter.ENOTFOUND:
		return "the queue", nil
	case err != nil:
		return "", fmt.Errorf("read task queue %s: %w", sid, err)
	}
	s.queues[sid] = q.FriendlyName
	return q.FriendlyName, nil
}

// stateLabel words the state of a call under way (callStatus).
func stateLabel(state string) string {
	switch state {
	case "ringing":
		return "ringing"
	case "on_call":
		return "on a call"
	case "wrapping":
		return "wrapping up"
	}
	return state
}

// callStatus reads a reservation as the agent lived it: the state of a
// call under way, or the outcome of one that is over.
func callStatus(r didrouter.Reservation, t didrouter.Task, direction string) (state, outcome string) {
	switch r.Status {
	case didrouter.ReservationPending:
		return "ringing", ""
	case didrouter.ReservationAccepted:
		return "on_call", ""
	case didrouter.ReservationWrapping:
		return "wrapping", ""
	}
	if direction == "outbound" {
		// The outbound dial's status ends the task's reason: "call completed: no-answer".
		_, dial, _ := strings.Cut(t.Reason, ": ")
		switch dial {
		case "completed", "answered":
			return "", "answered"
		case "no-answer":
			return "", "no answer"
		case "busy":
			return "", "busy"
		case "failed", "canceled":
			return "", "failed"
		}
		return "", "placed"
	}
	switch r.Status {
	case didrouter.ReservationCompleted:
		return "", "answered"
	case didrouter.ReservationRejected:
		return "", "declined"
	case didrouter.ReservationTimeout, didrouter.ReservationRescinded:
		// Rescinded: the owner's turn ended unanswered and the call moved on.
		return "", "missed"
	case didrouter.ReservationCanceled:
		return "", "abandoned" // the caller hung up while it rang
	}
	return "", r.Status
}

// sentence is the line the page shows for the call.
func (c callView) sentence() string {
	how := "through " + c.Via
	if c.ToYou {
		how = "called your number"
	}
	switch c.Kind {
	case didrouter.TaskTypeVoicemail:
		if c.ToYou {
			return "Voicemail from " + c.NumberDisplay + " to your number"
		}
		return "Voicemail from " + c.NumberDisplay + " " + how
	case didrouter.TaskTypeCallback:
		return c.NumberDisplay + " asked to be called back"
	}
	if c.Direction == "outbound" {
		switch c.State {
		case "on_call":
			return "On a call to " + c.NumberDisplay
		case "wrapping":
			return "Wrapping up the call to " + c.NumberDisplay
		case "ringing":
			return "Calling " + c.NumberDisplay
		}
		return "Call to " + c.NumberDisplay + ": " + c.Outcome
	}
	switch c.State {
	case "ringing":
		return "Ringing: " + c.NumberDisplay + " " + how
	case "on_call":
		return "On a call with " + c.NumberDisplay + " (" + strings.TrimPrefix(how, "called ") + ")"
	case "wrapping":
		return "Wrapping up the call with " + c.NumberDisplay
	}
	if c.ToYou {
		how = "to your number"
	}
	return "Call from " + c.NumberDisplay + " " + how + ": " + c.Outcome
}

// display is a number as people write it; other addresses (client:, sip:)
// stay as they are.
func display(norm *routing.Normalizer, number string) string {
	if number == "" || !strings.HasPrefix(number, "+") || norm == nil {
		return number
	}
	return norm.Display(number)
}
