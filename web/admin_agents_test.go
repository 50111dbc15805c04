package web_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/web"
)

// An admin adds, finds, edits, re-statuses and deletes an agent, through
// the engine: the number is stored as E.164 and shown as people write it;
// attributes the form does not show are kept.
func TestAdminAgentLifecycle(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := newSite(t, st, siteOptions{})
		b := s.admin()
		a := b.form(web.AdminAgents, url.Values{"friendly_name": {"Alice"}, "phone_number": {"(512) 764-0580"},
			"contact_uri": {"client:alice"}, "email": {"alice@example.com"}, "activity": {s.activity("Available")}})
		if a.status != http.StatusSeeOther {
			t.Fatalf("create: %d %s", a.status, a.body)
		}
		alice := s.workerNamed("Alice")
		if alice.PhoneNumber != aliceDID || alice.ActivityName != "Available" || !strings.Contains(alice.Attributes, `"contact_uri":"client:alice"`) {
			t.Fatalf("created %+v", alice)
		}
		if page := b.get(a.header.Get("Location")); page.status != 200 || !strings.Contains(page.body, "Alice was added.") {
			t.Errorf("after create: %d %s", page.status, page.body)
		}
		s.worker("Bob", `{"phone_number":"`+bobDID+`","skills":["es"]}`)

		list := html.UnescapeString(b.get(web.AdminAgents).body)
		for _, want := range []string{"(512) 764-0580", aliceDID, "client:alice", "alice@example.com", ">Bob<"} {
			if !strings.Contains(list, want) {
				t.Errorf("the list lacks %q", want)
			}
		}
		// Search by name (any case, any part) and by the number's digits.
		for q, want := range map[string]string{"ali": "Alice", "BOB": "Bob", "764-0581": "Bob", "(512) 764-0580": "Alice"} {
			page := b.get(web.AdminAgents + "?q=" + url.QueryEscape(q))
			rows := regexp.MustCompile(`<tr data-worker=`).FindAllString(page.body, -1)
			if len(rows) != 1 || !strings.Contains(page.body, ">"+want+"</a>") {
				t.Errorf("search %q: %d rows, want %s", q, len(rows), want)
			}
		}
		if page := b.get(web.AdminAgents + "?q=nobody"); !strings.Contains(page.body, "No agent matches") {
			t.Error("a search without a match says nothing")
		}

		// Edit Bob: a new number; his skills stay.
		bob := s.workerNamed("Bob")
		edit := b.get(web.AdminAgents + "/" + bob.SID)
		if edit.status != 200 || !strings.Contains(edit.body, html.EscapeString(`{"skills":["es"]}`)) {
			t.Fatalf("edit page: %d %s", edit.status, edit.body)
		}
		a = b.form(web.AdminAgents+"/"+bob.SID, url.Values{"friendly_name": {"Bob B."}, "phone_number": {"512-764-0599"},
			"contact_uri": {"client:bob"}, "email": {""}, "activity": {bob.ActivitySID}})
		if a.status != http.StatusSeeOther {
			t.Fatalf("update: %d %s", a.status, a.body)
		}
		bob = s.getWorker(bob.SID)
		if bob.FriendlyName != "Bob B." || bob.PhoneNumber != "+15127640599" || !strings.Contains(bob.Attributes, `"skills":["es"]`) {
			t.Errorf("updated %+v", bob)
		}

		// The list's status control.
		a = b.form(web.AdminAgents+"/"+bob.SID+"/activity", url.Values{"activity": {s.activity("Unavailable")}, "q": {"bob"}})
		if a.status != http.StatusSeeOther || !strings.HasPrefix(a.header.Get("Location"), web.AdminAgents+"?q=bob&") {
			t.Fatalf("activity: %d %s", a.status, a.header.Get("Location"))
		}
		if page := b.get(a.header.Get("Location")); !strings.Contains(page.body, "Bob B. is now Unavailable.") {
			t.Errorf("after the activity change: %s", page.body)
		}
		if a := b.form(web.AdminAgents+"/"+bob.SID+"/activity", url.Values{"activity": {"WAnope"}}); a.status != http.StatusBadRequest ||
			!strings.Contains(a.body, `id="agents-error"`) {
			t.Errorf("an unknown activity: %d %s", a.status, a.body)
		}

		// Delete needs the box ticked.
		if a := b.form(web.AdminAgents+"/"+bob.SID+"/delete", nil); a.status != http.StatusBadRequest || !strings.Contains(a.body, "Tick") {
			t.Errorf("delete without confirmation: %d", a.status)
		}
		if s.workerNamed("Bob B.").SID == "" {
			t.Fatal("deleted without confirmation")
		}
		if a := b.form(web.AdminAgents+"/"+bob.SID+"/delete", url.Values{"confirm": {"yes"}}); a.status != http.StatusSeeOther {
			t.Fatalf("delete: %d %s", a.status, a.body)
		}
		if s.workerNamed("Bob B.").SID != "" {
			t.Error("Bob is still there")
		}
		if a := b.get(web.AdminAgents + "/" + bob.SID); a.status != http.StatusNotFound {
			t.Errorf("a deleted agent's page: %d", a.status)
		}
		// Bad input gets the engine's message, not a 500.
		if a := b.form(web.AdminAgents, url.Values{"friendly_name": {"Eve"}, "phone_number": {"555-2671"}}); a.status != http.StatusBadRequest ||
			!strings.Contains(a.body, "is not a valid phone number") || !strings.Contains(a.body, `value="555-2671"`) {
			t.Errorf("a bad number: %d %s", a.status, a.body)
		}
		if a := b.form(web.AdminAgents, url.Values{"friendly_name": {"  "}}); a.status != http.StatusBadRequest {
			t.Errorf("no name: %d", a.status)
		}
	})
}

// A number another agent has is refused with the API's rule, as a message
// that names the owner and links to them (409, not a 500); nothing changes.
func TestAdminDIDConflict(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := newSite(t, st, siteOptions{})
		bob := s.worker("Bob", `{"phone_number":"`+bobDID+`"}`)
		alice := s.worker("Alice", `{"phone_number":"`+aliceDID+`"}`)
		b := s.admin()
		check := func(what string, a answer) {
			t.Helper()
			if a.status != http.StatusConflict {
				t.Fatalf("%s: %d %s", what, a.status, a.body)
			}
			for _, want := range []string{"(512) 764-0581 already belongs to Bob.", `href="/admin/agents/` + bob.SID + `"`, "Open Bob"} {
				if !strings.Contains(a.body, want) {
					t.Errorf("%s: the message lacks %q:\n%s", what, want, a.body)
				}
			}
		}
		check("create", b.form(web.AdminAgents, url.Values{"friendly_name": {"Carol"}, "phone_number": {"(512) 764-0581"}}))
		if s.workerNamed("Carol").SID != "" {
			t.Error("Carol was created with Bob's number")
		}
		check("update", b.form(web.AdminAgents+"/"+alice.SID, url.Values{"friendly_name": {"Alice"}, "phone_number": {"+1 512 764 0581"}}))
		if got := s.getWorker(alice.SID).PhoneNumber; got != aliceDID {
			t.Errorf("Alice's number is %s", got)
		}
	})
}

var linkRE = regexp.MustCompile(`id="signin-link" type="text" readonly value="([^"]+)"`)

// An agent's sign-in link is minted for their client: identity and signs
// them in; without DIDROUTER_AGENT_TOKEN_SECRET the console says links are
// off; an agent without a client: contact gets a reason.
func TestAdminSignInLink(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := newSite(t, st, siteOptions{})
		alice := s.worker("Alice", aliceAttrs)
		sip := s.worker("Sam", `{"contact_uri":"sip:sam@example.com"}`)
		b := s.admin()
		if page := b.get(web.AdminAgents); !strings.Contains(page.body, "/admin/agents/"+alice.SID+"/link") || strings.Contains(page.body, `id="links-off"`) {
			t.Errorf("the list has no link button for Alice")
		}
		a := b.form(web.AdminAgents+"/"+alice.SID+"/link", nil)
		m := linkRE.FindStringSubmatch(a.body)
		if a.status != 200 || m == nil {
			t.Fatalf("link: %d %s", a.status, a.body)
		}
		link := html.UnescapeString(m[1])
		if !strings.HasPrefix(link, s.url+web.SignInPath+"?t=") {
			t.Fatalf("link %q", link)
		}
		agent := s.browser()
		if page := agent.get(link); page.status != 200 || !strings.Contains(page.body, "Sign in as Alice") {
			t.Fatalf("the link: %d %s", page.status, page.body)
		}
		u, _ := url.Parse(link)
		if a := agent.post(web.SignInPath, url.Values{"t": {u.Query().Get("t")}}); a.status != http.StatusSeeOther {
			t.Fatalf("sign in with the link: %d %s", a.status, a.body)
		}
		if a := b.form(web.AdminAgents+"/"+sip.SID+"/link", nil); a.status != http.StatusBadRequest || !strings.Contains(a.body, "has no softphone identity") {
			t.Errorf("a SIP agent: %d %s", a.status, a.body)
		}

		off := newSite(t, storeLike(t, st), siteOptions{noLinks: true})
		carol := off.worker("Carol", `{"contact_uri":"client:carol"}`)
		ob := off.admin()
		if page := ob.get(web.AdminAgents); !strings.Contains(page.body, "Sign-in links are off") {
			t.Errorf("the list does not say links are off")
		}
		if a := ob.form(web.AdminAgents+"/"+carol.SID+"/link", nil); a.status != http.StatusServiceUnavailable ||
			!strings.Contains(a.body, "Sign-in links are off") || linkRE.MatchString(a.body) {
			t.Errorf("links off: %d %s", a.status, a.body)
		}
	})
}

// Text Postgres cannot store (NUL, invalid UTF-8) in a console form is
// refused with the same 400 on both stores, naming the field, and nothing
// is written (issue 16, finding 5: it answered 500 on Postgres while SQLite
// stored it).
func TestAdminFormBadBytes(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := newSite(t, st, siteOptions{})
		b := s.admin()
		s.worker("Bob", `{"phone_number":"`+bobDID+`"}`)
		bob := s.workerNamed("Bob")
		for kind, bad := range map[string]string{"NUL": "\x00", "UTF-8": "\xff"} {
			for _, tc := range []struct {
				path string
				form url.Values
			}{
				{web.AdminAgents, url.Values{"friendly_name": {"Al" + bad}}},
				{web.AdminAgents, url.Values{"friendly_name": {"Al"}, "email": {"a" + bad + "@x.example"}}},
				{web.AdminAgents + "/" + bob.SID, url.Values{"friendly_name": {"Bob" + bad}}},
			} {
				a := b.form(tc.path, tc.form)
				name := "friendly_name"
				if tc.form.Has("email") {
					name = "email"
				}
				if a.status != http.StatusBadRequest || !strings.Contains(a.body, name) {
					t.Errorf("%s %s in %s: %d, want 400 naming the field:\n%.500s", tc.path, kind, name, a.status, a.body)
				}
			}
		}
		if w := s.workerNamed("Al"); w.SID != "" {
			t.Errorf("a refused form created %+v", w)
		}
		if w := s.workerNamed("Bob"); w.FriendlyName != "Bob" {
			t.Errorf("a refused form renamed Bob to %q", w.FriendlyName)
		}
	})
}
