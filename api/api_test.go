package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestAuthentication(t *testing.T) {
	stores(t, func(t *testing.T, st engineStore) {
		s := newServer(t, st)
		r := s.request(http.MethodGet, "/v1/Workspaces", nil, false)
		twilioError(t, r, http.StatusUnauthorized, 20003)
		req, _ := http.NewRequest(http.MethodGet, s.srv.URL+"/v1/Workspaces", nil)
		req.SetBasicAuth(apiKey, "wrong")
		resp, err := s.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("bad secret: %s", resp.Status)
		}
		r = s.get("/v1/Workspaces")
		if r.status != http.StatusOK {
			t.Fatalf("with credentials: %d %s", r.status, r.raw)
		}
		list := r.body["workspaces"].([]any)
		if len(list) != 1 || str(list[0].(map[string]any), "friendly_name") != "Flex Task Assignment" {
			t.Errorf("workspaces %s", r.raw)
		}
	})
}

func TestWorkspaceAndActivities(t *testing.T) {
	stores(t, func(t *testing.T, st engineStore) {
		s := newServer(t, st)
		r := s.get(s.wsPath(""))
		if r.status != http.StatusOK || str(r.body, "sid") != s.ws.SID || str(r.body, "default_activity_name") != "Offline" ||
			str(r.body, "account_sid") != "AC0123" {
			t.Fatalf("workspace: %d %s", r.status, r.raw)
		}
		if u := str(r.body, "url"); !strings.HasSuffix(u, "/v1/Workspaces/"+s.ws.SID) || !strings.HasPrefix(u, "http://") {
			t.Errorf("url %q", u)
		}
		if _, err := time.Parse(time.RFC3339, str(r.body, "date_created")); err != nil {
			t.Errorf("date_created %q is not ISO 8601: %v", str(r.body, "date_created"), err)
		}
		r = s.get(s.wsPath("/Activities?Available=true"))
		acts := r.body["activities"].([]any)
		if len(acts) != 1 || str(acts[0].(map[string]any), "friendly_name") != "Available" {
			t.Errorf("available activities: %s", r.raw)
		}
		twilioError(t, s.get("/v1/Workspaces/WS00000000000000000000000000000000"), http.StatusNotFound, 20404)
		twilioError(t, s.get(s.wsPath("/Nothing")), http.StatusNotFound, 20404)
	})
}

func TestWorkerLifecycle(t *testing.T) {
	stores(t, func(t *testing.T, st engineStore) {
		s := newServer(t, st)
		r := s.post(s.wsPath("/Workers"), url.Values{
			"FriendlyName": {"alice"},
			"Attributes":   {`{"phone_number":"(512) 555-0101","contact_uri":"client:alice","skills":["sales"]}`},
			"ActivitySid":  {s.activity("Available")},
		})
		if r.status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.status, r.raw)
		}
		sid := str(r.body, "sid")
		if !strings.HasPrefix(sid, "WK") || len(sid) != 34 {
			t.Fatalf("sid %q", sid)
		}
		if str(r.body, "activity_name") != "Available" || r.body["available"] != true || str(r.body, "workspace_sid") != s.ws.SID {
			t.Errorf("created worker %s", r.raw)
		}
		var attrs map[string]any
		if err := json.Unmarshal([]byte(str(r.body, "attributes")), &attrs); err != nil {
			t.Fatalf("attributes is not a JSON string: %s", r.raw)
		}
		if attrs["phone_number"] != "+15125550101" {
			t.Errorf("DID stored as %v, want E.164", attrs["phone_number"])
		}
		for _, k := range []string{"date_created", "date_updated", "date_status_changed"} {
			if _, err := time.Parse(time.RFC3339, str(r.body, k)); err != nil {
				t.Errorf("%s %q: %v", k, str(r.body, k), err)
			}
		}
		if !strings.HasSuffix(str(r.body, "url"), "/Workers/"+sid) {
			t.Errorf("url %q", str(r.body, "url"))
		}

		r = s.get(s.wsPath("/Workers/" + sid))
		if r.status != http.StatusOK || str(r.body, "friendly_name") != "alice" {
			t.Fatalf("read: %d %s", r.status, r.raw)
		}
		bob := s.post(s.wsPath("/Workers"), url.Values{"FriendlyName": {"bob"}})
		if bob.status != http.StatusCreated || str(bob.body, "activity_name") != "Offline" {
			t.Fatalf("bob in the default activity: %d %s", bob.status, bob.raw)
		}

		for q, want := range map[string][]string{
			"":                                      {"alice", "bob"},
			"?ActivityName=Available":               {"alice"},
			"?Available=false":                      {"bob"},
			"?Available=1":                          {"alice"},
			"?FriendlyName=bob":                     {"bob"},
			"?ActivitySid=" + s.activity("Offline"): {"bob"},
		} {
			r = s.get(s.wsPath("/Workers" + q))
			if r.status != http.StatusOK {
				t.Fatalf("list %q: %d %s", q, r.status, r.raw)
			}
			var got []string
			for _, w := range r.body["workers"].([]any) {
				got = append(got, str(w.(map[string]any), "friendly_name"))
			}
			sort.Strings(got) // same date created (a fake clock): the order is by sid
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("list %q: %v, want %v", q, got, want)
			}
		}
		twilioError(t, s.get(s.wsPath("/Workers?Available=perhaps")), http.StatusBadRequest, 20001)

		r = s.post(s.wsPath("/Workers/"+sid), url.Values{"FriendlyName": {"Alice A."}, "ActivitySid": {s.activity("Offline")}})
		if r.status != http.StatusOK || str(r.body, "friendly_name") != "Alice A." || r.body["available"] != false {
			t.Fatalf("update: %d %s", r.status, r.raw)
		}
		if !strings.Contains(str(r.body, "attributes"), "+15125550101") {
			t.Errorf("update without Attributes lost them: %s", str(r.body, "attributes"))
		}
		r = s.post(s.wsPath("/Workers/"+sid), url.Values{"Attributes": {`{"phone_number":"+1 512 555 0199"}`}})
		if r.status != http.StatusOK || !strings.Contains(str(r.body, "attributes"), "+15125550199") {
			t.Fatalf("update attributes: %d %s", r.status, r.raw)
		}
		twilioError(t, s.post(s.wsPath("/Workers/"+sid), url.Values{"Attributes": {`[1,2]`}}), http.StatusBadRequest, 20001)
		twilioError(t, s.post(s.wsPath("/Workers/"+sid), url.Values{"ActivitySid": {"WA00000000000000000000000000000000"}}), http.StatusBadRequest, 20001)

		r = s.request(http.MethodDelete, s.wsPath("/Workers/"+sid), nil, true)
		if r.status != http.StatusNoContent {
			t.Fatalf("delete: %d %s", r.status, r.raw)
		}
		twilioError(t, s.get(s.wsPath("/Workers/"+sid)), http.StatusNotFound, 20404)
		twilioError(t, s.request(http.MethodDelete, s.wsPath("/Workers/"+sid), nil, true), http.StatusNotFound, 20404)
	})
}

func TestWorkerDIDConflict(t *testing.T) {
	stores(t, func(t *testing.T, st engineStore) {
		s := newServer(t, st)
		alice := s.post(s.wsPath("/Workers"), url.Values{"FriendlyName": {"alice"}, "Attributes": {`{"phone_number":"512-555-0101"}`}})
		if alice.status != http.StatusCreated {
			t.Fatalf("alice: %d %s", alice.status, alice.raw)
		}
		msg := twilioError(t, s.post(s.wsPath("/Workers"), url.Values{"FriendlyName": {"bob"}, "Attributes": {`{"phone_number":"+15125550101"}`}}),
			http.StatusConflict, 20409)
		if !strings.Contains(msg, "+15125550101") {
			t.Errorf("conflict message %q does not name the number", msg)
		}
		bob := s.post(s.wsPath("/Workers"), url.Values{"FriendlyName": {"bob"}, "Attributes": {`{"phone_number":"+15125550102"}`}})
		if bob.status != http.StatusCreated {
			t.Fatalf("bob: %d %s", bob.status, bob.raw)
		}
		twilioError(t, s.post(s.wsPath("/Workers/"+str(bob.body, "sid")), url.Values{"Attributes": {`{"phone_number":"(512) 555-0101"}`}}),
			http.StatusConflict, 20409)
		twilioError(t, s.post(s.wsPath("/Workers"), url.Values{"FriendlyName": {"carol"}, "Attributes": {`{"phone_number":"555-2671"}`}}),
			http.StatusBadRequest, 20001)
	})
}

func TestTaskQueuesAndWorkflows(t *testing.T) {
	stores(t, func(t *testing.T, st engineStore) {
		s := newServer(t, st)
		q := s.post(s.wsPath("/TaskQueues"), url.Values{"FriendlyName": {"Sales"}, "TargetWorkers": {`skills HAS "sales"`}, "MaxReservedWorkers": {"2"}})
		if q.status != http.StatusCreated || str(q.body, "task_order") != "FIFO" || q.body["max_reserved_workers"].(float64) != 2 {
			t.Fatalf("create queue: %d %s", q.status, q.raw)
		}
		qsid := str(q.body, "sid")
		twilioError(t, s.post(s.wsPath("/TaskQueues"), url.Values{"FriendlyName": {"Bad"}, "TargetWorkers": {"skills HAS"}}), http.StatusBadRequest, 20001)
		twilioError(t, s.post(s.wsPath("/TaskQueues"), url.Values{"FriendlyName": {"Bad"}, "MaxReservedWorkers": {"many"}}), http.StatusBadRequest, 20001)
		r := s.post(s.wsPath("/TaskQueues/"+qsid), url.Values{"TaskOrder": {"LIFO"}})
		if r.status != http.StatusOK || str(r.body, "task_order") != "LIFO" || str(r.body, "friendly_name") != "Sales" {
			t.Fatalf("update queue: %d %s", r.status, r.raw)
		}
		if r = s.get(s.wsPath("/TaskQueues?FriendlyName=Everyone")); len(r.body["task_queues"].([]any)) != 1 {
			t.Errorf("queues named Everyone: %s", r.raw)
		}

		good := fmt.Sprintf(`{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":%q}]}],"default_filter":{"queue":%q}}}`, qsid, qsid)
		wf := s.post(s.wsPath("/Workflows"), url.Values{"FriendlyName": {"Sales flow"}, "Configuration": {good}, "TaskReservationTimeout": {"30"}})
		if wf.status != http.StatusCreated || wf.body["task_reservation_timeout"].(float64) != 30 || str(wf.body, "configuration") == "" {
			t.Fatalf("create workflow: %d %s", wf.status, wf.raw)
		}
		bad := fmt.Sprintf(`{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":%q,"expression":"worker.x =="}]}]}}`, qsid)
		msg := twilioError(t, s.post(s.wsPath("/Workflows"), url.Values{"FriendlyName": {"Broken"}, "Configuration": {bad}}), http.StatusBadRequest, 20001)
		if !strings.Contains(msg, "filters[0]") || !strings.Contains(msg, "targets[0]") {
			t.Errorf("validation message %q does not name the JSON path", msg)
		}
		msg = twilioError(t, s.post(s.wsPath("/Workflows/"+str(wf.body, "sid")), url.Values{"Configuration": {`{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"WQ00000000000000000000000000000000"}]}]}}`}}),
			http.StatusBadRequest, 20001)
		if !strings.Contains(msg, "WQ00000000000000000000000000000000") {
			t.Errorf("unknown queue message %q", msg)
		}
		r = s.post(s.wsPath("/Workflows/"+str(wf.body, "sid")), url.Values{"FriendlyName": {"Sales flow 2"}})
		if r.status != http.StatusOK || str(r.body, "friendly_name") != "Sales flow 2" || r.body["task_reservation_timeout"].(float64) != 30 {
			t.Fatalf("update workflow: %d %s", r.status, r.raw)
		}
		if r = s.get(s.wsPath("/Workflows")); len(r.body["workflows"].([]any)) != 2 {
			t.Errorf("workflows: %s", r.raw)
		}
		r = s.get(s.wsPath("/Tasks"))
		if r.status != http.StatusOK || len(r.body["tasks"].([]any)) != 0 || str(r.body["meta"].(map[string]any), "key") != "tasks" {
			t.Errorf("tasks: %d %s", r.status, r.raw)
		}
		if r = s.get(s.wsPath("/Events?EventType=worker.created")); r.status != http.StatusOK {
			t.Errorf("events: %d %s", r.status, r.raw)
		}
	})
}

// Pages follow next_page_url until it is null, seeing each worker once.
func TestWorkerPagination(t *testing.T) {
	stores(t, func(t *testing.T, st engineStore) {
		s := newServer(t, st)
		const n = 7
		for i := range n {
			if r := s.post(s.wsPath("/Workers"), url.Values{"FriendlyName": {fmt.Sprintf("w%d", i)}}); r.status != http.StatusCreated {
				t.Fatalf("create: %d %s", r.status, r.raw)
			}
		}
		seen := map[string]bool{}
		next := s.wsPath("/Workers?PageSize=3&ActivityName=Offline")
		for page := 0; next != ""; page++ {
			if page > n {
				t.Fatal("pagination does not end")
			}
			r := s.get(next)
			if r.status != http.StatusOK {
				t.Fatalf("page %d: %d %s", page, r.status, r.raw)
			}
			meta := r.body["meta"].(map[string]any)
			if int(meta["page"].(float64)) != page || int(meta["page_size"].(float64)) != 3 || str(meta, "key") != "workers" ||
				str(meta, "first_page_url") == "" || str(meta, "url") == "" {
				t.Errorf("page %d meta %v", page, meta)
			}
			if !strings.Contains(str(meta, "first_page_url"), "ActivityName=Offline") {
				t.Errorf("filters lost in page links: %v", meta)
			}
			for _, w := range r.body["workers"].([]any) {
				sid := str(w.(map[string]any), "sid")
				if seen[sid] {
					t.Errorf("worker %s on two pages", sid)
				}
				seen[sid] = true
			}
			next = str(meta, "next_page_url")
		}
		if len(seen) != n {
			t.Errorf("saw %d workers, want %d", len(seen), n)
		}
		twilioError(t, s.get(s.wsPath("/Workers?PageSize=0")), http.StatusBadRequest, 20001)
		twilioError(t, s.get(s.wsPath("/Workers?PageSize=1001")), http.StatusBadRequest, 20001)
		twilioError(t, s.get(s.wsPath("/Workers?PageToken=bogus")), http.StatusBadRequest, 20001)
	})
}
