package scim

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// The discovery endpoints (RFC 7644 §4) say what didrouter supports, so a
// client does not try what it does not.

func (h *Handler) serviceProviderConfig(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"schemas":          []any{SchemaSPConfig},
		"documentationUri": "https://github.com/didrouter/didrouter/blob/main/docs/sso.md",
		"patch":            map[string]any{"supported": true},
		"bulk":             map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":           map[string]any{"supported": true, "maxResults": maxCount},
		"changePassword":   map[string]any{"supported": false},
		"sort":             map[string]any{"supported": false},
		"etag":             map[string]any{"supported": false},
		"authenticationSchemes": []any{map[string]any{
			"type": "oauthbearertoken", "name": "Bearer token", "primary": true,
			"description": "The token set in DIDROUTER_SCIM_TOKEN, sent as Authorization: Bearer <token>",
		}},
		"meta": map[string]any{"resourceType": "ServiceProviderConfig", "location": h.base + "/ServiceProviderConfig"},
	})
}

func (h *Handler) resourceTypeDocs() []any {
	return []any{
		map[string]any{
			"schemas": []any{SchemaResType}, "id": "User", "name": "User", "endpoint": "/Users",
			"description": "An agent: a didrouter worker", "schema": SchemaUser,
			"schemaExtensions": []any{map[string]any{"schema": SchemaEnterprise, "required": false}},
			"meta":             map[string]any{"resourceType": "ResourceType", "location": h.base + "/ResourceTypes/User"},
		},
		map[string]any{
			"schemas": []any{SchemaResType}, "id": "Group", "name": "Group", "endpoint": "/Groups",
			"description": "A group of agents: the workers' groups attribute", "schema": SchemaGroup,
			"meta": map[string]any{"resourceType": "ResourceType", "location": h.base + "/ResourceTypes/Group"},
		},
	}
}

func (h *Handler) resourceTypes(w http.ResponseWriter, _ *http.Request) {
	writeDocList(w, h.resourceTypeDocs())
}

func (h *Handler) resourceType(w http.ResponseWriter, r *http.Request) {
	writeDocByID(w, r, h.resourceTypeDocs(), "resource type")
}

// writeDocList answers a discovery list, which is never paged.
func writeDocList(w http.ResponseWriter, docs []any) {
	writeJSON(w, http.StatusOK, map[string]any{"schemas": []any{SchemaList}, "totalResults": len(docs),
		"startIndex": 1, "itemsPerPage": len(docs), "Resources": docs})
}

// writeDocByID answers the one of docs whose id the URL names.
func writeDocByID(w http.ResponseWriter, r *http.Request, docs []any, what string) {
	id := chi.URLParam(r, "id")
	for _, d := range docs {
		if d.(map[string]any)["id"] == id {
			writeJSON(w, http.StatusOK, d)
			return
		}
	}
	writeError(w, http.StatusNotFound, "", "no "+what+" "+id)
}

func attr(name, typ string, multi, required bool, mutability string, sub ...any) map[string]any {
	a := map[string]any{
		"name": name, "type": typ, "multiValued": multi, "required": required, "caseExact": false,
		"mutability": mutability, "returned": "default", "uniqueness": "none",
	}
	if name == "userName" {
		a["uniqueness"] = "server"
	}
	if len(sub) > 0 {
		a["subAttributes"] = sub
	}
	return a
}

func (h *Handler) schemaDocs() []any {
	typed := func(name string) map[string]any {
		return attr(name, "complex", true, false, "readWrite",
			attr("value", "string", false, false, "readWrite"),
			attr("type", "string", false, false, "readWrite"),
			attr("primary", "boolean", false, false, "readWrite"))
	}
	return []any{
		map[string]any{
			"schemas": []any{SchemaSchema}, "id": SchemaUser, "name": "User", "description": "An agent",
			"attributes": []any{
				attr("userName", "string", false, true, "readWrite"),
				attr("displayName", "string", false, false, "readWrite"),
				attr("name", "complex", false, false, "readWrite",
					attr("formatted", "string", false, false, "readWrite"),
					attr("givenName", "string", false, false, "readWrite"),
					attr("familyName", "string", false, false, "readWrite")),
				attr("active", "boolean", false, false, "readWrite"),
				typed("emails"),
				typed("phoneNumbers"),
				attr("groups", "complex", true, false, "readOnly",
					attr("value", "string", false, false, "readOnly"),
					attr("display", "string", false, false, "readOnly")),
			},
			"meta": map[string]any{"resourceType": "Schema", "location": h.base + "/Schemas/" + SchemaUser},
		},
		map[string]any{
			"schemas": []any{SchemaSchema}, "id": SchemaGroup, "name": "Group", "description": "A group of agents",
			"attributes": []any{
				attr("displayName", "string", false, true, "immutable"),
				attr("members", "complex", true, false, "readWrite",
					attr("value", "string", false, false, "immutable"),
					attr("display", "string", false, false, "readOnly")),
			},
			"meta": map[string]any{"resourceType": "Schema", "location": h.base + "/Schemas/" + SchemaGroup},
		},
	}
}

func (h *Handler) schemas(w http.ResponseWriter, _ *http.Request) {
	writeDocList(w, h.schemaDocs())
}

func (h *Handler) schema(w http.ResponseWriter, r *http.Request) {
	writeDocByID(w, r, h.schemaDocs(), "schema")
}
