package web_test

import (
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/web"
)

var taskRowRE = regexp.MustCompile(`<tr data-task="(WT[0-9a-f]+)">`)

// The calls page lists calls newest first, a page at a time, with what
// became of each; a call's page has its events and the explanation of
// `didrouter explain` (the engine's Explain: routing.Explain on the live
// index).
func TestAdminCalls(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := newSite(t, st, siteOptions{})
		alice := s.worker("Alice", `{"phone_number":"`+aliceDID+`","contact_uri":"client:alice"}`)
		s.worker("Bob", `{"phone_number":"`+bobDID+`"}`)
		setActivity(t, s, alice, "Available")
		owner := s.call("CA01", "+12125550100", aliceDID)
		s.clock.Advance(3 * time.Second)
		s.answer(owner)
		s.clock.Advance(time.Second)
		through := s.call("CA02", "+12125550101", bobDID)
		s.clock.Advance(time.Second)
		s.answer(through)
		s.clock.Advance(time.Second)
		setActivity(t, s, alice, "Offline")
		gone := s.call("CA03", "+12125550102", aliceDID)
		s.clock.Advance(time.Second)
		if _, err := s.eng.CancelTask(s.ctx, s.ws.SID, gone.Task.SID, "hangup"); err != nil {
			t.Fatal(err)
		}
		s.clock.Advance(time.Second)
		waiting := s.call("CA04", "+12125550103", bobDID)

		b := s.admin()
		page := b.get(web.AdminCalls)
		if page.status != 200 {
			t.Fatalf("calls: %d %s", page.status, page.body)
		}
		var order []string
		for _, m := range taskRowRE.FindAllStringSubmatch(page.body, -1) {
			order = append(order, m[1])
		}
		if want := []string{waiting.Task.SID, gone.Task.SID, through.Task.SID, owner.Task.SID}; fmt.Sprint(order) != fmt.Sprint(want) {
			t.Errorf("order %v, want newest first %v", order, want)
		}
		body := html.UnescapeString(page.body)
		for _, want := range []string{"answered by Alice (the number’s owner)", "answered by Alice through Everyone",
			"abandoned: the caller hung up", "waiting for an agent", "(212) 555-0100", "(512) 764-0580 <span class=\"hint\">(Alice)"} {
			if !strings.Contains(strings.ReplaceAll(body, "'", "’"), want) {
				t.Errorf("the list lacks %q:\n%s", want, body)
			}
		}

		call := b.get(web.AdminCalls + "/" + through.Task.SID)
		if call.status != 200 {
			t.Fatalf("call: %d %s", call.status, call.body)
		}
		cb := html.UnescapeString(call.body)
		for _, want := range []string{"task.created", "workflow.target-matched", "reservation.accepted", "task.completed", "<dd>1 s</dd>"} {
			if !strings.Contains(cb, want) {
				t.Errorf("the call's page lacks %q", want)
			}
		}
		x, err := s.eng.Explain(s.ctx, s.task(through.Task.SID), alice.SID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(cb, "<strong>"+x.Outcome+".</strong>") || !strings.Contains(cb, "<pre>"+x.Text()+"</pre>") {
			t.Errorf("the explanation is not the engine's:\n%s\nwant:\n%s", cb, x.Text())
		}
		if a := b.get(web.AdminCalls + "/WT00000000000000000000000000000000"); a.status != http.StatusNotFound {
			t.Errorf("an unknown call: %d", a.status)
		}

		// Paging: 25 a page, then "Older calls".
		for i := range 23 {
			s.call(fmt.Sprintf("CB%02d", i), "+12125550199", bobDID)
		}
		first := b.get(web.AdminCalls)
		if n := len(taskRowRE.FindAllString(first.body, -1)); n != 25 {
			t.Errorf("first page: %d calls", n)
		}
		next := regexp.MustCompile(`href="(/admin/calls\?after=[^"]+)" id="next-page"`).FindStringSubmatch(first.body)
		if next == nil {
			t.Fatal("no next page")
		}
		second := b.get(html.UnescapeString(next[1]))
		if rows := taskRowRE.FindAllStringSubmatch(second.body, -1); len(rows) != 2 || rows[1][1] != owner.Task.SID {
			t.Errorf("second page: %v", rows)
		}
	})
}

func (s *site) task(sid string) didrouter.Task {
	s.t.Helper()
	t, err := s.store.GetTask(s.ctx, s.ws.SID, sid)
	if err != nil {
		s.t.Fatal(err)
	}
	return t
}
