package api

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/routing"
)

// Call settings are didrouter's own, with no TaskRouter counterpart: a
// workspace's business hours and voicemail timing, and the overrides of
// single numbers. See docs/voicemail.md.

type callSettingsJSON struct {
	WorkspaceSID string `json:"workspace_sid"`
	// PhoneNumber is null for the workspace's own settings.
	PhoneNumber *string `json:"phone_number"`
	// BusinessHours is "always", a JSON document (package hours), or null
	// when inherited.
	BusinessHours  *string `json:"business_hours"`
	VoicemailAfter *string `json:"voicemail_after"`
	// OpenNow is whether these hours (or the inherited ones) are open now.
	OpenNow     bool    `json:"open_now"`
	DateUpdated *string `json:"date_updated"`
	URL         string  `json:"url"`
}

func (h *Handler) callSettingsJSON(r *http.Request, s didrouter.CallSettings) callSettingsJSON {
	self := h.workspaceURL(r, s.WorkspaceSID) + "/CallSettings"
	if s.PhoneNumber != "" {
		self += "/" + s.PhoneNumber
	}
	open := true
	if a, err := engine.ResolveAnswering(r.Context(), h.settings, s.WorkspaceSID, s.PhoneNumber, 0); err == nil {
		open = a.Open(h.clock.Now())
	}
	return callSettingsJSON{
		WorkspaceSID:   s.WorkspaceSID,
		PhoneNumber:    nullable(s.PhoneNumber),
		BusinessHours:  nullable(s.Hours),
		VoicemailAfter: nullable(s.VoicemailAfter),
		OpenNow:        open,
		DateUpdated:    isoTime(s.DateUpdated),
		URL:            self,
	}
}

// settingsNumber is the {number} of the path in E.164, or "" on the
// workspace's own path. A server without a call settings store answers
// every call settings request with its error.
func (h *Handler) settingsNumber(r *http.Request) (string, error) {
	if h.settings == nil {
		return "", didrouter.Errorf(didrouter.EINVALID, "call settings are not available: the API was configured without a call settings store")
	}
	raw := chi.URLParam(r, "number")
	if raw == "" {
		return "", nil
	}
	if u, err := url.PathUnescape(raw); err == nil {
		raw = u
	}
	return SettingsNumber(h.normalizer(), raw)
}

// SettingsNumber is the number raw names, in E.164, for its own call
// settings; a clear EINVALID error when it is no phone number. The API and
// the admin console share it, so both say the same.
func SettingsNumber(norm *routing.Normalizer, raw string) (string, error) {
	n, err := norm.Normalize(raw)
	if err != nil {
		return "", didrouter.Errorf(didrouter.EINVALID, "%q is not a phone number", clip(raw))
	}
	return n.E164, nil
}

// CheckSettingsNumber refuses (ECONFLICT) to set the call settings of a
// number bound to another workspace: they are that workspace's to set.
func CheckSettingsNumber(ctx context.Context, st didrouter.Reader, workspaceSID, number string) error {
	if b, err := st.GetBinding(ctx, number); err == nil && b.WorkspaceSID != workspaceSID {
		return didrouter.Errorf(didrouter.ECONFLICT, "phone number %s is bound to workspace %s", number, b.WorkspaceSID)
	}
	return nil
}

func (h *Handler) listCallSettings(w http.ResponseWriter, r *http.Request, _ string) error {
	ws := workspaceOf(r)
	all, err := h.settings.ListCallSettings(r.Context(), ws.SID)
	if err != nil {
		return err
	}
	out := struct {
		Workspace    callSettingsJSON   `json:"workspace"`
		PhoneNumbers []callSettingsJSON `json:"phone_numbers"`
	}{PhoneNumbers: []callSettingsJSON{}}
	out.Workspace = h.callSettingsJSON(r, didrouter.CallSettings{WorkspaceSID: ws.SID})
	for _, s := range all {
		if s.PhoneNumber == "" {
			out.Workspace = h.callSettingsJSON(r, s)
			continue
		}
		out.PhoneNumbers = append(out.PhoneNumbers, h.callSettingsJSON(r, s))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) getCallSettings(w http.ResponseWriter, r *http.Request, number string) error {
	s, err := h.settings.GetCallSettings(r.Context(), workspaceOf(r).SID, number)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h.callSettingsJSON(r, s))
	return nil
}

// putCallSettings sets BusinessHours and VoicemailAfter; a parameter not
// sent keeps its value, an empty one inherits again.
func (h *Handler) putCallSettings(w http.ResponseWriter, r *http.Request, number string) error {
	f, err := parseForm(r)
	if err != nil {
		return err
	}
	ws := workspaceOf(r)
	if number != "" {
		if err := CheckSettingsNumber(r.Context(), h.store, ws.SID, number); err != nil {
			return err
		}
	}
	s, err := h.settings.GetCallSettings(r.Context(), ws.SID, number)
	if err != nil && didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
		return err
	}
	s.WorkspaceSID, s.PhoneNumber = ws.SID, number
	if v, ok := f.str("BusinessHours"); ok {
		s.Hours = strings.TrimSpace(v)
	}
	if v, ok := f.str("VoicemailAfter"); ok {
		s.VoicemailAfter = strings.TrimSpace(v)
	}
	if err := engine.CheckCallSettings(s); err != nil {
		return err
	}
	s.DateUpdated = h.clock.Now()
	if err := h.settings.PutCallSettings(r.Context(), s); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h.callSettingsJSON(r, s))
	return nil
}

func (h *Handler) deleteCallSettings(w http.ResponseWriter, r *http.Request, number string) error {
	if err := h.settings.DeleteCallSettings(r.Context(), workspaceOf(r).SID, number); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
