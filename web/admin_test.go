package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/web"
)

const (
	aliceDID = "+15127640580"
	bobDID   = "+15127640581"
	daveDID  = "+15127640582"
)

// consolePages are the console's pages (GET).
var consolePages = []string{web.AdminPath, web.AdminBoard, web.AdminAgents, web.AdminAgentNew, web.AdminAgentImport,
	web.AdminAgentExport, web.AdminCalls}

// Without an admin session no console page shows anything: pages send the
// browser to the sign-in form, the fragment and the event stream and every
// change are refused. An agent's session is no admin session, even with
// its cookie under the admin cookie's name.
func TestAdminNeedsAdminSession(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := newSite(t, st, siteOptions{})
		alice := s.worker("Alice", aliceAttrs)
		agent := s.browser()
		agent.signIn("alice")
		u, _ := url.Parse(s.url + web.AgentPath)
		var agentCookie string
		for _, c := range agent.c.Jar.Cookies(u) {
			if c.Name == "didrouter_agent" {
				agentCookie = c.Value
			}
		}
		forged := s.browser()
		au, _ := url.Parse(s.url + web.AdminPath)
		forged.c.Jar.SetCookies(au, []*http.Cookie{{Name: "didrouter_admin", Value: agentCookie, Path: web.AdminPath}})
		for name, b := range map[string]*browser{"no session": s.browser(), "agent session": agent, "agent cookie as admin": forged} {
			for _, p := range append(consolePages, web.AdminAgents+"/"+alice.SID, web.AdminEvents) {
				a := b.get(p)
				switch p {
				case web.AdminBoard, web.AdminEvents:
					if a.status != http.StatusUnauthorized {
						t.Errorf("%s: GET %s: %d, want 401", name, p, a.status)
					}
				default:
					if a.status != http.StatusSeeOther || a.header.Get("Location") != web.AdminSignInPath {
						t.Errorf("%s: GET %s: %d %s, want a redirect to the sign-in form", name, p, a.status, a.header.Get("Location"))
					}
				}
				if strings.Contains(a.body, "Alice") || strings.Contains(a.body, "764-0580") {
					t.Errorf("%s: GET %s shows the agent", name, p)
				}
			}
			for _, p := range []string{web.AdminAgents, web.AdminAgents + "/" + alice.SID, web.AdminAgents + "/" + alice.SID + "/activity",
				web.AdminAgents + "/" + alice.SID + "/delete", web.AdminAgents + "/" + alice.SID + "/link", web.AdminAgentImport} {
				a := b.post(p, url.Values{"csrf": {agent.csrf}, "activity": {s.activity("Available")}, "confirm": {"yes"},
					"friendly_name": {"Mallory"}})
				if a.status != http.StatusUnauthorized || strings.Contains(a.body, "sign-in link for") {
					t.Errorf("%s: POST %s: %d, want 401", name, p, a.status)
				}
			}
		}
		if w := s.getWorker(alice.SID); w.ActivityName != "Offline" {
			t.Errorf("a refused change changed the worker: %s", w.ActivityName)
		}
		if w := s.workerNamed("Mallory"); w.SID != "" {
			t.Error("a refused POST created a worker")
		}
	})
}

// Every change needs the session's CSRF token and the console's origin;
// without them nothing changes.
func TestAdminCSRF(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := newSite(t, st, siteOptions{})
		alice := s.worker("Alice", aliceAttrs)
		b := s.admin()
		avail := s.activity("Available")
		for _, tc := range []struct {
			name   string
			form   url.Values
			header map[string]string
		}{
			{"no token", url.Values{"activity": {avail}}, map[string]string{"Origin": s.url}},
			{"a wrong token", url.Values{"activity": {avail}, "csrf": {"x" + b.csrf}}, map[string]string{"Origin": s.url}},
			{"another site", url.Values{"activity": {avail}, "csrf": {b.csrf}}, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}},
		} {
			a := b.do(http.MethodPost, web.AdminAgents+"/"+alice.SID+"/activity", tc.form, tc.header)
			if a.status != http.StatusForbidden || !strings.Contains(a.body, "Refused") {
				t.Errorf("%s: %d %s", tc.name, a.status, a.body)
			}
		}
		for _, p := range []string{web.AdminAgents, web.AdminAgents + "/" + alice.SID + "/delete"} {
			if a := b.post(p, url.Values{"friendly_name": {"Mallory"}, "confirm": {"yes"}}); a.status != http.StatusForbidden {
				t.Errorf("POST %s without a token: %d", p, a.status)
			}
		}
		if a := b.upload(web.AdminAgentImport, map[string]string{"csrf": "nope"}, "a.csv", "friendly_name\nMallory\n"); a.status != http.StatusForbidden {
			t.Errorf("import without a token: %d", a.status)
		}
		if w := s.getWorker(alice.SID); w.ActivityName != "Offline" {
			t.Errorf("a refused change changed the worker: %s", w.ActivityName)
		}
		if w := s.workerNamed("Mallory"); w.SID != "" {
			t.Error("a refused POST created a worker")
		}
		// With the token it works.
		if a := b.form(web.AdminAgents+"/"+alice.SID+"/activity", url.Values{"activity": {avail}}); a.status != http.StatusSeeOther {
			t.Fatalf("with the token: %d %s", a.status, a.body)
		}
		if w := s.getWorker(alice.SID); w.ActivityName != "Available" {
			t.Errorf("activity %s, want Available", w.ActivityName)
		}
	})
}

// The board's figures are the API's: agents by activity and the callers
// waiting as RealTimeStatistics counts them, today's answered and
// abandoned calls and the average wait as CumulativeStatistics since
// midnight, agents by call state as the store's live reservations.
func TestAdminBoardEqualsAPI(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := newSite(t, st, siteOptions{})
		alice := s.worker("Alice", `{"phone_number":"`+aliceDID+`","contact_uri":"client:alice"}`)
		s.worker("Bob", `{"phone_number":"`+bobDID+`","contact_uri":"client:bob"}`)
		carol := s.worker("Carol", `{"contact_uri":"client:carol"}`)
		dave := s.worker("Dave", `{"phone_number":"`+daveDID+`","contact_uri":"client:dave"}`)
		setActivity(t, s, alice, "Available")
		setActivity(t, s, carol, "Unavailable")

		// Alice answers her own number after 4 s, then Bob's (he is
		// offline: through Everyone) after 6 s.
		res := s.call("CA01", "+12125550100", aliceDID)
		s.clock.Advance(4 * time.Second)
		s.answer(res)
		res = s.call("CA02", "+12125550101", bobDID)
		s.clock.Advance(6 * time.Second)
		s.answer(res)
		// A caller hangs up while nobody is free.
		setActivity(t, s, alice, "Unavailable")
		res = s.call("CA03", "+12125550102", bobDID)
		s.clock.Advance(3 * time.Second)
		if _, err := s.eng.CancelTask(s.ctx, s.ws.SID, res.Task.SID, "hangup"); err != nil {
			t.Fatal(err)
		}
		// Alice takes the next call and stays on it; Dave's phone rings;
		// one more caller waits.
		setActivity(t, s, alice, "Available")
		res = s.call("CA04", "+12125550103", bobDID)
		s.clock.Advance(2 * time.Second)
		if _, err := s.eng.AcceptReservation(s.ctx, s.ws.SID, res.Reservation.SID); err != nil {
			t.Fatal(err)
		}
		setActivity(t, s, dave, "Available")
		s.call("CA05", "+12125550104", daveDID)
		s.clock.Advance(5 * time.Second)
		s.call("CA06", "+12125550105", bobDID)
		s.clock.Advance(7 * time.Second)

		b := s.admin()
		page := b.get(web.AdminPath)
		if page.status != 200 {
			t.Fatalf("board: %d %s", page.status, page.body)
		}
		got := counts(t, page.body)
		rt := s.apiGet("/v1/Workspaces/" + s.ws.SID + "/RealTimeStatistics")
		for _, a := range rt["activity_statistics"].([]any) {
			m := a.(map[string]any)
			if k := "activity:" + m["friendly_name"].(string); got[k] != num(m["workers"]) {
				t.Errorf("%s: board %s, API %s", k, got[k], num(m["workers"]))
			}
		}
		if got["workers"] != num(rt["total_workers"]) || got["workers"] != "4" {
			t.Errorf("workers: board %s, API %s, want 4", got["workers"], num(rt["total_workers"]))
		}
		byStatus := rt["tasks_by_status"].(map[string]any)
		waiting := int(byStatus["pending"].(float64) + byStatus["reserved"].(float64))
		if got["waiting"] != num(float64(waiting)) || waiting != 2 {
			t.Errorf("waiting: board %s, API %d, want 2", got["waiting"], waiting)
		}
		if want := num(rt["longest_task_waiting_age"]) + " s"; got["longest"] != want || want != "12 s" {
			t.Errorf("longest wait: board %q, API %q, want 12 s", got["longest"], want)
		}
		since := boardSince(t, page.body)
		if since != "2025-03-03T00:00:00Z" && time.Local == time.UTC {
			t.Errorf("today starts %s", since)
		}
		cu := s.apiGet("/v1/Workspaces/" + s.ws.SID + "/CumulativeStatistics?StartDate=" + url.QueryEscape(since))
		if got["owner"] != "1" || got["fallback"] != "2" || got["outbound"] != "0" {
			t.Errorf("answered: owner %s, through Everyone %s, outbound %s; want 1, 2, 0", got["owner"], got["fallback"], got["outbound"])
		}
		if num(cu["reservations_accepted"]) != "3" {
			t.Errorf("the API counts %s accepted reservations, want 3", num(cu["reservations_accepted"]))
		}
		if got["abandoned"] != num(cu["tasks_canceled"]) || got["abandoned"] != "1" {
			t.Errorf("abandoned: board %s, API %s, want 1", got["abandoned"], num(cu["tasks_canceled"]))
		}
		avg := num(cu["avg_task_acceptance_time"])
		if !strings.Contains(page.body, `data-seconds="`+avg+`"`) || avg != "4" {
			t.Errorf("average wait: the API says %s s (want 4); board %q", avg, got["avg_wait"])
		}
		// Agents by call state, as the store's live reservations say.
		for state, status := range map[string]string{"ringing": didrouter.ReservationPending, "on_call": didrouter.ReservationAccepted,
			"wrapping": didrouter.ReservationWrapping} {
			list, err := st.ListReservations(s.ctx, s.ws.SID, didrouter.ReservationFilter{Status: status})
			if err != nil {
				t.Fatal(err)
			}
			if got[state] != num(float64(len(list))) {
				t.Errorf("%s: board %s, store %d", state, got[state], len(list))
			}
		}
		if got["ringing"] != "1" || got["on_call"] != "1" {
			t.Errorf("ringing %s, on a call %s; want 1, 1", got["ringing"], got["on_call"])
		}
		if !strings.Contains(page.body, ">Dave</a></td><td>ringing<") || !strings.Contains(page.body, ">Alice</a></td><td>on a call<") {
			t.Errorf("the calls under way are not listed:\n%s", page.body)
		}
		// The fragment is the same board.
		frag := b.get(web.AdminBoard)
		if frag.status != 200 || strings.Contains(frag.body, "<html") {
			t.Fatalf("fragment: %d %s", frag.status, frag.body)
		}
		if fg := counts(t, frag.body); fg["waiting"] != got["waiting"] || fg["owner"] != got["owner"] {
			t.Errorf("fragment %v, page %v", fg, got)
		}
	})
}

func setActivity(t *testing.T, s *site, w didrouter.Worker, name string) {
	t.Helper()
	sid := s.activity(name)
	if _, err := s.eng.UpdateWorker(s.ctx, s.ws.SID, w.SID, engine.WorkerUpdate{ActivitySID: &sid}); err != nil {
		t.Fatal(err)
	}
}

// The console's event stream sends "board" when the workspace changes
// anywhere (here through the API), at most once a second: changes within
// the second are gathered into one event after it.
func TestAdminEvents(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := newSite(t, st, siteOptions{})
		alice := s.worker("Alice", aliceAttrs)
		b := s.admin()
		e := b.eventsAt(web.AdminEvents)
		if e.status != 200 {
			t.Fatalf("events: %d", e.status)
		}
		waitFor := func(what string) {
			t.Helper()
			e.next("board", 3*time.Second, nil)
		}
		// The stream is subscribed once it has written its first lines;
		// give it a moment, then change something.
		time.Sleep(100 * time.Millisecond)
		for _, act := range []string{"Available", "Unavailable"} {
			if status, out := s.apiPost("/v1/Workspaces/"+s.ws.SID+"/Workers/"+alice.SID,
				url.Values{"ActivitySid": {s.activity(act)}}); status != 200 {
				t.Fatalf("API update: %d %v", status, out)
			}
		}
		waitFor("the first change")
		// The second change waits for the second to pass.
		select {
		case ev := <-e.ch:
			t.Fatalf("a second event within the second: %+v", ev)
		case <-time.After(300 * time.Millisecond):
		}
		s.clock.Advance(time.Second)
		waitFor("the gathered change")
		// The board now shows the API's change.
		if got := counts(t, b.get(web.AdminBoard).body); got["activity:Unavailable"] != "1" {
			t.Errorf("board after the change: %v", got)
		}
		// Signed out elsewhere: the stream says so at the next change.
		if a := b.form(web.AdminSignOut, nil); a.status != http.StatusSeeOther {
			t.Fatalf("sign out: %d", a.status)
		}
		s.clock.Advance(time.Second)
		if status, _ := s.apiPost("/v1/Workspaces/"+s.ws.SID+"/Workers/"+alice.SID,
			url.Values{"ActivitySid": {s.activity("Offline")}}); status != 200 {
			t.Fatal("API update failed")
		}
		e.next("signedout", 3*time.Second, nil)
		if !e.closed(3 * time.Second) {
			t.Error("the stream stayed open after the sign-out")
		}
	})
}

// The console is off without the admin API's credentials, and says how to
// turn it on.
func TestAdminConsolePagesOff(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := newSite(t, st, siteOptions{noAdmin: true})
		s.worker("Alice", aliceAttrs)
		b := s.browser()
		for _, p := range consolePages {
			a := b.get(p)
			if a.status != http.StatusServiceUnavailable || !strings.Contains(a.body, "DIDROUTER_API_KEY") || strings.Contains(a.body, "Alice") {
				t.Errorf("GET %s: %d %s", p, a.status, a.body)
			}
		}
	})
}
