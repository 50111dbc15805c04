package scim_test

import (
	"strings"
	"testing"

	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/provision"
	"github.com/didrouter/didrouter/scim"
)

func patch(ops ...map[string]any) map[string]any {
	list := make([]any, 0, len(ops))
	for _, o := range ops {
		list = append(list, o)
	}
	return map[string]any{"schemas": []any{scim.SchemaPatch}, "Operations": list}
}

// TestEntraSequence replays what Microsoft Entra ID's provisioning
// service sends, in the shapes of its SCIM documentation: lookups by
// userName (and for a user that does not exist), a create with the
// enterprise extension, PATCH with capitalized ops and value-path paths
// (the number change Entra sends as phoneNumbers[type eq "work"].value),
// "active" as the string "False", group create, lookups without members,
// member add and remove by value, and delete.
func TestEntraSequence(t *testing.T) {
	stores(t, func(t *testing.T, w *world) {
		const upn = "Bob.Jones@contoso.example"
		w.want(w.do("GET", "/Users"+q(`userName eq "nobody@contoso.example"`), nil), 200)
		a := w.want(w.do("GET", "/Users"+q(`userName eq "`+upn+`"`), nil), 200)
		if len(resources(t, a)) != 0 {
			t.Fatalf("lookup before create: %s", a.raw)
		}
		a = w.want(w.do("POST", "/Users", map[string]any{
			"schemas":     []any{scim.SchemaUser, scim.SchemaEnterprise},
			"externalId":  "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
			"userName":    upn,
			"active":      true,
			"displayName": "Bob Jones",
			"emails":      []any{map[string]any{"primary": true, "type": "work", "value": "bob.jones@contoso.example"}},
			"meta":        map[string]any{"resourceType": "User"},
			"name":        map[string]any{"formatted": "Bob Jones", "familyName": "Jones", "givenName": "Bob"},
			"phoneNumbers": []any{
				map[string]any{"type": "mobile", "value": "+1 617 555 0111"},
				map[string]any{"type": "work", "value": "512.764.0590"},
			},
			scim.SchemaEnterprise: map[string]any{"employeeNumber": "701984", "department": "Sales"},
		}), 201)
		id := str(a.body["id"])
		wk := w.worker(id)
		if wk.PhoneNumber != "+15127640590" || provision.Email(wk) != "bob.jones@contoso.example" || wk.FriendlyName != upn {
			t.Fatalf("created %+v (the work number is the DID, not the mobile)", wk)
		}
		w.setActivity(id, "Available")
		if got := w.ring("+15127640590"); got != id {
			t.Fatalf("the DID rang %q", got)
		}
		// Entra looks the user up by its id and its userName.
		w.want(w.do("GET", "/Users/"+id, nil), 200)
		a = w.want(w.do("GET", "/Users"+q(`userName eq "bob.jones@contoso.example"`), nil), 200)
		if rs := resources(t, a); len(rs) != 1 || str(rs[0]["id"]) != id {
			t.Fatalf("lookup by the email: %s", a.raw)
		}
		a = w.want(w.do("GET", "/Users"+q(`externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"`), nil), 200)
		if len(resources(t, a)) != 1 {
			t.Fatalf("lookup by externalId: %s", a.raw)
		}

		// The number change, as Entra sends it.
		change := patch(
			map[string]any{"op": "Replace", "path": `phoneNumbers[type eq "work"].value`, "value": "+1 (512) 555-0199"},
			map[string]any{"op": "Replace", "path": "displayName", "value": "Bob A. Jones"},
		)
		a = w.want(w.do("PATCH", "/Users/"+id, change), 200)
		if wk = w.worker(id); wk.PhoneNumber != "+15125550199" || provision.String(wk, provision.AttrDisplayName) != "Bob A. Jones" {
			t.Fatalf("after the change: %+v", wk)
		}
		if got := w.ring("+15125550199"); got != id {
			t.Fatalf("the new DID rang %q", got)
		}
		v := w.worker(id).Version
		w.want(w.do("PATCH", "/Users/"+id, change), 200)
		if w.worker(id).Version != v {
			t.Fatalf("the same PATCH twice wrote twice: %s -> %s", wk.Attributes, w.worker(id).Attributes)
		}
		// An email change sent as Add on the value path.
		w.want(w.do("PATCH", "/Users/"+id, patch(
			map[string]any{"op": "Add", "path": `emails[type eq "work"].value`, "value": "bob@contoso.example"},
		)), 200)
		if e := provision.Email(w.worker(id)); e != "bob@contoso.example" {
			t.Fatalf("email %q", e)
		}

		// A number someone else owns: 409, nothing changes.
		other := w.want(w.do("POST", "/Users", map[string]any{
			"userName": "carol@contoso.example", "active": true,
			"phoneNumbers": []any{map[string]any{"type": "work", "value": "5125550123"}},
		}), 201)
		a = w.want(w.do("PATCH", "/Users/"+id, patch(
			map[string]any{"op": "Replace", "path": `phoneNumbers[type eq "work"].value`, "value": "512-555-0123"},
		)), 409)
		if !strings.Contains(str(a.body["detail"]), str(other.body["id"])) {
			t.Fatalf("the conflict does not name the owner: %s", a.raw)
		}
		if w.worker(id).PhoneNumber != "+15125550199" {
			t.Fatal("a refused number was written")
		}
		// An unreadable number: 400 naming it.
		a = w.want(w.do("PATCH", "/Users/"+id, patch(
			map[string]any{"op": "Replace", "path": `phoneNumbers[type eq "work"].value`, "value": "call me maybe"},
		)), 400)
		if !strings.Contains(str(a.body["detail"]), "call me maybe") {
			t.Fatalf("the 400 does not name the number: %s", a.raw)
		}

		// Groups: create, look up without members, add and remove by value.
		a = w.want(w.do("POST", "/Groups", map[string]any{
			"schemas": []any{scim.SchemaGroup}, "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
			"displayName": "Sales", "meta": map[string]any{"resourceType": "Group"},
		}), 201)
		gid := str(a.body["id"])
		add := patch(map[string]any{"op": "Add", "path": "members", "value": []any{map[string]any{"$ref": nil, "value": id}}})
		w.want(w.do("PATCH", "/Groups/"+gid, add), 200)
		w.want(w.do("PATCH", "/Groups/"+gid, add), 200) // twice: no change
		if g := provision.Groups(w.worker(id)); len(g) != 1 || g[0] != "Sales" {
			t.Fatalf("groups %v", g)
		}
		a = w.want(w.do("GET", "/Groups"+q(`displayName eq "Sales"`)+"&excludedAttributes=members", nil), 200)
		if rs := resources(t, a); len(rs) != 1 || rs[0]["members"] != nil {
			t.Fatalf("lookup without members: %s", a.raw)
		}
		a = w.want(w.do("GET", "/Groups"+q(`id eq "`+gid+`" and members[value eq "`+id+`"]`), nil), 200)
		if len(resources(t, a)) != 1 {
			t.Fatalf("membership check: %s", a.raw)
		}
		w.want(w.do("GET", "/Groups/"+gid+"?excludedAttributes=members", nil), 200)
		w.want(w.do("PATCH", "/Groups/"+gid, patch(
			map[string]any{"op": "Remove", "path": "members", "value": []any{map[string]any{"$ref": nil, "value": id}}},
		)), 200)
		if g := provision.Groups(w.worker(id)); len(g) != 0 {
			t.Fatalf("groups after remove %v", g)
		}

		// Soft delete: active as the string "False".
		a = w.want(w.do("PATCH", "/Users/"+id, patch(map[string]any{"op": "Replace", "path": "active", "value": "False"})), 200)
		wk = w.worker(id)
		if a.body["active"] != false || wk.Capacity != 0 || wk.Available {
			t.Fatalf("soft delete: %s / %+v", a.raw, wk)
		}
		if got := w.ring("+15125550199"); got == id {
			t.Fatal("a soft-deleted worker was rung")
		}
		// Hard delete, 30 days later.
		w.want(w.do("DELETE", "/Users/"+id, nil), 204)
		w.want(w.do("GET", "/Users/"+id, nil), 404)
		w.want(w.do("DELETE", "/Users/"+id, nil), 404)
	})
}

// TestErrorsAndDiscovery covers authentication, the discovery endpoints,
// paging, and a delete while the worker is on a call (removed when the
// call ends).
func TestErrorsAndDiscovery(t *testing.T) {
	stores(t, func(t *testing.T, w *world) {
		w.want(w.doAuth("GET", "/Users", nil, ""), 401)
		w.want(w.doAuth("GET", "/Users", nil, "Bearer wrong"), 401)
		w.want(w.doAuth("GET", "/Users", nil, "Basic "+token), 401)
		for _, p := range []string{"/ServiceProviderConfig", "/ResourceTypes", "/Schemas", "/ResourceTypes/User",
			"/Schemas/" + scim.SchemaUser} {
			w.want(w.do("GET", p, nil), 200)
		}
		w.want(w.do("GET", "/Schemas/urn:nope", nil), 404)
		// A worker made before SCIM, without an email, can still be deactivated.
		legacy, err := w.eng.CreateWorker(w.ctx, w.ws.SID, engine.WorkerInsert{FriendlyName: "front desk"})
		if err != nil {
			t.Fatal(err)
		}
		w.want(w.do("PATCH", "/Users/"+legacy.SID, patch(map[string]any{"op": "replace", "value": map[string]any{"active": false}})), 200)
		if wk := w.worker(legacy.SID); provision.Active(wk) || wk.FriendlyName != "front desk" {
			t.Fatalf("legacy worker %+v", wk)
		}
		w.want(w.do("DELETE", "/Users/"+legacy.SID, nil), 204)
		w.want(w.do("GET", "/Users/WKnope", nil), 404)
		w.want(w.do("GET", "/Groups/nope", nil), 404)
		w.want(w.do("GET", "/Users"+q(`userName eq`), nil), 400)
		w.want(w.do("POST", "/Users", `not json`), 400)
		w.want(w.do("POST", "/Users", map[string]any{"active": true}), 400)
		w.want(w.do("POST", "/Users", map[string]any{"userName": "x@example.com", "active": "maybe"}), 400)

		var ids []string
		for _, n := range []string{"a", "b", "c", "d", "e"} {
			a := w.want(w.do("POST", "/Users", map[string]any{"userName": n + "@example.com"}), 201)
			ids = append(ids, str(a.body["id"]))
		}
		seen := map[string]bool{}
		for start := 1; start <= 5; start += 2 {
			a := w.want(w.do("GET", "/Users?count=2&startIndex="+string(rune('0'+start)), nil), 200)
			if a.body["totalResults"] != 5.0 || a.body["startIndex"] != float64(start) {
				t.Fatalf("page %d: %s", start, a.raw)
			}
			for _, r := range resources(t, a) {
				if seen[str(r["id"])] {
					t.Fatalf("pages overlap at %s", r["id"])
				}
				seen[str(r["id"])] = true
			}
		}
		if len(seen) != 5 {
			t.Fatalf("paging saw %d users", len(seen))
		}
		a := w.want(w.do("POST", "/Users/.search", map[string]any{"filter": `userName sw "c"`, "startIndex": 1, "count": 10}), 200)
		if rs := resources(t, a); len(rs) != 1 || str(rs[0]["id"]) != ids[2] {
			t.Fatalf(".search: %s", a.raw)
		}

		// On a call: the user is gone for SCIM at once (and rung no more),
		// and the worker is removed when the call ends.
		id := ids[0]
		w.want(w.do("PATCH", "/Users/"+id, patch(map[string]any{"op": "add", "path": "phoneNumbers",
			"value": []any{map[string]any{"type": "work", "value": "5127640600"}}})), 200)
		w.setActivity(id, "Available")
		res, err := w.eng.CreateTask(w.ctx, engine.TaskInsert{WorkspaceSID: w.ws.SID, Attributes: `{"phone_number":"+15127640600"}`, CallSID: "CAcall"})
		if err != nil || res.Reservation == nil || res.Reservation.WorkerSID != id {
			t.Fatalf("call: %+v %v", res.Reservation, err)
		}
		if _, err := w.eng.AcceptReservation(w.ctx, w.ws.SID, res.Reservation.SID); err != nil {
			t.Fatal(err)
		}
		w.want(w.do("DELETE", "/Users/"+id, nil), 204)
		w.want(w.do("GET", "/Users/"+id, nil), 404)
		if wk := w.worker(id); provision.Active(wk) || wk.Capacity != 0 {
			t.Fatalf("not deactivated: %+v", wk)
		}
		a = w.want(w.do("GET", "/Users", nil), 200)
		if a.body["totalResults"] != 4.0 {
			t.Fatalf("a deleted user is listed: %s", a.raw)
		}
		if _, err := w.eng.CompleteTask(w.ctx, w.ws.SID, res.Task.SID, "done"); err != nil {
			t.Fatal(err)
		}
		w.waitGone(id)
	})
}
