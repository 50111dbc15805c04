package api_test

import (
	"net/http"
	"testing"

	taskrouter "github.com/twilio/twilio-go/rest/taskrouter/v1"
)

func TestTRWorkspaceAndActivities(t *testing.T) {
	stores(t, func(t *testing.T, st engineStore) {
		e := newTREnv(t, st)
		ws, err := e.tr.FetchWorkspace(e.ws.SID)
		if err != nil || deref(ws.Sid) != e.ws.SID || deref(ws.DefaultActivityName) != "Offline" || ws.DateCreated == nil {
			t.Fatalf("fetch workspace: %v %+v", err, ws)
		}
		if (*ws.Links)["statistics"] == nil || (*ws.Links)["activities"] == nil {
			t.Errorf("workspace links %v", *ws.Links)
		}
		unavailable := e.activity("Unavailable")
		ws, err = e.tr.UpdateWorkspace(e.ws.SID, (&taskrouter.UpdateWorkspaceParams{}).SetFriendlyName("Support").
			SetDefaultActivitySid(e.activity("Available")).SetTimeoutActivitySid(unavailable).
			SetEventCallbackUrl("https://example.com/events"))
		if err != nil {
			t.Fatalf("update workspace: %v", err)
		}
		if deref(ws.FriendlyName) != "Support" || deref(ws.DefaultActivityName) != "Available" ||
			deref(ws.TimeoutActivitySid) != unavailable || deref(ws.TimeoutActivityName) != "Unavailable" ||
			deref(ws.EventCallbackUrl) != "https://example.com/events" {
			t.Errorf("updated workspace %+v", ws)
		}
		stored, _ := e.store.GetWorkspace(e.ctx, e.ws.SID)
		if stored.TimeoutActivitySID != unavailable || stored.DefaultWorkflowSID != e.ws.DefaultWorkflowSID {
			t.Errorf("stored workspace %+v", stored)
		}
		_, err = e.tr.UpdateWorkspace(e.ws.SID, (&taskrouter.UpdateWorkspaceParams{}).SetDefaultActivitySid("WA00000000000000000000000000000000"))
		restError(t, err, http.StatusBadRequest, 20001)
		_, err = e.tr.UpdateWorkspace(e.ws.SID, (&taskrouter.UpdateWorkspaceParams{}).SetEventCallbackUrl("ftp://x"))
		restError(t, err, http.StatusBadRequest, 20001)
		_, err = e.tr.UpdateWorkspace(e.ws.SID, (&taskrouter.UpdateWorkspaceParams{}).SetMultiTaskEnabled(true))
		restError(t, err, http.StatusBadRequest, 20001)
		_, err = e.tr.FetchWorkspace("WS00000000000000000000000000000000")
		restError(t, err, http.StatusNotFound, 20404)
		_, err = twilioClient(e.srv.URL, apiKey, "wrongsecret").FetchWorkspace(e.ws.SID)
		restError(t, err, http.StatusUnauthorized, 20003)
		list, err := e.tr.ListWorkspace((&taskrouter.ListWorkspaceParams{}).SetFriendlyName("Support"))
		if err != nil || len(list) != 1 {
			t.Fatalf("list workspaces by name: %v %d", err, len(list))
		}

		// Activities: create, page through, filter, rename, delete.
		for _, name := range []string{"Lunch", "Training", "Ringing", "Meeting"} {
			a, err := e.tr.CreateActivity(e.ws.SID, (&taskrouter.CreateActivityParams{}).SetFriendlyName(name).SetAvailable(name == "Ringing"))
			if err != nil {
				t.Fatalf("create activity %s: %v", name, err)
			}
			if len(deref(a.Sid)) != 34 || deref(a.Sid)[:2] != "WA" || deref(a.Available) != (name == "Ringing") {
				t.Errorf("created activity %+v", a)
			}
		}
		_, err = e.tr.CreateActivity(e.ws.SID, (&taskrouter.CreateActivityParams{}).SetFriendlyName("lunch"))
		restError(t, err, http.StatusConflict, 20409)
		_, err = e.tr.CreateActivity(e.ws.SID, &taskrouter.CreateActivityParams{})
		restError(t, err, http.StatusBadRequest, 20001)
		page, err := e.tr.PageActivity(e.ws.SID, (&taskrouter.ListActivityParams{}).SetPageSize(3), "", "")
		if err != nil || len(page.Activities) != 3 || page.Meta.NextPageUrl == nil || page.Meta.Key != "activities" ||
			page.Meta.PageSize != 3 || page.Meta.Page != 0 || page.Meta.FirstPageUrl == "" {
			t.Fatalf("first page of activities: %v %+v", err, page)
		}
		all, err := e.tr.ListActivity(e.ws.SID, (&taskrouter.ListActivityParams{}).SetPageSize(3))
		if err != nil || len(all) != 7 {
			t.Fatalf("every activity over pages of 3: %v %d", err, len(all))
		}
		avail, err := e.tr.ListActivity(e.ws.SID, (&taskrouter.ListActivityParams{}).SetAvailable("true"))
		if err != nil || len(avail) != 2 {
			t.Fatalf("available activities: %v %d", err, len(avail))
		}
		named, err := e.tr.ListActivity(e.ws.SID, (&taskrouter.ListActivityParams{}).SetFriendlyName("Training"))
		if err != nil || len(named) != 1 {
			t.Fatalf("activity by name: %v %d", err, len(named))
		}
		training := deref(named[0].Sid)
		renamed, err := e.tr.UpdateActivity(e.ws.SID, training, (&taskrouter.UpdateActivityParams{}).SetFriendlyName("Coaching"))
		if err != nil || deref(renamed.FriendlyName) != "Coaching" {
			t.Fatalf("rename activity: %v %+v", err, renamed)
		}
		w := e.worker("alice", `{"contact_uri":"client:alice"}`, "Coaching")
		if deref(w.ActivityName) != "Coaching" {
			t.Errorf("worker in renamed activity: %+v", w)
		}
		// In use by a worker, or the workspace's timeout activity: refused.
		restError(t, e.tr.DeleteActivity(e.ws.SID, training), http.StatusConflict, 20409)
		restError(t, e.tr.DeleteActivity(e.ws.SID, unavailable), http.StatusConflict, 20409)
		lunch, _ := e.tr.ListActivity(e.ws.SID, (&taskrouter.ListActivityParams{}).SetFriendlyName("Lunch"))
		if err := e.tr.DeleteActivity(e.ws.SID, deref(lunch[0].Sid)); err != nil {
			t.Fatalf("delete unused activity: %v", err)
		}
		_, err = e.tr.FetchActivity(e.ws.SID, deref(lunch[0].Sid))
		restError(t, err, http.StatusNotFound, 20404)
		restError(t, e.tr.DeleteActivity(e.ws.SID, deref(lunch[0].Sid)), http.StatusNotFound, 20404)
	})
}
