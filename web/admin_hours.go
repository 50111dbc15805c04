package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter/engine"
)

// AdminHours is the console's page of the workspace's business hours and
// voicemail timing (docs/voicemail.md); the numbers' own settings are listed
// and set through the admin API.
const AdminHours = "/admin/hours"

// hoursData is the business hours page.
type hoursData struct {
	Hours          string // the document as stored ("" = always)
	VoicemailAfter string // "" = the server's default
	OpenNow        bool
	Numbers        []engine.CallSettings // the numbers' own settings
	Error          string
	Off            bool // the server keeps no call settings
}

func (h *Handler) mountAdminHours(r chi.Router) {
	r.Get(AdminHours, h.adminHours)
	r.Post(AdminHours, h.adminSaveHours)
}

// adminHoursData reads the workspace's settings for the page.
func (h *Handler) adminHoursData(r *http.Request) (*hoursData, error) {
	d := &hoursData{OpenNow: true}
	if h.settings == nil {
		d.Off = true
		return d, nil
	}
	ws := adminFrom(r.Context()).Workspace.SID
	all, err := h.settings.ListCallSettings(r.Context(), ws)
	if err != nil {
		return nil, err
	}
	for _, s := range all {
		if s.PhoneNumber == "" {
			d.Hours, d.VoicemailAfter = s.Hours, s.VoicemailAfter
			continue
		}
		d.Numbers = append(d.Numbers, s)
	}
	if a, err := engine.ResolveAnswering(r.Context(), h.settings, ws, "", 0); err == nil {
		d.OpenNow = a.Open(h.clock.Now())
	}
	return d, nil
}

func (h *Handler) adminHours(w http.ResponseWriter, r *http.Request) {
	d, err := h.adminHoursData(r)
	if err != nil {
		h.failed(w, r, AdminAssets, "read the business hours", err)
		return
	}
	v := view{}
	if r.URL.Query().Get("done") == "saved" {
		v.Message = "Business hours saved."
	}
	h.renderAdmin(w, r, http.StatusOK, "admin_hours", "Business hours", "hours", v, d)
}

// adminSaveHours checks and stores the workspace's hours and voicemail
// delay, with the admin API's rules; a refused value shows the form again
// with the reason, and nothing is written.
func (h *Handler) adminSaveHours(w http.ResponseWriter, r *http.Request) {
	if h.settings == nil {
		h.message(w, r, http.StatusServiceUnavailable, AdminAssets, "Business hours are off",
			"This server keeps no business hours.")
		return
	}
	ws := adminFrom(r.Context()).Workspace.SID
	s := engine.CallSettings{WorkspaceSID: ws, Hours: formValue(r, "hours"), VoicemailAfter: formValue(r, "voicemail_after")}
	refuse := func(why string) {
		d, err := h.adminHoursData(r)
		if err != nil {
			h.failed(w, r, AdminAssets, "read the business hours", err)
			return
		}
		d.Hours, d.VoicemailAfter, d.Error = s.Hours, s.VoicemailAfter, why
		h.renderAdmin(w, r, http.StatusBadRequest, "admin_hours", "Business hours", "hours", view{}, d)
	}
	if err := engine.CheckCallSettings(s); err != nil {
		refuse(engine.ErrorMessage(err))
		return
	}
	s.DateUpdated = h.clock.Now()
	if err := h.settings.PutCallSettings(r.Context(), s); err != nil {
		h.failed(w, r, AdminAssets, "save the business hours", err)
		return
	}
	h.log.InfoContext(r.Context(), "admin console: business hours saved", "workspace", ws, "client", clientIP(r))
	http.Redirect(w, r, AdminHours+"?done=saved", http.StatusSeeOther)
}
