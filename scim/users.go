package scim

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	filter "github.com/scim2/filter-parser/v2"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/provision"
)

// userDoc renders a worker as a SCIM User.
func (h *Handler) userDoc(w didrouter.Worker) map[string]any {
	email := provision.Email(w)
	doc := map[string]any{
		"schemas":  []any{SchemaUser},
		"id":       w.SID,
		"userName": w.FriendlyName,
		"active":   provision.Active(w),
		"meta":     h.meta("User", "/Users/"+w.SID, w),
	}
	if email != "" {
		doc["emails"] = []any{map[string]any{"value": email, "type": "work", "primary": true}}
	}
	if w.PhoneNumber != "" {
		doc["phoneNumbers"] = []any{map[string]any{"value": w.PhoneNumber, "type": "work", "primary": true}}
	}
	if s := provision.String(w, provision.AttrDisplayName); s != "" {
		doc["displayName"] = s
	}
	if s := provision.String(w, provision.AttrExternalID); s != "" {
		doc["externalId"] = s
	}
	groups := []any{}
	for _, g := range provision.Groups(w) {
		groups = append(groups, map[string]any{"value": groupID(g), "display": g, "$ref": h.base + "/Groups/" + groupID(g)})
	}
	if len(groups) > 0 {
		doc["groups"] = groups
	}
	return doc
}

func (h *Handler) meta(kind, path string, w didrouter.Worker) map[string]any {
	m := map[string]any{"resourceType": kind, "location": h.base + path}
	if !w.DateCreated.IsZero() {
		m["created"] = w.DateCreated.UTC().Format(time.RFC3339)
		m["lastModified"] = w.DateUpdated.UTC().Format(time.RFC3339)
		m["version"] = fmt.Sprintf("W/%q", strconv.FormatInt(w.Version, 10))
	}
	return m
}

// personOf reads a User document into what provisioning applies.
// Attributes left out are cleared, so a missing phoneNumbers removes the
// DID. A missing active leaves it unchanged. A new user needs an email. An
// existing worker created without one outside SCIM keeps none.
func personOf(doc map[string]any, create bool) (provision.Person, error) {
	var p provision.Person
	_, un, _ := lookup(doc, "userName")
	userName, _ := stringOf(un)
	userName = strings.TrimSpace(userName)
	if userName == "" {
		return p, bad("invalidValue", "userName is required")
	}
	p.Name = userName
	p.Email = pick(doc, "emails", "value")
	if p.Email == "" && strings.Contains(userName, "@") {
		p.Email = userName
	}
	if p.Email == "" && create {
		return p, bad("invalidValue", "an email is required: a work or primary emails value, or a userName that is an email")
	}
	phone := pick(doc, "phoneNumbers", "value")
	p.Phone = &phone
	if _, a, ok := lookup(doc, "active"); ok {
		b, ok := boolOf(a)
		if !ok {
			return p, bad("invalidValue", "active must be true or false, not %v", a)
		}
		p.Active = &b
	}
	display := ""
	if _, v, ok := lookup(doc, "displayName"); ok {
		display, _ = stringOf(v)
	}
	if display == "" {
		if _, n, ok := lookup(doc, "name"); ok {
			if m, ok := n.(map[string]any); ok {
				display = nameOf(m)
			}
		}
	}
	p.DisplayName = &display
	ext := ""
	if _, v, ok := lookup(doc, "externalId"); ok {
		ext, _ = stringOf(v)
	}
	p.ExternalID = &ext
	return p, nil
}

// nameOf is a SCIM name's formatted form, else given and family names.
func nameOf(m map[string]any) string {
	if _, f, ok := lookup(m, "formatted"); ok {
		if s, _ := stringOf(f); strings.TrimSpace(s) != "" {
			return strings.TrimSpace(s)
		}
	}
	var parts []string
	for _, k := range []string{"givenName", "familyName"} {
		if _, v, ok := lookup(m, k); ok {
			if s, _ := stringOf(v); strings.TrimSpace(s) != "" {
				parts = append(parts, strings.TrimSpace(s))
			}
		}
	}
	return strings.Join(parts, " ")
}

// pick returns the value of a multi-valued attribute's "work" element,
// else its primary one ("" when neither is there).
func pick(doc map[string]any, attr, sub string) string {
	_, v, ok := lookup(doc, attr)
	if !ok {
		return ""
	}
	var primary string
	for _, el := range asList(v) {
		m, ok := el.(map[string]any)
		if !ok {
			continue
		}
		_, val, _ := lookup(m, sub)
		s, _ := stringOf(val)
		if strings.TrimSpace(s) == "" {
			continue
		}
		_, t, _ := lookup(m, "type")
		if ts, _ := t.(string); strings.EqualFold(ts, "work") {
			return strings.TrimSpace(s)
		}
		if _, pr, _ := lookup(m, "primary"); primary == "" {
			if b, ok := boolOf(pr); ok && b {
				primary = strings.TrimSpace(s)
			}
		}
	}
	return primary
}

// explain rewords the engine's refusal of a number for a SCIM client.
func explain(err error, p provision.Person) error {
	if didrouter.ErrorCode(err) == didrouter.EINVALID && p.Phone != nil && strings.Contains(didrouter.ErrorMessage(err), "phone_number") {
		return didrouter.Errorf(didrouter.EINVALID, "phoneNumbers: %q is not a phone number didrouter can read (%s)", *p.Phone, didrouter.ErrorMessage(err))
	}
	return err
}

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request) error {
	doc, err := readJSON(w, r)
	if err != nil {
		return err
	}
	p, err := personOf(doc, true)
	if err != nil {
		return err
	}
	wk, err := h.p.Create(r.Context(), h.ws, p)
	if err != nil {
		return explain(err, p)
	}
	h.log.InfoContext(r.Context(), "scim user created", "worker_sid", wk.SID, "did", wk.PhoneNumber)
	w.Header().Set("Location", h.base+"/Users/"+wk.SID)
	writeJSON(w, http.StatusCreated, h.userDoc(wk))
	return nil
}

// worker reads the worker a URL names (404 in SCIM's shape when none).
func (h *Handler) worker(r *http.Request) (didrouter.Worker, error) {
	id := chi.URLParam(r, "id")
	if !strings.HasPrefix(id, didrouter.PrefixWorker) {
		return didrouter.Worker{}, didrouter.Errorf(didrouter.ENOTFOUND, "no user %s", id)
	}
	wk, err := h.p.Get(r.Context(), h.ws, id)
	if didrouter.ErrorCode(err) == didrouter.ENOTFOUND || (err == nil && provision.DeletePending(wk)) {
		// A user deleted during a call is gone for SCIM already.
		return didrouter.Worker{}, didrouter.Errorf(didrouter.ENOTFOUND, "no user %s", id)
	}
	return wk, err
}

func (h *Handler) getUser(w http.ResponseWriter, r *http.Request, wk didrouter.Worker) error {
	writeJSON(w, http.StatusOK, h.userDoc(wk))
	return nil
}

// updateUser answers PUT and PATCH of a user.
func (h *Handler) updateUser(w http.ResponseWriter, r *http.Request, wk didrouter.Worker) error {
	doc, err := requestedDoc(w, r, SchemaUser, func() (map[string]any, error) { return h.userDoc(wk), nil })
	if err != nil {
		return err
	}
	return h.writeUser(w, r, wk, doc)
}

// writeUser applies a whole User document to its worker (PUT, and PATCH
// once its operations are applied to the current document).
func (h *Handler) writeUser(w http.ResponseWriter, r *http.Request, wk didrouter.Worker, doc map[string]any) error {
	p, err := personOf(doc, false)
	if err != nil {
		return err
	}
	out, err := h.p.Apply(r.Context(), h.ws, wk.SID, p)
	if err != nil {
		return explain(err, p)
	}
	writeJSON(w, http.StatusOK, h.userDoc(out))
	return nil
}

func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request, wk didrouter.Worker) error {
	deferred, err := h.p.Delete(r.Context(), h.ws, wk.SID)
	if err != nil {
		return err
	}
	h.log.InfoContext(r.Context(), "scim user deleted", "worker_sid", wk.SID, "after_call", deferred)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listQuery is a list's filter and page.
type listQuery struct {
	filter     filter.Expression
	startIndex int // 1-based
	count      int
}

func readListQuery(get func(string) string) (listQuery, error) {
	q := listQuery{startIndex: 1, count: 100}
	f, err := parseFilter(get("filter"))
	if err != nil {
		return q, err
	}
	q.filter = f
	if s := get("startIndex"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return q, bad("invalidValue", "startIndex must be a number, not %q", s)
		}
		q.startIndex = max(n, 1) // RFC 7644 §3.4.2.4: less than 1 is 1
	}
	if s := get("count"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return q, bad("invalidValue", "count must be a number, not %q", s)
		}
		q.count = min(max(n, 0), maxCount)
	}
	return q, nil
}

// readSearch reads a POST …/.search body: the query, and the
// excludedAttributes it names.
func readSearch(w http.ResponseWriter, r *http.Request) (listQuery, string, error) {
	doc, err := readJSON(w, r)
	if err != nil {
		return listQuery{}, "", err
	}
	get := func(k string) string {
		_, v, ok := lookup(doc, k)
		if !ok {
			return ""
		}
		s, _ := stringOf(v)
		return s
	}
	q, err := readListQuery(get)
	return q, get("excludedAttributes"), err
}

// list answers one page of the documents that match.
func list(w http.ResponseWriter, q listQuery, docs []map[string]any, core string) {
	var hit []map[string]any
	for _, d := range docs {
		if matches(q.filter, d, core) {
			hit = append(hit, d)
		}
	}
	from := min(q.startIndex-1, len(hit))
	to := min(from+q.count, len(hit))
	page := hit[from:to]
	res := make([]any, 0, len(page))
	for _, d := range page {
		res = append(res, d)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"schemas": []any{SchemaList}, "totalResults": len(hit), "startIndex": q.startIndex,
		"itemsPerPage": len(page), "Resources": res,
	})
}

func (h *Handler) userDocs(r *http.Request) ([]map[string]any, error) {
	workers, err := h.p.Workers(r.Context(), h.ws, func(w didrouter.Worker) bool { return !provision.DeletePending(w) })
	if err != nil {
		return nil, err
	}
	// A stable order, so pages do not overlap.
	slices.SortFunc(workers, func(a, b didrouter.Worker) int {
		return cmp.Or(a.DateCreated.Compare(b.DateCreated), strings.Compare(a.SID, b.SID))
	})
	docs := make([]map[string]any, 0, len(workers))
	for _, wk := range workers {
		d := h.userDoc(wk)
		if e := provision.Email(wk); e != "" && !strings.EqualFold(e, wk.FriendlyName) {
			// userName eq "<email>" finds a worker named otherwise too,
			// so a person provisioned elsewhere is one worker.
			d["_email"] = e
		}
		docs = append(docs, d)
	}
	return docs, nil
}

func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request) error {
	q, err := readListQuery(r.URL.Query().Get)
	if err != nil {
		return err
	}
	return h.answerUsers(w, r, q)
}

func (h *Handler) searchUsers(w http.ResponseWriter, r *http.Request) error {
	q, _, err := readSearch(w, r)
	if err != nil {
		return err
	}
	return h.answerUsers(w, r, q)
}

func (h *Handler) answerUsers(w http.ResponseWriter, r *http.Request, q listQuery) error {
	docs, err := h.userDocs(r)
	if err != nil {
		return err
	}
	q.filter = withEmailAlias(q.filter)
	var hit []map[string]any
	for _, d := range docs {
		if matches(q.filter, d, SchemaUser) {
			delete(d, "_email")
			hit = append(hit, d)
		}
	}
	list(w, listQuery{startIndex: q.startIndex, count: q.count}, hit, SchemaUser)
	return nil
}

// withEmailAlias makes userName comparisons also look at the worker's
// email, so a worker whose friendly name is not its email is found by it.
func withEmailAlias(e filter.Expression) filter.Expression {
	switch x := e.(type) {
	case *filter.LogicalExpression:
		return &filter.LogicalExpression{Left: withEmailAlias(x.Left), Right: withEmailAlias(x.Right), Operator: x.Operator}
	case *filter.NotExpression:
		return &filter.NotExpression{Expression: withEmailAlias(x.Expression)}
	case *filter.AttributeExpression:
		if strings.EqualFold(x.AttributePath.AttributeName, "userName") && x.AttributePath.SubAttribute == nil && x.Operator == filter.EQ {
			alias := *x
			alias.AttributePath = filter.AttributePath{AttributeName: "_email"}
			return &filter.LogicalExpression{Left: x, Right: &alias, Operator: filter.OR}
		}
	}
	return e
}
