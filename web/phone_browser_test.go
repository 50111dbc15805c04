package web_test

import (
	"context"
	_ "embed"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/web"
	"github.com/didrouter/didrouter/webhooks"
)

// sdkDouble stands in for Twilio's Voice SDK (see its comment).
//
//go:embed testdata/twilio-double.js
var sdkDouble []byte

// phoneTab is a tab whose page gets the Voice SDK double instead of the
// real SDK: the browser's requests for the SDK's file are answered with
// the double, so the page's own code runs unchanged.
func phoneTab(t *testing.T) (ctx context.Context) {
	t.Helper()
	ctx = tab(t)
	if err := chromedp.Listen(ctx, func(ev any) {
		e, ok := ev.(*fetch.EventRequestPaused)
		if !ok {
			return
		}
		go func() {
			_, _ = chromedp.Call(ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{RequestID: e.RequestID, ResponseCode: 200,
				ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "text/javascript; charset=utf-8"}},
				Body:            sdkDouble})
		}()
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
		{URLPattern: "*" + web.AgentAssets + "vendor/twilio.min.js"}}}); err != nil {
		t.Fatalf("intercept the SDK: %v", err)
	}
	return ctx
}

// signInTab opens identity's sign-in link in ctx and waits for the phone
// to be ready.
func signInTab(t *testing.T, s *site, ctx context.Context, identity string) {
	t.Helper()
	within(t, ctx, 10*time.Second, "open the sign-in link", chromedp.Navigate(s.link(identity)),
		chromedp.WaitVisible(chromedp.CSS("#signin")))
	clickLoads(t, ctx, "sign in", "#signin")
	waitJS(t, ctx, 5*time.Second, "the phone is ready", `document.body.dataset.phone === "ready" &&
		document.getElementById("phone-status").textContent === "Ready: calls to your number ring in this browser."`)
	waitJS(t, ctx, 5*time.Second, "the event stream connects", `document.getElementById("connection").textContent === ""`)
}

func click(t *testing.T, ctx context.Context, what, sel string) {
	t.Helper()
	within(t, ctx, 5*time.Second, what, chromedp.Click(chromedp.CSS(sel)))
}

// doubleLog is what the page asked of the Voice SDK double.
func doubleLog(t *testing.T, ctx context.Context) []string {
	t.Helper()
	out, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.twilioDouble.log`))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// eval runs a script in the page (the test playing Twilio's side).
func eval(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := chromedp.Run(c, chromedp.Evaluate[any](expr)); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func hasLog(entry string) string {
	return fmt.Sprintf(`window.twilioDouble.log.includes(%q)`, entry)
}

func callSID(n int) string { return fmt.Sprintf("CA%032x", n) }

// The whole call through the browser phone: the token the SDK registers
// with, a signed incoming webhook for the agent's number ringing the page
// within 2 s, the agent accepting through the SDK and the call's webhooks
// completing it, mute, hang up, an outgoing call with the agent's number
// as caller ID, "Call back", and the agent going Offline.
func TestBrowserPhoneCall(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := phoneSite(t, st, siteOptions{})
		alice := s.worker("Alice", aliceAttrs)
		ctx := phoneTab(t)
		signInTab(t, s, ctx, "alice")

		// The SDK got didrouter's token for her identity.
		tokens, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.twilioDouble.tokens`))
		if err != nil || len(tokens) != 1 {
			t.Fatalf("tokens %v, %v", tokens, err)
		}
		if grants, _ := voiceClaims(t, tokens[0])["grants"].(map[string]any); grants["identity"] != "alice" {
			t.Errorf("the SDK registered as %v", grants["identity"])
		}

		click(t, ctx, "press Available", `#activities button.available`)
		waitJS(t, ctx, 2*time.Second, "Available pressed", pressed("Available"))
		waitStore(t, s, alice.SID, "Available")
		if out := s.apiGet("/v1/Workspaces/" + s.ws.SID + "/Workers/" + alice.SID); out["activity_name"] != "Available" {
			t.Fatalf("the API shows %v", out["activity_name"])
		}

		// A caller dials her number: Twilio asks didrouter, which rings her browser.
		caller := inboundCall{sid: callSID(1), from: "+12125550100", to: "+15127640580"}
		r := s.incoming(caller)
		if r.identity != "alice" {
			t.Fatalf("rang %q, want client alice", r.identity)
		}
		waitJS(t, ctx, 2*time.Second, "the ringing call from didrouter's push",
			`document.getElementById("call-state").textContent === "Ringing: (212) 555-0100 called your number"`)
		// Twilio rings the browser (the SDK double plays Twilio's part).
		eval(t, ctx, "ring the SDK", `twilioDouble.ring({From: "+12125550100", To: "client:alice", CallSid: "`+callSID(101)+`"})`)
		waitJS(t, ctx, 2*time.Second, "the incoming panel",
			`!document.getElementById("phone-incoming").hidden &&
			 document.getElementById("incoming-text").textContent === "Incoming call: (212) 555-0100 called your number"`)
		screenshot(t, ctx, "agent-desktop.png")

		click(t, ctx, "accept", "#accept")
		waitJS(t, ctx, 2*time.Second, "the SDK accepted", hasLog("accept"))
		waitJS(t, ctx, 2*time.Second, "the call panel", `!document.getElementById("phone-call").hidden &&
			document.getElementById("phone-incoming").hidden &&
			document.getElementById("call-with").textContent === "On a call with (212) 555-0100"`)
		// Twilio fetches the answer URL on her leg: didrouter marks the call taken.
		s.pickUp(r)
		waitJS(t, ctx, 2*time.Second, "on the call, from didrouter's push",
			`document.getElementById("call-state").textContent === "On a call with (212) 555-0100 (your number)"`)
		waitJS(t, ctx, 3*time.Second, "the call timer runs", `document.getElementById("call-timer").textContent !== "0:00"`)

		click(t, ctx, "mute", "#mute")
		waitJS(t, ctx, 2*time.Second, "muted", `twilioDouble.current().isMuted() &&
			document.getElementById("mute").getAttribute("aria-pressed") === "true"`)
		click(t, ctx, "unmute", "#mute")
		waitJS(t, ctx, 2*time.Second, "unmuted", `!twilioDouble.current().isMuted() &&
			document.getElementById("mute").getAttribute("aria-pressed") === "false"`)
		click(t, ctx, "dial pad 5 during the call", `#dialpad button[value="5"]`)
		waitJS(t, ctx, 2*time.Second, "the tone went to the call", `twilioDouble.current().digits === "5" &&
			document.getElementById("dial-number").value === ""`)

		click(t, ctx, "hang up", "#hangup")
		waitJS(t, ctx, 2*time.Second, "the SDK hung up", hasLog("disconnect"))
		waitJS(t, ctx, 2*time.Second, "back to idle", `document.getElementById("phone-call").hidden`)
		// Twilio reports the end of her leg: the task is completed.
		if doc := s.dialEnded(r, "completed"); doc.find("Hangup") == nil {
			t.Errorf("after the call the caller hears %+v", doc)
		}
		act, _ := url.Parse(r.action)
		task := s.task(act.Query().Get("task"))
		if task.AssignmentStatus != didrouter.TaskCompleted {
			t.Fatalf("task %s, want completed", task.AssignmentStatus)
		}
		waitJS(t, ctx, 2*time.Second, "the call is over on the page",
			`document.getElementById("call-state").textContent === "No call right now." &&
			 document.querySelector("#recent-calls tbody tr td:nth-child(3)").textContent === "answered"`)

		// She calls a number from the dial pad and the field.
		within(t, ctx, 5*time.Second, "type a number", chromedp.SetValue(chromedp.CSS("#dial-number"), "(212) 555-019"))
		click(t, ctx, "dial pad 9", `#dialpad button[value="9"]`)
		click(t, ctx, "call", "#dial")
		waitJS(t, ctx, 2*time.Second, "the SDK placed the call", hasLog(`connect {"To":"(212) 555-0199"}`))
		waitJS(t, ctx, 2*time.Second, "the outgoing call panel",
			`document.getElementById("call-with").textContent === "On a call with (212) 555-0199"`)
		// Twilio asks the TwiML App's URL what to do: dial it from her number.
		out := s.twilio(webhooks.PathPrefix+"/outbound", url.Values{"AccountSid": {"AC00000000000000000000000000000000"},
			"CallSid": {callSID(102)}, "From": {"client:alice"}, "To": {"(212) 555-0199"}, "Direction": {"inbound"},
			"CallStatus": {"ringing"}, "ApplicationSid": {voiceApp}})
		dial, number := out.find("Dial"), out.find("Number")
		if dial == nil || number == nil || dial.attr("callerId") != "+15127640580" || strings.TrimSpace(number.Text) != "+12125550199" {
			t.Fatalf("the outgoing call is dialed as %+v", out)
		}
		eval(t, ctx, "the callee hangs up", `twilioDouble.hangUp()`)
		waitJS(t, ctx, 2*time.Second, "idle after the outgoing call", `document.getElementById("phone-call").hidden`)

		// Call back the first caller from recent calls. The outgoing call's
		// row comes with a pushed state and moves the older rows down, so
		// wait for it before clicking, or the click can land on the wrong row.
		waitJS(t, ctx, 2*time.Second, "the outgoing call in recent calls",
			`[...document.querySelectorAll("#recent-calls tbody tr td:nth-child(2)")].some((td) => td.textContent === "To (212) 555-0199")`)
		click(t, ctx, "call back", `#recent-calls button.call-back[data-number="+12125550100"]`)
		waitJS(t, ctx, 2*time.Second, "the call back was placed", hasLog(`connect {"To":"+12125550100"}`))
		eval(t, ctx, "end the call back", `twilioDouble.hangUp()`)

		// The token nears its end: the page fetches a new one for the SDK.
		eval(t, ctx, "the token will expire", `twilioDouble.expireSoon()`)
		waitJS(t, ctx, 2*time.Second, "a new token", hasLog("updateToken")+` && twilioDouble.tokens.length === 2`)

		// End of the shift.
		within(t, ctx, 5*time.Second, "press Offline", chromedp.Click(chromedp.CSS(`#activities button:not(.available)[value="`+s.activity("Offline")+`"]`)))
		waitJS(t, ctx, 2*time.Second, "Offline pressed", pressed("Offline"))
		waitStore(t, s, alice.SID, "Offline")
	})
}

// A declined call and two that rang out move the agent to Unavailable;
// the page shows it and says why.
func TestBrowserPhoneMissedCalls(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := phoneSite(t, st, siteOptions{missed: 3})
		alice := s.worker("Alice", aliceAttrs)
		ctx := phoneTab(t)
		signInTab(t, s, ctx, "alice")
		click(t, ctx, "press Available", `#activities button.available`)
		waitStore(t, s, alice.SID, "Available")

		for i, how := range []string{"decline", "no-answer", "no-answer"} {
			caller := inboundCall{sid: callSID(10 + i), from: fmt.Sprintf("+1212555010%d", i), to: "+15127640580"}
			r := s.incoming(caller)
			eval(t, ctx, "ring the SDK", fmt.Sprintf(`twilioDouble.ring({From: %q, To: "client:alice", CallSid: %q})`, caller.from, callSID(110+i)))
			waitJS(t, ctx, 2*time.Second, "the incoming panel", `!document.getElementById("phone-incoming").hidden`)
			status := "no-answer"
			if how == "decline" {
				click(t, ctx, "decline", "#decline")
				waitJS(t, ctx, 2*time.Second, "the SDK declined", hasLog("reject"))
				status = "busy" // what Twilio reports for a declined client leg
			} else {
				eval(t, ctx, "the ring times out", `twilioDouble.cancel()`)
			}
			waitJS(t, ctx, 2*time.Second, "the panel clears", `document.getElementById("phone-incoming").hidden`)
			s.dialEnded(r, status)
			s.hangUp(caller) // the caller gives up: not the agent's miss
		}
		waitStore(t, s, alice.SID, "Unavailable")
		waitJS(t, ctx, 2*time.Second, "Unavailable on the page", pressed("Unavailable"))
		waitJS(t, ctx, 2*time.Second, "the reason on the page",
			`document.getElementById("notice").textContent === "You were set to Unavailable after 3 missed or declined calls in a row."`)
	})
}

// A closed desktop moves the agent to Offline after the away time; the
// next page says why.
func TestBrowserPhoneAway(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := phoneSite(t, st, siteOptions{away: 3 * time.Second})
		alice := s.worker("Alice", aliceAttrs)
		ctx := phoneTab(t)
		signInTab(t, s, ctx, "alice")
		click(t, ctx, "press Available", `#activities button.available`)
		waitStore(t, s, alice.SID, "Available")

		// The laptop closes: the page and its event stream are gone.
		within(t, ctx, 10*time.Second, "leave the page", chromedp.Navigate("about:blank"))
		// The away time passes on the server's clock (a second at a time,
		// until the server has noticed the page is gone and the time is up).
		deadline := time.Now().Add(10 * time.Second)
		for s.getWorker(alice.SID).ActivityName != "Offline" {
			if time.Now().After(deadline) {
				t.Fatalf("still %s after the away time", s.getWorker(alice.SID).ActivityName)
			}
			s.clock.Advance(time.Second)
			time.Sleep(50 * time.Millisecond)
		}
		within(t, ctx, 10*time.Second, "open the desktop again", chromedp.Navigate(s.url+web.AgentPath),
			chromedp.WaitVisible(chromedp.CSS("#agent-name")))
		waitJS(t, ctx, 2*time.Second, "Offline pressed", pressed("Offline"))
		waitJS(t, ctx, 2*time.Second, "the reason on the page",
			`document.getElementById("notice").textContent === "You were set to Offline: no agent page was open for 3 seconds."`)
	})
}

// An admin sets an agent's status in the console; the agent's open page
// shows it within 2 s.
func TestBrowserAdminChangeReachesAgent(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := phoneSite(t, st, siteOptions{})
		alice := s.worker("Alice", aliceAttrs)
		agent := phoneTab(t)
		signInTab(t, s, agent, "alice")
		waitJS(t, agent, 2*time.Second, "Offline at first", pressed("Offline"))

		admin := tab(t)
		within(t, admin, 10*time.Second, "open the console", chromedp.Navigate(s.url+web.AdminPath),
			chromedp.WaitVisible(chromedp.CSS("#secret")))
		within(t, admin, 10*time.Second, "fill in the form",
			chromedp.SetValue(chromedp.CSS("#key"), apiKey), chromedp.SetValue(chromedp.CSS("#secret"), apiSecret))
		clickLoads(t, admin, "sign in", "#signin")
		within(t, admin, 10*time.Second, "the agents page", chromedp.Navigate(s.url+web.AdminAgents),
			chromedp.WaitVisible(chromedp.CSS("#act-"+alice.SID)),
			chromedp.SetValue(chromedp.CSS("#act-"+alice.SID), s.activity("Unavailable")))
		clickLoads(t, admin, "set Alice's status", `form[action="/admin/agents/`+alice.SID+`/activity"] button`)
		waitJS(t, agent, 2*time.Second, "the admin's change on the agent's page", pressed("Unavailable"))
		waitStore(t, s, alice.SID, "Unavailable")
	})
}

// A voicemail for the agent's number and a call-back request reach the
// agent's page as messages (not as ringing calls): the voicemail plays
// through didrouter and Done completes it; Call back takes the request and
// dials the caller.
func TestBrowserMessages(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := phoneSite(t, st, siteOptions{})
		alice := s.worker("Alice", aliceAttrs)
		ctx := phoneTab(t)
		signInTab(t, s, ctx, "alice")
		click(t, ctx, "press Available", `#activities button.available`)
		waitStore(t, s, alice.SID, "Available")

		vm, err := s.eng.CreateTask(s.ctx, engine.TaskInsert{WorkspaceSID: s.ws.SID, WorkflowSID: s.ws.DefaultWorkflowSID,
			Attributes: `{"type":"voicemail","direction":"inbound","name":"+12125550100","phone_number":"+15127640580",` +
				`"recording_sid":"RE0123456789abcdef0123456789abcdef","recording_duration":42,"mailbox":"owner","owner_worker_sid":"` + alice.SID + `"}`,
			TaskChannel: didrouter.MessageChannel, CallSID: "RE0123456789abcdef0123456789abcdef"})
		if err != nil {
			t.Fatal(err)
		}
		if vm.Reservation == nil || vm.Reservation.WorkerSID != alice.SID {
			t.Fatalf("the voicemail went to %+v, want its owner", vm.Reservation)
		}
		waitJS(t, ctx, 2*time.Second, "the voicemail on the page", `!document.getElementById("messages").hidden &&
			document.querySelector("#message-list .message-text").textContent === "Voicemail from (212) 555-0100 to your number (0:42)" &&
			document.querySelector("#message-list audio").getAttribute("src") === "`+web.AgentVoicemail+"/"+vm.Task.SID+`/recording"`)
		if got := text(t, ctx, "#call-state"); got != "No call right now." {
			t.Errorf("a voicemail shows as a call: %q", got)
		}
		// The offered message takes no room from calls: a caller of her
		// number rings her page while the voicemail stays in the list.
		caller := inboundCall{sid: callSID(301), from: "+12125550111", to: "+15127640580"}
		if r := s.incoming(caller); r.identity != "alice" {
			t.Fatalf("with a voicemail offered the call rang %q, want client alice", r.identity)
		}
		waitJS(t, ctx, 2*time.Second, "the ringing call next to the voicemail",
			`document.getElementById("call-state").textContent === "Ringing: (212) 555-0111 called your number" &&
			 !document.getElementById("messages").hidden && document.querySelectorAll("#message-list .message-text").length === 1`)
		s.hangUp(caller)
		waitJS(t, ctx, 2*time.Second, "the call is over", `document.getElementById("call-state").textContent === "No call right now."`)
		click(t, ctx, "done", "#message-list button.message-done")
		waitJS(t, ctx, 2*time.Second, "the message leaves the list", `document.getElementById("messages").hidden`)
		if got := s.task(vm.Task.SID).AssignmentStatus; got != didrouter.TaskCompleted {
			t.Fatalf("the voicemail task is %s, want completed", got)
		}

		cb, err := s.eng.CreateTask(s.ctx, engine.TaskInsert{WorkspaceSID: s.ws.SID, WorkflowSID: s.ws.DefaultWorkflowSID,
			Attributes:  `{"type":"callback","direction":"inbound","name":"+12125550199","phone_number":"+15127640580"}`,
			TaskChannel: didrouter.MessageChannel})
		if err != nil || cb.Reservation == nil {
			t.Fatalf("call-back request: %+v %v", cb.Reservation, err)
		}
		waitJS(t, ctx, 2*time.Second, "the request on the page",
			`document.querySelector("#message-list .message-text")?.textContent === "(212) 555-0199 asked to be called back"`)
		click(t, ctx, "call back", "#message-list button.call-back")
		waitJS(t, ctx, 2*time.Second, "the phone dials the caller", hasLog(`connect {"To":"+12125550199"}`))
		deadline := time.Now().Add(2 * time.Second)
		for {
			r, err := st.GetReservation(s.ctx, s.ws.SID, cb.Reservation.SID)
			if err == nil && r.Status == didrouter.ReservationAccepted {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the request's reservation is %s (%v), want accepted", r.Status, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// Nobody acts on another agent's message, nor on a call through the
// message actions.
func TestMessageActionsOwnOnly(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := phoneSite(t, st, siteOptions{})
		alice := s.worker("Alice", aliceAttrs)
		s.worker("Bob", `{"phone_number":"(512) 764-0581","contact_uri":"client:bob"}`)
		available := s.activity("Available")
		if _, err := s.eng.UpdateWorker(s.ctx, s.ws.SID, alice.SID, engine.WorkerUpdate{ActivitySID: &available}); err != nil {
			t.Fatal(err)
		}
		vm, err := s.eng.CreateTask(s.ctx, engine.TaskInsert{WorkspaceSID: s.ws.SID, WorkflowSID: s.ws.DefaultWorkflowSID,
			Attributes:  `{"type":"voicemail","name":"+12125550100","phone_number":"+15127640580","recording_sid":"RE0123456789abcdef0123456789abcdee"}`,
			TaskChannel: didrouter.MessageChannel, CallSID: "RE0123456789abcdef0123456789abcdee"})
		if err != nil || vm.Reservation == nil || vm.Reservation.WorkerSID != alice.SID {
			t.Fatalf("voicemail: %+v %v", vm.Reservation, err)
		}
		bob := s.browser()
		bob.signIn("bob")
		for _, path := range []string{web.AgentMessages + "/" + vm.Task.SID + "/done", web.AgentMessages + "/WTnot-a-sid/done"} {
			if a := bob.do(http.MethodPost, path, url.Values{"csrf": {bob.csrf}}, map[string]string{"Origin": s.url}); a.status != http.StatusNotFound {
				t.Errorf("bob on %s: %d %s", path, a.status, a.body)
			}
		}
		if got := s.task(vm.Task.SID).AssignmentStatus; got != didrouter.TaskReserved {
			t.Errorf("alice's voicemail is %s after bob's tries", got)
		}
		alicePage := s.browser()
		alicePage.signIn("alice")
		if a := alicePage.do(http.MethodPost, web.AgentMessages+"/"+vm.Task.SID+"/done", url.Values{}, map[string]string{"Origin": s.url}); a.status != http.StatusForbidden {
			t.Errorf("without CSRF: %d", a.status)
		}
		if a := alicePage.do(http.MethodPost, web.AgentMessages+"/"+vm.Task.SID+"/done", url.Values{"csrf": {alicePage.csrf}}, map[string]string{"Origin": s.url}); a.status != http.StatusNoContent {
			t.Errorf("alice: %d %s", a.status, a.body)
		}
		if got := s.task(vm.Task.SID).AssignmentStatus; got != didrouter.TaskCompleted {
			t.Errorf("alice's voicemail is %s, want completed", got)
		}
	})
}
