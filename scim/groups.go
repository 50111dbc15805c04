package scim

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/provision"
)

// groupPrefix starts every group id.
const groupPrefix = "G-"

// maxGroupName bounds a group's name.
const maxGroupName = 256

// groupID is a group's id: its name, encoded for a URL. Membership is kept
// only in the workers' "groups" attribute, so the name is all there is.
func groupID(name string) string {
	return groupPrefix + base64.RawURLEncoding.EncodeToString([]byte(name))
}

// groupName decodes an id ("", false when it is not one).
func groupName(id string) (string, bool) {
	rest, ok := strings.CutPrefix(id, groupPrefix)
	if !ok {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(b) == 0 || !utf8.Valid(b) || strings.TrimSpace(string(b)) != string(b) {
		return "", false
	}
	return string(b), true
}

func (h *Handler) groupDoc(name string, members []didrouter.Worker) map[string]any {
	ms := make([]any, 0, len(members))
	for _, w := range members {
		ms = append(ms, map[string]any{"value": w.SID, "display": w.FriendlyName, "$ref": h.base + "/Users/" + w.SID, "type": "User"})
	}
	id := groupID(name)
	return map[string]any{
		"schemas":     []any{SchemaGroup},
		"id":          id,
		"displayName": name,
		"members":     ms,
		"meta":        map[string]any{"resourceType": "Group", "location": h.base + "/Groups/" + id},
	}
}

// groupOf reads displayName and the member ids from a Group document.
func groupOf(doc map[string]any) (string, []string, error) {
	_, dn, _ := lookup(doc, "displayName")
	name, _ := stringOf(dn)
	name = strings.TrimSpace(name)
	if name == "" {
		return "", nil, bad("invalidValue", "displayName is required")
	}
	if len(name) > maxGroupName {
		return "", nil, bad("invalidValue", "displayName is longer than %d bytes", maxGroupName)
	}
	var members []string
	if _, m, ok := lookup(doc, "members"); ok && m != nil {
		for _, el := range asList(m) {
			id, _ := stringOf(valueKey(el))
			if id = strings.TrimSpace(id); id == "" {
				return "", nil, bad("invalidValue", "every member needs a value: the user's id")
			}
			members = append(members, id)
		}
	}
	slices.Sort(members)
	return name, slices.Compact(members), nil
}

// setMembers writes a group's members; an id that is not a user is 400.
func (h *Handler) setMembers(r *http.Request, name string, members []string) error {
	for _, id := range members {
		if !strings.HasPrefix(id, didrouter.PrefixWorker) {
			return bad("invalidValue", "member %q is not a user of this service", id)
		}
	}
	err := h.p.SetGroupMembers(r.Context(), h.ws, name, members)
	if didrouter.ErrorCode(err) == didrouter.ENOTFOUND {
		return bad("invalidValue", "a member is not a user of this service: %s", didrouter.ErrorMessage(err))
	}
	return err
}

func (h *Handler) createGroup(w http.ResponseWriter, r *http.Request) error {
	doc, err := readJSON(w, r)
	if err != nil {
		return err
	}
	name, members, err := groupOf(doc)
	if err != nil {
		return err
	}
	existing, err := h.p.Members(r.Context(), h.ws, name)
	if err != nil {
		return err
	}
	if len(existing) > 0 {
		writeError(w, http.StatusConflict, "uniqueness", "group "+name+" already exists (id "+groupID(name)+")")
		return nil
	}
	if err := h.setMembers(r, name, members); err != nil {
		return err
	}
	return h.answerGroup(w, r, http.StatusCreated, name)
}

func (h *Handler) answerGroup(w http.ResponseWriter, r *http.Request, status int, name string) error {
	ms, err := h.p.Members(r.Context(), h.ws, name)
	if err != nil {
		return err
	}
	if status == http.StatusCreated {
		w.Header().Set("Location", h.base+"/Groups/"+groupID(name))
	}
	writeJSON(w, status, h.groupDoc(name, ms))
	return nil
}

func (h *Handler) group(r *http.Request) (string, error) {
	id := chi.URLParam(r, "id")
	name, ok := groupName(id)
	if !ok {
		return "", didrouter.Errorf(didrouter.ENOTFOUND, "no group %s", id)
	}
	return name, nil
}

func (h *Handler) getGroup(w http.ResponseWriter, r *http.Request, name string) error {
	return h.answerGroup(w, r, http.StatusOK, name)
}

// updateGroup answers PUT and PATCH of a group.
func (h *Handler) updateGroup(w http.ResponseWriter, r *http.Request, name string) error {
	doc, err := requestedDoc(w, r, SchemaGroup, func() (map[string]any, error) {
		ms, err := h.p.Members(r.Context(), h.ws, name)
		if err != nil {
			return nil, err
		}
		return h.groupDoc(name, ms), nil
	})
	if err != nil {
		return err
	}
	return h.writeGroup(w, r, name, doc)
}

// writeGroup applies a whole Group document. The name cannot change: it is
// the group's id and the value workflows route on.
func (h *Handler) writeGroup(w http.ResponseWriter, r *http.Request, name string, doc map[string]any) error {
	newName, members, err := groupOf(doc)
	if err != nil {
		return err
	}
	if newName != name {
		writeError(w, http.StatusBadRequest, "mutability", "group "+name+" cannot be renamed to "+newName+
			": a group's name is its id and what workflows route on (worker.groups); push the group under its new name instead")
		return nil
	}
	if err := h.setMembers(r, name, members); err != nil {
		return err
	}
	return h.answerGroup(w, r, http.StatusOK, name)
}

func (h *Handler) deleteGroup(w http.ResponseWriter, r *http.Request, name string) error {
	if err := h.p.SetGroupMembers(r.Context(), h.ws, name, nil); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) listGroups(w http.ResponseWriter, r *http.Request) error {
	q, err := readListQuery(r.URL.Query().Get)
	if err != nil {
		return err
	}
	return h.answerGroups(w, r, q, r.URL.Query().Get("excludedAttributes"))
}

func (h *Handler) searchGroups(w http.ResponseWriter, r *http.Request) error {
	q, excluded, err := readSearch(w, r)
	if err != nil {
		return err
	}
	return h.answerGroups(w, r, q, excluded)
}

func (h *Handler) answerGroups(w http.ResponseWriter, r *http.Request, q listQuery, excluded string) error {
	names, err := h.p.GroupNames(r.Context(), h.ws)
	if err != nil {
		return err
	}
	workers, err := h.p.Workers(r.Context(), h.ws, func(wk didrouter.Worker) bool { return len(provision.Groups(wk)) > 0 })
	if err != nil {
		return err
	}
	docs := make([]map[string]any, 0, len(names))
	for _, n := range names {
		var ms []didrouter.Worker
		for _, wk := range workers {
			if slices.Contains(provision.Groups(wk), n) {
				ms = append(ms, wk)
			}
		}
		d := h.groupDoc(n, ms)
		docs = append(docs, d)
	}
	var hit []map[string]any
	for _, d := range docs {
		if matches(q.filter, d, SchemaGroup) {
			// Entra ID asks for groups without their members.
			if strings.Contains(strings.ToLower(excluded), "members") {
				delete(d, "members")
			}
			hit = append(hit, d)
		}
	}
	list(w, listQuery{startIndex: q.startIndex, count: q.count}, hit, SchemaGroup)
	return nil
}
