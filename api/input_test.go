package api_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

// badBytes are what Postgres refuses in text and SQLite stores.
var badBytes = map[string]string{"NUL": "\x00", "UTF-8": "\xff"}

// Bad bytes anywhere in a request are refused with the same 400 on both
// stores, naming the parameter, before any handler or store sees them
// (issue 16, finding 5: on Postgres they answered 500).
func TestBadBytesRefused(t *testing.T) {
	stores(t, func(t *testing.T, st engineStore) {
		s := newServer(t, st)
		for kind, bad := range badBytes {
			v := "a" + bad
			q := url.QueryEscape(v)
			gets := map[string]string{ // path -> the parameter the message names
				"/v1/Workspaces?FriendlyName=" + q:              "FriendlyName",
				s.wsPath("/Workers?FriendlyName=" + q):          "FriendlyName",
				s.wsPath("/Workers?ActivitySid=" + q):           "ActivitySid",
				s.wsPath("/Workers?ActivityName=" + q):          "ActivityName",
				s.wsPath("/Workers?TaskQueueSid=" + q):          "TaskQueueSid",
				s.wsPath("/Tasks?AssignmentStatus=" + q):        "AssignmentStatus",
				s.wsPath("/Tasks?WorkflowSid=" + q):             "WorkflowSid",
				s.wsPath("/Tasks?TaskQueueSid=" + q):            "TaskQueueSid",
				s.wsPath("/Events?EventType=" + q):              "EventType",
				s.wsPath("/Events?TaskSid=" + q):                "TaskSid",
				s.wsPath("/Events?ResourceSid=" + q):            "ResourceSid",
				s.wsPath("/Events?WorkerSid=" + q):              "WorkerSid",
				s.wsPath("/Events?ReservationSid=" + q):         "ReservationSid",
				s.wsPath("/Workers?" + q + "=1"):                "parameter name",
				s.wsPath("/Workers/" + q):                       "request path",
				s.wsPath("/Tasks/" + q):                         "request path",
				"/v1/Workspaces/" + q:                           "request path",
				s.wsPath("/TaskQueues/Statistics?Minutes=" + q): "Minutes",
			}
			for p, param := range gets {
				msg := twilioError(t, s.get(p), http.StatusBadRequest, 20001)
				if !strings.Contains(msg, param) || !strings.Contains(msg, kind) {
					t.Errorf("GET %s (%s): message %q does not name %s and %s", p, kind, msg, param, kind)
				}
			}
			posts := []struct {
				path  string
				form  url.Values
				param string
			}{
				{s.wsPath("/Workers"), url.Values{"FriendlyName": {v}}, "FriendlyName"},
				{s.wsPath("/Workers"), url.Values{"FriendlyName": {"ok"}, "Attributes": {`{"x":"` + v + `"}`}}, "Attributes"},
				{s.wsPath("/Activities"), url.Values{"FriendlyName": {v}}, "FriendlyName"},
				{s.wsPath("/TaskQueues"), url.Values{"FriendlyName": {v}, "TargetWorkers": {"1==1"}}, "FriendlyName"},
				{s.wsPath("/Workflows"), url.Values{"FriendlyName": {v}}, "FriendlyName"},
				{s.wsPath(""), url.Values{"FriendlyName": {v}}, "FriendlyName"},
				{s.wsPath("/Tasks"), url.Values{"Attributes": {`{"a":"` + v + `"}`}}, "Attributes"},
				{s.wsPath("/Workers?FriendlyName=" + q), url.Values{"FriendlyName": {"ok"}}, "FriendlyName"},
			}
			for _, c := range posts {
				msg := twilioError(t, s.post(c.path, c.form), http.StatusBadRequest, 20001)
				if !strings.Contains(msg, c.param) || !strings.Contains(msg, kind) {
					t.Errorf("POST %s %q: message %q does not name %s and %s", c.path, c.form, msg, c.param, kind)
				}
			}
		}
		// Nothing was written.
		workers, err := st.ListWorkers(context.Background(), s.ws.SID, didrouter.WorkerFilter{Page: didrouter.Page{Size: 10}})
		if err != nil || len(workers) != 0 {
			t.Errorf("workers after refused requests: %d, %v", len(workers), err)
		}
		if ws, _ := st.GetWorkspace(context.Background(), s.ws.SID); ws.FriendlyName != engine.SeedWorkspaceName {
			t.Errorf("workspace renamed to %q", ws.FriendlyName)
		}
		// Text that is merely unusual is still fine.
		r := s.post(s.wsPath("/Workers"), url.Values{"FriendlyName": {"Zoë 🎧 \t tab"}, "Attributes": {`{"x":"\u0000 escaped"}`}})
		if r.status != http.StatusCreated {
			t.Errorf("unusual but valid text: %d %s", r.status, r.raw)
		}
	})
}

// AssignmentStatus takes known statuses only, and a bounded number of them
// (issue 16, finding 5: 30,000 values cost 10 s of CPU, 70,000 a 500).
func TestAssignmentStatusFilterChecked(t *testing.T) {
	stores(t, func(t *testing.T, st engineStore) {
		s := newServer(t, st)
		r := s.get(s.wsPath("/Tasks?AssignmentStatus=pending,reserved&AssignmentStatus=pending&AssignmentStatus=canceled"))
		if r.status != http.StatusOK {
			t.Fatalf("known statuses: %d %s", r.status, r.raw)
		}
		msg := twilioError(t, s.get(s.wsPath("/Tasks?AssignmentStatus=pending,finished")), http.StatusBadRequest, 20001)
		if !strings.Contains(msg, `"finished"`) || !strings.Contains(msg, "wrapping") {
			t.Errorf("unknown status: %q", msg)
		}
		many := strings.Repeat("pending,", 70000)
		start := time.Now()
		msg = twilioError(t, s.get(s.wsPath("/Tasks?AssignmentStatus="+many)), http.StatusBadRequest, 20001)
		if !strings.Contains(msg, "at most") {
			t.Errorf("70,000 values: %q", msg)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("70,000 values took %s", d)
		}
		twilioError(t, s.get(s.wsPath("/Tasks?AssignmentStatus="+strings.Repeat("bogus,", 30000))), http.StatusBadRequest, 20001)
		twilioError(t, s.get(s.wsPath("/Workers/WK0/Reservations?ReservationStatus=bogus")), http.StatusNotFound, 20404)
	})
}
