package scim_test

import (
	"testing"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/provision"
	"github.com/didrouter/didrouter/scim"
)

// TestOktaSequence replays what Okta's SCIM 2.0 client sends, in the
// shapes of Okta's SCIM documentation: a lookup by userName, a create, a
// read, a profile push by PUT, deactivation and reactivation by PATCH
// without a path, and a group push (create, add members, replace members,
// remove a member, delete). After each step the worker, its DID and who a
// call rings are checked.
func TestOktaSequence(t *testing.T) {
	stores(t, func(t *testing.T, w *world) {
		const email = "alice@example.com"
		// 1. Does the user exist?
		a := w.want(w.do("GET", "/Users"+q(`userName eq "`+email+`"`)+"&startIndex=1&count=100", nil), 200)
		if len(resources(t, a)) != 0 || a.body["totalResults"] != 0.0 {
			t.Fatalf("lookup before create: %s", a.raw)
		}
		// 2. Create, with the number Okta maps from user.primaryPhone.
		user := map[string]any{
			"schemas":      []any{scim.SchemaUser},
			"userName":     email,
			"name":         map[string]any{"givenName": "Alice", "familyName": "Archer"},
			"emails":       []any{map[string]any{"primary": true, "value": email, "type": "work"}},
			"displayName":  "Alice Archer",
			"locale":       "en-US",
			"externalId":   "00u1abcd",
			"groups":       []any{},
			"password":     "ignored-by-didrouter",
			"active":       true,
			"phoneNumbers": []any{map[string]any{"value": "(512) 764-0580", "type": "work", "primary": true}},
		}
		a = w.want(w.do("POST", "/Users", user), 201)
		id := str(a.body["id"])
		wk := w.worker(id)
		if wk.PhoneNumber != "+15127640580" || wk.FriendlyName != email || provision.Email(wk) != email {
			t.Fatalf("created worker %+v", wk)
		}
		if a.body["active"] != true || str(a.body["phoneNumbers"].([]any)[0].(map[string]any)["value"]) != "+15127640580" {
			t.Fatalf("created user %s", a.raw)
		}
		if str(a.body["externalId"]) != "00u1abcd" || str(a.body["displayName"]) != "Alice Archer" {
			t.Fatalf("created user %s", a.raw)
		}
		w.setActivity(id, "Available")
		if got := w.ring("+15127640580"); got != id {
			t.Fatalf("a call to the new DID rang %q, want %s", got, id)
		}
		// The same create again is a conflict (Okta then links the user).
		w.want(w.do("POST", "/Users", user), 409)
		// 3. Read back, and find by filter.
		a = w.want(w.do("GET", "/Users/"+id, nil), 200)
		if str(a.body["userName"]) != email {
			t.Fatalf("get: %s", a.raw)
		}
		a = w.want(w.do("GET", "/Users"+q(`userName eq "ALICE@example.com"`), nil), 200)
		if rs := resources(t, a); len(rs) != 1 || str(rs[0]["id"]) != id {
			t.Fatalf("filter: %s", a.raw)
		}
		// 4. A profile push: HR changed the number (Okta sends the whole user).
		user["id"] = id
		user["phoneNumbers"] = []any{map[string]any{"value": "+1 512-555-0100", "type": "work", "primary": true}}
		a = w.want(w.do("PUT", "/Users/"+id, user), 200)
		if wk = w.worker(id); wk.PhoneNumber != "+15125550100" {
			t.Fatalf("after PUT the DID is %q", wk.PhoneNumber)
		}
		if got := w.ring("+15125550100"); got != id {
			t.Fatalf("a call to the moved DID rang %q", got)
		}
		if _, err := w.st.WorkerByPhoneNumber(w.ctx, w.ws.SID, "+15127640580"); didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
			t.Fatalf("the old DID still has an owner: %v", err)
		}
		// The same PUT twice writes nothing.
		v := w.worker(id).Version
		w.want(w.do("PUT", "/Users/"+id, user), 200)
		if w.worker(id).Version != v {
			t.Fatal("an unchanged PUT wrote the worker")
		}
		// 5. Deactivate, as Okta does.
		deactivate := map[string]any{
			"schemas":    []any{scim.SchemaPatch},
			"Operations": []any{map[string]any{"op": "replace", "value": map[string]any{"active": false}}},
		}
		a = w.want(w.do("PATCH", "/Users/"+id, deactivate), 200)
		wk = w.worker(id)
		if a.body["active"] != false || provision.Active(wk) || wk.Available || wk.Capacity != 0 {
			t.Fatalf("deactivated: %s / %+v", a.raw, wk)
		}
		if got := w.ring("+15125550100"); got != "" {
			t.Fatalf("a deactivated worker was rung")
		}
		w.setActivity(id, "Available") // even by hand
		if got := w.ring("+15125550100"); got != "" {
			t.Fatalf("a deactivated worker set Available was rung")
		}
		a = w.want(w.do("GET", "/Users"+q(`userName eq "`+email+`"`), nil), 200)
		if rs := resources(t, a); len(rs) != 1 || rs[0]["active"] != false {
			t.Fatalf("a deactivated user reads back %s", a.raw)
		}
		v = w.worker(id).Version
		w.want(w.do("PATCH", "/Users/"+id, deactivate), 200)
		if w.worker(id).Version != v {
			t.Fatal("the same deactivation twice wrote twice")
		}
		// Reactivate.
		a = w.want(w.do("PATCH", "/Users/"+id, map[string]any{
			"schemas":    []any{scim.SchemaPatch},
			"Operations": []any{map[string]any{"op": "replace", "value": map[string]any{"active": true}}},
		}), 200)
		if a.body["active"] != true || w.worker(id).Capacity != 1 {
			t.Fatalf("reactivated: %s", a.raw)
		}
		if got := w.ring("+15125550100"); got != id {
			t.Fatalf("a reactivated, available worker is not rung: %q", got)
		}

		// 6. Group push: a queue routes on the group.
		queue, err := w.eng.CreateTaskQueue(w.ctx, w.ws.SID, engine.TaskQueueInsert{FriendlyName: "Spanish", TargetWorkers: `groups HAS "spanish"`})
		if err != nil {
			t.Fatal(err)
		}
		flow, err := w.eng.CreateWorkflow(w.ctx, w.ws.SID, engine.WorkflowInsert{FriendlyName: "Spanish line",
			Configuration: `{"task_routing":{"default_filter":{"queue":"` + queue.SID + `"}}}`})
		if err != nil {
			t.Fatal(err)
		}
		if got := w.ringOn(flow.SID, `{}`); got != "" {
			t.Fatalf("nobody is in the group yet, but %q was rung", got)
		}
		a = w.want(w.do("POST", "/Groups", map[string]any{
			"schemas": []any{scim.SchemaGroup}, "displayName": "spanish", "members": []any{},
		}), 201)
		gid := str(a.body["id"])
		a = w.want(w.do("PATCH", "/Groups/"+gid, map[string]any{
			"schemas": []any{scim.SchemaPatch},
			"Operations": []any{map[string]any{"op": "add", "path": "members",
				"value": []any{map[string]any{"value": id, "display": email}}}},
		}), 200)
		if ms, _ := a.body["members"].([]any); len(ms) != 1 {
			t.Fatalf("members after add: %s", a.raw)
		}
		if g := provision.Groups(w.worker(id)); len(g) != 1 || g[0] != "spanish" {
			t.Fatalf("groups attribute %v", g)
		}
		if got := w.ringOn(flow.SID, `{}`); got != id {
			t.Fatalf("the group's queue rang %q, want %s", got, id)
		}
		a = w.want(w.do("GET", "/Users/"+id, nil), 200)
		if gs, _ := a.body["groups"].([]any); len(gs) != 1 || str(gs[0].(map[string]any)["value"]) != gid {
			t.Fatalf("the user's groups: %s", a.raw)
		}
		// A second member, then Okta's replace of the whole list.
		bob := w.want(w.do("POST", "/Users", map[string]any{
			"schemas": []any{scim.SchemaUser}, "userName": "bob@example.com", "active": true,
			"emails": []any{map[string]any{"primary": true, "value": "bob@example.com", "type": "work"}},
		}), 201)
		bid := str(bob.body["id"])
		w.want(w.do("PATCH", "/Groups/"+gid, map[string]any{
			"schemas": []any{scim.SchemaPatch},
			"Operations": []any{map[string]any{"op": "replace", "value": map[string]any{
				"id": gid, "displayName": "spanish",
				"members": []any{map[string]any{"value": bid, "display": "bob@example.com"}},
			}}},
		}), 200)
		if g := provision.Groups(w.worker(id)); len(g) != 0 {
			t.Fatalf("alice is still in %v", g)
		}
		if g := provision.Groups(w.worker(bid)); len(g) != 1 {
			t.Fatalf("bob's groups %v", g)
		}
		a = w.want(w.do("GET", "/Groups"+q(`displayName eq "spanish"`), nil), 200)
		if rs := resources(t, a); len(rs) != 1 || str(rs[0]["id"]) != gid {
			t.Fatalf("group lookup: %s", a.raw)
		}
		// Remove by value path, then delete the group.
		w.want(w.do("PATCH", "/Groups/"+gid, map[string]any{
			"schemas":    []any{scim.SchemaPatch},
			"Operations": []any{map[string]any{"op": "remove", "path": `members[value eq "` + bid + `"]`}},
		}), 200)
		if g := provision.Groups(w.worker(bid)); len(g) != 0 {
			t.Fatalf("bob is still in %v", g)
		}
		w.want(w.do("PATCH", "/Groups/"+gid, map[string]any{
			"schemas": []any{scim.SchemaPatch},
			"Operations": []any{map[string]any{"op": "add", "path": "members",
				"value": []any{map[string]any{"value": bid}}}},
		}), 200)
		w.want(w.do("DELETE", "/Groups/"+gid, nil), 204)
		if g := provision.Groups(w.worker(bid)); len(g) != 0 {
			t.Fatalf("a deleted group is still on bob: %v", g)
		}
		// A rename is refused, saying why.
		w.want(w.do("PUT", "/Groups/"+gid, map[string]any{"displayName": "espanol"}), 400)

		// 7. Delete the user.
		w.want(w.do("DELETE", "/Users/"+id, nil), 204)
		w.want(w.do("GET", "/Users/"+id, nil), 404)
		if got := w.ring("+15125550100"); got != "" {
			t.Fatalf("a deleted worker's number rang %q", got)
		}
	})
}
