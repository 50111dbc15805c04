package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/agenttoken"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/routing"
)

// Agents and numbers: the workspace's workers with their DIDs.
const (
	agentsPerPage = 50
	maxMatches    = 100 // a search lists at most this many workers
)

// agentRow is one worker of the list.
type agentRow struct {
	SID, Name             string
	Number, NumberDisplay string // the DID: E.164, as people write it
	Contact, Email        string
	ActivitySID, Activity string
	Available             bool
	Identity              string // the softphone identity a sign-in link names ("" = none)
}

type activityOption struct {
	SID, Name string
	Available bool
}

type agentsData struct {
	Query      string
	Rows       []agentRow
	Activities []activityOption
	Next       string // the next page's cursor
	More       bool   // a search found more than it lists
	Links      bool   // sign-in links are on
	Error      string
}

// agentForm is the page of one worker (new when SID is "").
type agentForm struct {
	SID, Name, Number, Contact, Email, ActivitySID string
	NumberDisplay                                  string
	Activities                                     []activityOption
	Other                                          string // the other attributes, as JSON
	Error                                          string
	OwnerSID, OwnerName                            string // the worker who has the number asked for
	Links                                          bool
	Identity                                       string
}

func (h *Handler) activityOptions(r *http.Request) ([]activityOption, error) {
	acts, err := h.store.ListActivities(r.Context(), adminFrom(r.Context()).Workspace.SID)
	if err != nil {
		return nil, fmt.Errorf("list activities: %w", err)
	}
	out := make([]activityOption, 0, len(acts))
	for _, a := range acts {
		out = append(out, activityOption{SID: a.SID, Name: a.FriendlyName, Available: a.Available})
	}
	return out, nil
}

func (h *Handler) linksOn() bool { return h.agents != nil && h.agents.On() }

// row is what the list shows of w.
func (h *Handler) row(w didrouter.Worker) agentRow {
	attrs, _ := routing.ParseAttributes([]byte(orEmpty(w.Attributes)))
	str := func(k string) string { s, _ := attrs[k].(string); return s }
	r := agentRow{SID: w.SID, Name: w.FriendlyName, Number: w.PhoneNumber, NumberDisplay: display(h.eng.Normalizer(), w.PhoneNumber),
		Contact: str("contact_uri"), Email: str("email"), ActivitySID: w.ActivitySID, Activity: w.ActivityName, Available: w.Available}
	r.Identity = identityOf(r.Contact)
	return r
}

// identityOf is the softphone identity of a client: contact URI, as sign-in
// links name it; "" for other contacts.
func identityOf(contact string) string {
	id, ok := strings.CutPrefix(contact, "client:")
	if !ok || agenttoken.CheckIdentity(id) != nil {
		return ""
	}
	return id
}

func orEmpty(s string) string {
	if s == "" {
		return "{}"
	}
	return s
}

// adminAgents lists the workers, a page at a time, or those a search finds
// (by friendly name, or by digits of their number).
func (h *Handler) adminAgents(w http.ResponseWriter, r *http.Request) {
	d, err := h.agentsData(r, strings.TrimSpace(r.URL.Query().Get("q")), r.URL.Query().Get("after"))
	if err != nil {
		h.failed(w, r, AdminAssets, "list the agents", err)
		return
	}
	h.renderAdmin(w, r, http.StatusOK, "admin_agents", "Agents and numbers", "agents", view{Message: h.doneNotice(r)}, d)
}

func (h *Handler) agentsData(r *http.Request, q, after string) (*agentsData, error) {
	ctx := r.Context()
	ws := adminFrom(ctx).Workspace.SID
	acts, err := h.activityOptions(r)
	if err != nil {
		return nil, err
	}
	d := &agentsData{Query: q, Rows: []agentRow{}, Activities: acts, Links: h.linksOn()}
	if q == "" {
		list, err := h.store.ListWorkers(ctx, ws, didrouter.WorkerFilter{Page: didrouter.Page{Size: agentsPerPage, After: after}})
		if didrouter.ErrorCode(err) == didrouter.EINVALID {
			list, err = h.store.ListWorkers(ctx, ws, didrouter.WorkerFilter{Page: didrouter.Page{Size: agentsPerPage}}) // a stale cursor: from the top
		}
		if err != nil {
			return nil, fmt.Errorf("list workers: %w", err)
		}
		for _, wk := range list {
			d.Rows = append(d.Rows, h.row(wk))
		}
		if len(list) == agentsPerPage {
			d.Next = list[len(list)-1].SID
		}
		return d, nil
	}
	name := strings.ToLower(q)
	digits := strings.Map(func(r rune) rune {
		if unicode.IsDigit(r) {
			return r
		}
		return -1
	}, q)
	if len(digits) < 3 {
		digits = "" // "1" or "12" would match nearly everyone
	}
	err = h.store.EachWorker(ctx, ws, func(wk didrouter.Worker) error {
		if !strings.Contains(strings.ToLower(wk.FriendlyName), name) &&
			(digits == "" || !strings.Contains(wk.PhoneNumber, digits)) {
			return nil
		}
		if len(d.Rows) == maxMatches {
			d.More = true
			return nil
		}
		d.Rows = append(d.Rows, h.row(wk))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("search workers: %w", err)
	}
	slices.SortFunc(d.Rows, func(a, b agentRow) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	return d, nil
}

// doneNotice words what the change before a redirect did (?done=…&wk=…).
func (h *Handler) doneNotice(r *http.Request) string {
	q := r.URL.Query()
	name := "The agent"
	if sid := q.Get("wk"); sid != "" {
		if wk, err := h.store.GetWorker(r.Context(), adminFrom(r.Context()).Workspace.SID, sid); err == nil {
			name = wk.FriendlyName
			if q.Get("done") == "activity" {
				return name + " is now " + wk.ActivityName + "."
			}
		}
	}
	switch q.Get("done") {
	case "created":
		return name + " was added."
	case "updated":
		return name + " was saved."
	case "deleted":
		return "The agent was deleted."
	}
	return ""
}

// adminNewAgent is the form of a new worker.
func (h *Handler) adminNewAgent(w http.ResponseWriter, r *http.Request) {
	acts, err := h.activityOptions(r)
	if err != nil {
		h.failed(w, r, AdminAssets, "read the activities", err)
		return
	}
	h.renderAdmin(w, r, http.StatusOK, "admin_agent", "New agent", "agents", view{}, &agentForm{Activities: acts})
}

// adminAgent is the form of one worker.
func (h *Handler) adminAgent(w http.ResponseWriter, r *http.Request) {
	wk, ok := h.pathWorker(w, r)
	if !ok {
		return
	}
	f, err := h.formOf(r, wk)
	if err != nil {
		h.failed(w, r, AdminAssets, "read the activities", err)
		return
	}
	h.renderAdmin(w, r, http.StatusOK, "admin_agent", wk.FriendlyName, "agents", view{Message: h.doneNotice(r)}, f)
}

// pathWorker reads the worker the path names; it answers the request when
// there is none.
func (h *Handler) pathWorker(w http.ResponseWriter, r *http.Request) (didrouter.Worker, bool) {
	wk, err := h.store.GetWorker(r.Context(), adminFrom(r.Context()).Workspace.SID, chi.URLParam(r, "sid"))
	switch {
	case didrouter.ErrorCode(err) == didrouter.ENOTFOUND:
		h.message(w, r, http.StatusNotFound, AdminAssets, "No such agent", "This agent does not exist (any more). Go back to the agents' list.")
		return didrouter.Worker{}, false
	case err != nil:
		h.failed(w, r, AdminAssets, "read the agent", err)
		return didrouter.Worker{}, false
	}
	return wk, true
}

// formOf fills the form with a stored worker.
func (h *Handler) formOf(r *http.Request, wk didrouter.Worker) (*agentForm, error) {
	acts, err := h.activityOptions(r)
	if err != nil {
		return nil, err
	}
	row := h.row(wk)
	f := &agentForm{SID: wk.SID, Name: wk.FriendlyName, Number: wk.PhoneNumber, NumberDisplay: row.NumberDisplay,
		Contact: row.Contact, Email: row.Email, ActivitySID: wk.ActivitySID, Activities: acts, Links: h.linksOn(), Identity: row.Identity}
	f.Other = otherAttributes(wk.Attributes)
	return f, nil
}

// formFields are the attributes the form edits; the others are kept.
var formFields = []string{"phone_number", "contact_uri", "email"}

// otherAttributes is the JSON of the attributes the form does not edit
// ("" when there are none).
func otherAttributes(attrs string) string {
	var m map[string]json.RawMessage
	if json.Unmarshal([]byte(orEmpty(attrs)), &m) != nil {
		return ""
	}
	for _, k := range formFields {
		delete(m, k)
	}
	if len(m) == 0 {
		return ""
	}
	b, _ := json.Marshal(m) // raw JSON values always encode
	return string(b)
}

// postedForm reads the form's fields.
func postedForm(r *http.Request) *agentForm {
	return &agentForm{Name: formValue(r, "friendly_name"), Number: formValue(r, "phone_number"), Contact: formValue(r, "contact_uri"),
		Email: formValue(r, "email"), ActivitySID: formValue(r, "activity")}
}

// attributes merges the form's fields into a worker's attributes: a field
// left empty removes its attribute, the attributes the form does not show
// stay as they are.
func (f *agentForm) attributes(stored string) (string, error) {
	m := map[string]json.RawMessage{}
	if err := json.Unmarshal([]byte(orEmpty(stored)), &m); err != nil || m == nil {
		m = map[string]json.RawMessage{}
	}
	for k, v := range map[string]string{"phone_number": f.Number, "contact_uri": f.Contact, "email": f.Email} {
		if v == "" {
			delete(m, k)
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			return "", err
		}
		m[k] = b
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// adminCreateAgent creates a worker through the engine (the API's rules).
func (h *Handler) adminCreateAgent(w http.ResponseWriter, r *http.Request) {
	f := postedForm(r)
	attrs, err := f.attributes("")
	if err != nil {
		h.failed(w, r, AdminAssets, "read the form", err)
		return
	}
	wk, err := h.adminEngine().CreateWorker(r.Context(), adminFrom(r.Context()).Workspace.SID,
		engine.WorkerInsert{FriendlyName: f.Name, Attributes: attrs, ActivitySID: f.ActivitySID})
	if err != nil {
		h.formRefused(w, r, f, "add the agent", err)
		return
	}
	h.log.InfoContext(r.Context(), "console agent added", "worker", wk.SID, "client", clientIP(r))
	http.Redirect(w, r, AdminAgents+"/"+wk.SID+"?done=created&wk="+wk.SID, http.StatusSeeOther)
}

// adminUpdateAgent saves a worker's form through the engine.
func (h *Handler) adminUpdateAgent(w http.ResponseWriter, r *http.Request) {
	wk, ok := h.pathWorker(w, r)
	if !ok {
		return
	}
	f := postedForm(r)
	f.SID = wk.SID
	attrs, err := f.attributes(wk.Attributes)
	if err != nil {
		h.failed(w, r, AdminAssets, "read the form", err)
		return
	}
	u := engine.WorkerUpdate{FriendlyName: &f.Name, Attributes: &attrs}
	if f.ActivitySID != "" && f.ActivitySID != wk.ActivitySID {
		u.ActivitySID = &f.ActivitySID
	}
	saved, err := h.eng.UpdateWorker(r.Context(), wk.WorkspaceSID, wk.SID, u)
	if _, known := adminStatus(err); err != nil && (known || saved.SID == "") {
		f.Other = otherAttributes(wk.Attributes)
		h.formRefused(w, r, f, "save the agent", err)
		return
	} else if err != nil {
		// The agent is saved, but serving waiting calls afterwards failed.
		// Those calls wait for the next change.
		h.logError(r, "save the agent (after the change)", err)
	}
	h.log.InfoContext(r.Context(), "console agent saved", "worker", wk.SID, "client", clientIP(r))
	http.Redirect(w, r, AdminAgents+"/"+wk.SID+"?done=updated&wk="+wk.SID, http.StatusSeeOther)
}

// formRefused shows the form again with the engine's reason; a number
// another worker owns names that worker, with a link to them.
func (h *Handler) formRefused(w http.ResponseWriter, r *http.Request, f *agentForm, what string, err error) {
	status, known := adminStatus(err)
	if !known {
		h.failed(w, r, AdminAssets, what, err)
		return
	}
	acts, aerr := h.activityOptions(r)
	if aerr != nil {
		h.failed(w, r, AdminAssets, what, aerr)
		return
	}
	f.Activities, f.Links = acts, h.linksOn()
	f.Error = didrouter.ErrorMessage(err)
	if didrouter.ErrorCode(err) == didrouter.ECONFLICT && f.Number != "" {
		if owner, ok := h.numberOwner(r, f.Number, f.SID); ok {
			f.OwnerSID, f.OwnerName = owner.SID, owner.FriendlyName
			f.Error = fmt.Sprintf("%s already belongs to %s. Give %s another number (or none) first, or move numbers between agents with a CSV import.",
				display(h.eng.Normalizer(), owner.PhoneNumber), owner.FriendlyName, owner.FriendlyName)
		}
	}
	title := "New agent"
	if f.SID != "" {
		title = f.Name
	}
	h.renderAdmin(w, r, status, "admin_agent", title, "agents", view{}, f)
}

// numberOwner is the worker other than self who has the number typed.
func (h *Handler) numberOwner(r *http.Request, typed, self string) (didrouter.Worker, bool) {
	num, err := h.eng.Normalizer().Normalize(typed)
	if err != nil {
		return didrouter.Worker{}, false
	}
	owner, err := h.store.WorkerByPhoneNumber(r.Context(), adminFrom(r.Context()).Workspace.SID, num.E164)
	if err != nil || owner.SID == self {
		return didrouter.Worker{}, false
	}
	return owner, true
}

// adminSetActivity changes a worker's activity (the list's control), with
// the API's rules: moving to an unavailable activity gives up a ringing call.
func (h *Handler) adminSetActivity(w http.ResponseWriter, r *http.Request) {
	wk, ok := h.pathWorker(w, r)
	if !ok {
		return
	}
	act := formValue(r, "activity")
	back := AdminAgents
	if q := formValue(r, "q"); q != "" {
		back = withQuery(AdminAgents, "q", q) + "&"
	} else {
		back += "?"
	}
	saved, err := h.eng.UpdateWorker(r.Context(), wk.WorkspaceSID, wk.SID, engine.WorkerUpdate{ActivitySID: &act})
	if status, known := adminStatus(err); err != nil && !known && saved.SID != "" {
		h.logError(r, "change the agent's status (after the change)", err)
	} else if err != nil {
		if !known {
			h.failed(w, r, AdminAssets, "change the agent's status", err)
			return
		}
		d, derr := h.agentsData(r, formValue(r, "q"), "")
		if derr != nil {
			h.failed(w, r, AdminAssets, "list the agents", derr)
			return
		}
		d.Error = wk.FriendlyName + ": " + didrouter.ErrorMessage(err)
		h.renderAdmin(w, r, status, "admin_agents", "Agents and numbers", "agents", view{}, d)
		return
	}
	h.log.InfoContext(r.Context(), "console activity changed", "worker", wk.SID, "activity", act, "client", clientIP(r))
	http.Redirect(w, r, back+"done=activity&wk="+wk.SID, http.StatusSeeOther)
}

// adminDeleteAgent deletes a worker through the engine, once the form's
// confirmation box is ticked. The engine refuses to delete a worker on a
// call.
func (h *Handler) adminDeleteAgent(w http.ResponseWriter, r *http.Request) {
	wk, ok := h.pathWorker(w, r)
	if !ok {
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		f, err := h.formOf(r, wk)
		if err != nil {
			h.failed(w, r, AdminAssets, "read the agent", err)
			return
		}
		f.Error = "Tick “Yes, delete " + wk.FriendlyName + "” to delete this agent."
		h.renderAdmin(w, r, http.StatusBadRequest, "admin_agent", wk.FriendlyName, "agents", view{}, f)
		return
	}
	if err := h.adminEngine().DeleteWorker(r.Context(), wk.WorkspaceSID, wk.SID); err != nil {
		f, ferr := h.formOf(r, wk)
		if ferr != nil {
			h.failed(w, r, AdminAssets, "read the agent", ferr)
			return
		}
		h.formRefused(w, r, f, "delete the agent", err)
		return
	}
	h.log.InfoContext(r.Context(), "console agent deleted", "worker", wk.SID, "client", clientIP(r))
	http.Redirect(w, r, AdminAgents+"?done=deleted", http.StatusSeeOther)
}

// linkData is a minted sign-in link.
type linkData struct {
	Name, Identity, Link, Expires string
	Minutes                       int
	Error                         string
}

// adminSignInLink mints a sign-in link for a worker's softphone identity
// (what `didrouter dids token IDENTITY --link` prints), for the admin to
// copy and send. It is a POST: a link is a credential.
func (h *Handler) adminSignInLink(w http.ResponseWriter, r *http.Request) {
	wk, ok := h.pathWorker(w, r)
	if !ok {
		return
	}
	row := h.row(wk)
	d := &linkData{Name: wk.FriendlyName, Identity: row.Identity, Minutes: int(agenttoken.DefaultLinkTTL.Minutes())}
	status := http.StatusOK
	switch {
	case !h.linksOn():
		status, d.Error = http.StatusServiceUnavailable,
			"Sign-in links are off on this server: set DIDROUTER_AGENT_TOKEN_SECRET to turn them on."
	case row.Identity == "":
		status, d.Error = http.StatusBadRequest,
			wk.FriendlyName+" has no softphone identity: set their contact to client:<identity> (such as client:alice) first."
	default:
		now := h.clock.Now()
		ttl := min(agenttoken.DefaultLinkTTL, h.agents.Signer().MaxTTL())
		exp := now.Add(ttl)
		tok, err := h.agents.Signer().Link(row.Identity, now, exp)
		if err != nil {
			h.failed(w, r, AdminAssets, "make the sign-in link", err)
			return
		}
		d.Minutes = int(ttl.Minutes())
		d.Link = h.admin.publicURL + withQuery(SignInPath, "t", tok)
		d.Expires = exp.In(h.admin.loc).Format("15:04")
		h.log.InfoContext(r.Context(), "console sign-in link made", "worker", wk.SID, "identity", row.Identity, "client", clientIP(r))
	}
	h.renderAdmin(w, r, status, "admin_link", "Sign-in link for "+wk.FriendlyName, "agents", view{}, d)
}
