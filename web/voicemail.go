package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter"
)

// Voicemail on the agent desktop, as docs/voicemail.md tells. An agent
// lists their own voicemail and call-back tasks and plays a message through
// didrouter. didrouter fetches the recording from Twilio with the account's
// credentials, so the browser never holds them. A recording is streamed
// only to the session of the agent the message is for.
const (
	AgentVoicemail = "/agent/voicemail"
	// maxRecording bounds a recording streamed to the browser (a 2-minute
	// message is about 2 MB as MP3).
	maxRecording = 64 << 20
)

// RecordingSource fetches recordings from Twilio's REST API.
type RecordingSource struct {
	// BaseURL is Twilio's API; "" = https://api.twilio.com (tests point it
	// at a local server speaking Twilio's API).
	BaseURL    string
	AccountSID string // AC…: the account the recordings belong to
	// Username and Password authenticate: the account sid and auth token,
	// or an API key (SK…) and its secret.
	Username, Password string
	Client             *http.Client // nil = a client with a 30 s timeout
}

// mountVoicemail registers the voicemail endpoints behind AgentOnly.
func (h *Handler) mountVoicemail(r chi.Router) {
	r.With(h.AgentOnly).Get(AgentVoicemail, h.listVoicemail)
	r.With(h.AgentOnly).Get(AgentVoicemail+"/{task}/recording", h.playVoicemail)
}

// voicemailJSON is one message or call-back request on the agent's list.
type voicemailJSON struct {
	TaskSID      string `json:"task_sid"`
	Type         string `json:"type"` // voicemail or callback
	Status       string `json:"assignment_status"`
	Caller       string `json:"caller"`
	DID          string `json:"did"`
	Mailbox      string `json:"mailbox,omitempty"` // owner or shared
	Duration     int    `json:"recording_duration,omitempty"`
	Transcript   string `json:"transcription,omitempty"`
	RecordingURL string `json:"recording_url,omitempty"` // didrouter's playback URL
	DateCreated  string `json:"date_created"`
}

// taskFor is the part of a voicemail or call-back task's attributes the
// desktop shows.
type taskFor struct {
	Type          string `json:"type"`
	Name          string `json:"name"`
	PhoneNumber   string `json:"phone_number"`
	Owner         string `json:"owner_worker_sid"`
	Mailbox       string `json:"mailbox"`
	RecordingSID  string `json:"recording_sid"`
	Duration      int    `json:"recording_duration"`
	Transcription string `json:"transcription"`
}

// mine reports whether a voicemail or call-back task is the agent's. It is
// when the message is for them as the owner of the number called, or when
// it is offered to or taken by them.
func (h *Handler) mine(ctx context.Context, a Agent, t didrouter.Task, attrs taskFor) (bool, error) {
	if attrs.Type != "voicemail" && attrs.Type != "callback" {
		return false, nil
	}
	if attrs.Owner == a.Worker.SID {
		return true, nil
	}
	rs, err := h.store.ListReservations(ctx, t.WorkspaceSID, didrouter.ReservationFilter{Page: didrouter.Page{Size: 100}, TaskSID: t.SID})
	if err != nil {
		return false, fmt.Errorf("reservations of task %s: %w", t.SID, err)
	}
	for _, r := range rs {
		if r.WorkerSID == a.Worker.SID && (r.Status == didrouter.ReservationPending || r.Status == didrouter.ReservationAccepted ||
			r.Status == didrouter.ReservationWrapping || r.Status == didrouter.ReservationCompleted) {
			return true, nil
		}
	}
	return false, nil
}

// listVoicemail answers the agent's open voicemail and call-back tasks,
// newest first, as JSON.
func (h *Handler) listVoicemail(w http.ResponseWriter, r *http.Request) {
	a, _ := AgentFrom(r.Context())
	ctx := r.Context()
	tasks, err := h.store.ListTasks(ctx, a.Worker.WorkspaceSID, didrouter.TaskFilter{
		Page: didrouter.Page{Size: 1000}, Newest: true,
		AssignmentStatus: []string{didrouter.TaskPending, didrouter.TaskReserved, didrouter.TaskAssigned, didrouter.TaskWrapping},
	})
	if err != nil {
		h.logError(r, "list voicemail", err)
		http.Error(w, "didrouter cannot read your messages right now; try again in a moment", http.StatusInternalServerError)
		return
	}
	out := []voicemailJSON{}
	for _, t := range tasks {
		var attrs taskFor
		if json.Unmarshal([]byte(t.Attributes), &attrs) != nil {
			continue
		}
		ok, err := h.mine(ctx, a, t, attrs)
		if err != nil {
			h.logError(r, "list voicemail", err)
			http.Error(w, "didrouter cannot read your messages right now; try again in a moment", http.StatusInternalServerError)
			return
		}
		if !ok {
			continue
		}
		v := voicemailJSON{TaskSID: t.SID, Type: attrs.Type, Status: t.AssignmentStatus, Caller: attrs.Name,
			DID: attrs.PhoneNumber, Mailbox: attrs.Mailbox, Duration: attrs.Duration, Transcript: attrs.Transcription,
			DateCreated: t.DateCreated.UTC().Format(time.RFC3339)}
		if attrs.Type == "voicemail" && attrs.RecordingSID != "" {
			v.RecordingURL = AgentVoicemail + "/" + t.SID + "/recording"
		}
		out = append(out, v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]any{"voicemail": out})
}

// playVoicemail streams a message's recording to the agent it is for.
func (h *Handler) playVoicemail(w http.ResponseWriter, r *http.Request) {
	a, _ := AgentFrom(r.Context())
	ctx := r.Context()
	src := h.recordings
	if src == nil {
		http.Error(w, "Playing messages is not set up on this server (it needs TWILIO_ACCOUNT_SID).", http.StatusServiceUnavailable)
		return
	}
	sid := chi.URLParam(r, "task")
	notFound := func() { http.Error(w, "No such message.", http.StatusNotFound) }
	if !didrouter.IsSID(sid, didrouter.PrefixTask) {
		notFound()
		return
	}
	t, err := h.store.GetTask(ctx, a.Worker.WorkspaceSID, sid)
	if didrouter.ErrorCode(err) == didrouter.ENOTFOUND {
		notFound()
		return
	}
	if err != nil {
		h.logError(r, "read voicemail task", err)
		http.Error(w, "didrouter cannot read this message right now; try again in a moment", http.StatusInternalServerError)
		return
	}
	var attrs taskFor
	_ = json.Unmarshal([]byte(t.Attributes), &attrs)
	ok, err := h.mine(ctx, a, t, attrs)
	if err != nil {
		h.logError(r, "read voicemail task", err)
		http.Error(w, "didrouter cannot read this message right now; try again in a moment", http.StatusInternalServerError)
		return
	}
	// Another agent's message is answered as a missing one: its existence
	// is not the asker's to learn.
	if !ok || attrs.Type != "voicemail" || !didrouter.IsSID(attrs.RecordingSID, "RE") {
		notFound()
		return
	}
	resp, err := src.fetch(ctx, attrs.RecordingSID)
	if err != nil {
		h.logError(r, "fetch recording "+attrs.RecordingSID, err)
		http.Error(w, "Twilio did not give the recording; try again in a moment.", http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		h.log.WarnContext(ctx, "twilio refused a recording", "recording_sid", attrs.RecordingSID, "status", resp.StatusCode)
		http.Error(w, "Twilio did not give the recording; try again in a moment.", http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "audio/mpeg")
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Set("Content-Disposition", `inline; filename="`+attrs.RecordingSID+`.mp3"`)
	if _, err := io.Copy(w, io.LimitReader(resp.Body, maxRecording)); err != nil {
		h.log.InfoContext(ctx, "streaming a recording ended early", "recording_sid", attrs.RecordingSID, "err", err)
	}
}

// fetch asks Twilio for a recording as MP3. The URL is built from the
// account and the recording's sid, never taken from a stored URL: only
// Twilio's API ever sees the credentials.
func (s *RecordingSource) fetch(ctx context.Context, recordingSID string) (*http.Response, error) {
	base := strings.TrimRight(s.BaseURL, "/")
	if base == "" {
		base = "https://api.twilio.com"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		base+"/2010-04-01/Accounts/"+s.AccountSID+"/Recordings/"+recordingSID+".mp3", nil)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(s.Username, s.Password)
	c := s.Client
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second}
	}
	return c.Do(req)
}
