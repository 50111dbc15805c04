package web

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/api"
	"github.com/didrouter/didrouter/engine"
)

// AdminHours is the console's page of the workspace's business hours and
// voicemail timing (docs/voicemail.md), with the numbers that have their
// own. AdminHoursNumber (?number=…) edits one number's own settings; a POST
// there saves them, and AdminHoursNumberRemove makes the number inherit
// the workspace's again.
const (
	AdminHours             = "/admin/hours"
	AdminHoursNumber       = "/admin/hours/number"
	AdminHoursNumberRemove = "/admin/hours/number/remove"
)

// numberRow is a number with its own settings, in the page's list.
type numberRow struct {
	didrouter.CallSettings
	Display string
}

// hoursData is the business hours page.
type hoursData struct {
	Hours          string // the document as stored ("" = always)
	VoicemailAfter string // "" = the server's default
	OpenNow        bool
	Numbers        []numberRow // the numbers' own settings
	Error          string
	Off            bool // the server keeps no call settings
}

func (h *Handler) mountAdminHours(r chi.Router) {
	r.Get(AdminHours, h.adminHours)
	r.Post(AdminHours, h.adminSaveHours)
	r.Get(AdminHoursNumber, h.adminNumberHours)
	r.Post(AdminHoursNumber, h.adminSaveNumberHours)
	r.Post(AdminHoursNumberRemove, h.adminRemoveNumberHours)
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
		d.Numbers = append(d.Numbers, numberRow{CallSettings: s, Display: display(h.eng.Normalizer(), s.PhoneNumber)})
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
	switch r.URL.Query().Get("done") {
	case "saved":
		v.Message = "Business hours saved."
	case "number-saved":
		v.Message = "The number's own settings are saved."
	case "number-removed":
		v.Message = "The number now has the workspace's settings."
	}
	h.renderAdmin(w, r, http.StatusOK, "admin_hours", "Business hours", "hours", v, d)
}

// adminSaveHours checks and stores the workspace's hours and voicemail
// delay, with the admin API's rules; a refused value shows the form again
// with the reason, and nothing is written.
func (h *Handler) adminSaveHours(w http.ResponseWriter, r *http.Request) {
	if h.hoursOff(w, r) {
		return
	}
	ws := adminFrom(r.Context()).Workspace.SID
	s := didrouter.CallSettings{WorkspaceSID: ws, Hours: formValue(r, "hours"), VoicemailAfter: formValue(r, "voicemail_after")}
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
		refuse(didrouter.ErrorMessage(err))
		return
	}
	s.DateUpdated = h.clock.Now()
	if err := h.settings.PutCallSettings(r.Context(), s); err != nil {
		h.failed(w, r, AdminAssets, "save the business hours", err)
		return
	}
	h.log.InfoContext(r.Context(), "console business hours saved", "workspace", ws, "client", clientIP(r))
	http.Redirect(w, r, AdminHours+"?done=saved", http.StatusSeeOther)
}

// numberHoursData is the page of one number's own settings.
type numberHoursData struct {
	Number         string // E.164; "" on the form for a new number
	Display        string
	Hours          string // "" = as the workspace
	VoicemailAfter string // "" = as the workspace
	Stored         bool   // the number has settings of its own
	OpenNow        bool
	Error          string
}

// adminNumberHours shows the form of one number's own settings, filled in
// when it has some; without ?number= it is the form for a new number.
func (h *Handler) adminNumberHours(w http.ResponseWriter, r *http.Request) {
	if h.hoursOff(w, r) {
		return
	}
	d := &numberHoursData{OpenNow: true}
	if raw := strings.TrimSpace(r.URL.Query().Get("number")); raw != "" {
		number, err := api.SettingsNumber(h.eng.Normalizer(), raw)
		if err != nil {
			h.message(w, r, http.StatusBadRequest, AdminAssets, "Not a phone number", didrouter.ErrorMessage(err))
			return
		}
		s, err := h.settings.GetCallSettings(r.Context(), adminFrom(r.Context()).Workspace.SID, number)
		switch {
		case err == nil:
			d.Hours, d.VoicemailAfter, d.Stored = s.Hours, s.VoicemailAfter, true
		case didrouter.ErrorCode(err) != didrouter.ENOTFOUND:
			h.failed(w, r, AdminAssets, "read the number's settings", err)
			return
		}
		d.Number = number
	}
	h.renderNumberHours(w, r, http.StatusOK, d)
}

func (h *Handler) renderNumberHours(w http.ResponseWriter, r *http.Request, status int, d *numberHoursData) {
	if d.Number != "" {
		d.Display = display(h.eng.Normalizer(), d.Number)
		if a, err := engine.ResolveAnswering(r.Context(), h.settings, adminFrom(r.Context()).Workspace.SID, d.Number, 0); err == nil {
			d.OpenNow = a.Open(h.clock.Now())
		}
	}
	h.renderAdmin(w, r, status, "admin_hours_number", "Business hours of a number", "hours", view{}, d)
}

// adminSaveNumberHours checks and stores a number's own hours and voicemail
// delay with the admin API's rules. Those check the number and the values,
// and refuse a number bound to another workspace. A refused form is shown
// again with the API's message, and nothing is written. Empty fields
// inherit the workspace's.
func (h *Handler) adminSaveNumberHours(w http.ResponseWriter, r *http.Request) {
	if h.hoursOff(w, r) {
		return
	}
	ws := adminFrom(r.Context()).Workspace.SID
	d := &numberHoursData{Number: formValue(r, "number"), Hours: formValue(r, "hours"), VoicemailAfter: formValue(r, "voicemail_after")}
	if err := h.saveNumberHours(r, ws, d); err != nil {
		status, refused := adminStatus(err)
		if !refused {
			h.failed(w, r, AdminAssets, "save the number's settings", err)
			return
		}
		d.Error = didrouter.ErrorMessage(err)
		h.renderNumberHours(w, r, status, d)
		return
	}
	h.log.InfoContext(r.Context(), "console number hours saved", "workspace", ws,
		"phone_number", d.Number, "client", clientIP(r))
	http.Redirect(w, r, AdminHours+"?done=number-saved", http.StatusSeeOther)
}

// saveNumberHours is adminSaveNumberHours' work; d.Number becomes E.164
// once it is known to be a number.
func (h *Handler) saveNumberHours(r *http.Request, ws string, d *numberHoursData) error {
	number, err := api.SettingsNumber(h.eng.Normalizer(), d.Number)
	if err != nil {
		return err
	}
	d.Number = number
	if err := api.CheckSettingsNumber(r.Context(), h.store, ws, number); err != nil {
		return err
	}
	s := didrouter.CallSettings{WorkspaceSID: ws, PhoneNumber: number, Hours: d.Hours, VoicemailAfter: d.VoicemailAfter}
	if err := engine.CheckCallSettings(s); err != nil {
		return err
	}
	s.DateUpdated = h.clock.Now()
	return h.settings.PutCallSettings(r.Context(), s)
}

// adminRemoveNumberHours forgets a number's own settings: it inherits the
// workspace's again. A number without any is no error.
func (h *Handler) adminRemoveNumberHours(w http.ResponseWriter, r *http.Request) {
	if h.hoursOff(w, r) {
		return
	}
	ws := adminFrom(r.Context()).Workspace.SID
	number, err := api.SettingsNumber(h.eng.Normalizer(), formValue(r, "number"))
	if err != nil {
		h.message(w, r, http.StatusBadRequest, AdminAssets, "Not a phone number", didrouter.ErrorMessage(err))
		return
	}
	if err := h.settings.DeleteCallSettings(r.Context(), ws, number); err != nil && didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
		h.failed(w, r, AdminAssets, "remove the number's settings", err)
		return
	}
	h.log.InfoContext(r.Context(), "console number hours removed", "workspace", ws,
		"phone_number", number, "client", clientIP(r))
	http.Redirect(w, r, AdminHours+"?done=number-removed", http.StatusSeeOther)
}

// hoursOff answers 503 when the server keeps no call settings.
func (h *Handler) hoursOff(w http.ResponseWriter, r *http.Request) bool {
	if h.settings != nil {
		return false
	}
	h.message(w, r, http.StatusServiceUnavailable, AdminAssets, "Business hours are off",
		"This server keeps no business hours.")
	return true
}
