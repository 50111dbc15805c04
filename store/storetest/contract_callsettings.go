package storetest

import (
	"testing"
	"time"

	"github.com/didrouter/didrouter"
)

func (c *contract) callSettings(t *testing.T, f *fixture) {
	cs, ok := f.s.(didrouter.CallSettingsStore)
	if !ok {
		t.Fatalf("%T does not implement didrouter.CallSettingsStore", f.s)
	}
	_, err := cs.GetCallSettings(f.ctx, f.ws.SID, "")
	wantCode(t, err, didrouter.ENOTFOUND)
	ws := didrouter.CallSettings{WorkspaceSID: f.ws.SID, Hours: `{"time_zone":"UTC"}`, VoicemailAfter: "90s", DateUpdated: f.now}
	num := didrouter.CallSettings{WorkspaceSID: f.ws.SID, PhoneNumber: "+15127640580", Hours: "always", DateUpdated: f.now}
	noErr(t, cs.PutCallSettings(f.ctx, ws))
	noErr(t, cs.PutCallSettings(f.ctx, num))
	got, err := cs.GetCallSettings(f.ctx, f.ws.SID, "")
	noErr(t, err)
	ws.DateUpdated = utc(ws.DateUpdated)
	equal(t, "workspace settings", got, ws)

	// Put replaces the row.
	num.VoicemailAfter, num.DateUpdated = "off", f.at(time.Minute)
	noErr(t, cs.PutCallSettings(f.ctx, num))
	got, err = cs.GetCallSettings(f.ctx, f.ws.SID, num.PhoneNumber)
	noErr(t, err)
	num.DateUpdated = utc(num.DateUpdated)
	equal(t, "number settings", got, num)

	all, err := cs.ListCallSettings(f.ctx, f.ws.SID)
	noErr(t, err)
	equal(t, "list", all, []didrouter.CallSettings{ws, num})

	// Another workspace's number is not this workspace's.
	_, err = cs.GetCallSettings(f.ctx, "WS00000000000000000000000000000000", num.PhoneNumber)
	wantCode(t, err, didrouter.ENOTFOUND)

	noErr(t, cs.DeleteCallSettings(f.ctx, f.ws.SID, num.PhoneNumber))
	wantCode(t, cs.DeleteCallSettings(f.ctx, f.ws.SID, num.PhoneNumber), didrouter.ENOTFOUND)
	_, err = cs.GetCallSettings(f.ctx, f.ws.SID, num.PhoneNumber)
	wantCode(t, err, didrouter.ENOTFOUND)

	// Settings of a workspace that does not exist are refused.
	wantCode(t, cs.PutCallSettings(f.ctx, didrouter.CallSettings{WorkspaceSID: "WS00000000000000000000000000000000", DateUpdated: f.now}), didrouter.ENOTFOUND)
}

// callbackRequests: CallbackRequests finds a caller's live call-back
// requests by number. It finds a request inserted as one, and an ordinary
// call that UpdateTask turned into one. It stops finding it when it is
// over or is no longer a call-back request.
func (c *contract) callbackRequests(t *testing.T, f *fixture) {
	cs, ok := f.s.(didrouter.CallSettingsStore)
	if !ok {
		t.Fatalf("%T does not implement didrouter.CallSettingsStore", f.s)
	}
	const caller, other = "+12125550123", "+12125550199"
	cb := func(number string) string {
		return `{"type":"callback","name":"` + number + `","callback_number":"` + number + `"}`
	}
	find := func(number string) []string {
		t.Helper()
		got, err := cs.CallbackRequests(f.ctx, f.ws.SID, number)
		noErr(t, err)
		sids := []string{}
		for _, task := range got {
			sids = append(sids, task.SID)
		}
		return sids
	}
	inserted := f.newTask("CAinserted")
	inserted.Attributes = cb(caller)
	inserted = f.insertTask(inserted)
	call := f.newTask("CAbecomes") // the caller's ordinary call, newer
	call.Attributes, call.DateCreated = `{"type":"inbound","name":"`+caller+`"}`, f.at(time.Second)
	call = f.insertTask(call)
	plain := f.task("CAplain")
	plain.Attributes = `{"type":"inbound","name":"` + caller + `","callback_number":"` + caller + `"}`
	var err error
	f.mustTx(func(tx didrouter.Tx) error { plain, err = tx.UpdateTask(f.ctx, plain); return err })
	otherReq := f.newTask("CAother")
	otherReq.Attributes = cb(other)
	f.insertTask(otherReq)
	equal(t, "requests before the call becomes one", find(caller), []string{inserted.SID})

	call.Attributes = cb(caller)
	f.mustTx(func(tx didrouter.Tx) error { call, err = tx.UpdateTask(f.ctx, call); return err })
	equal(t, "requests, oldest first", find(caller), []string{inserted.SID, call.SID})
	equal(t, "another caller's", find(other), []string{otherReq.SID})
	equal(t, "an empty number", find(""), []string{})
	got, err := cs.CallbackRequests(f.ctx, "WS00000000000000000000000000000000", caller)
	noErr(t, err)
	equal(t, "another workspace's", len(got), 0)

	// A reserved request is live; a canceled one and a task that is no
	// longer a request are not.
	inserted.AssignmentStatus = didrouter.TaskReserved
	f.mustTx(func(tx didrouter.Tx) error { inserted, err = tx.UpdateTask(f.ctx, inserted); return err })
	call.AssignmentStatus, call.Reason = didrouter.TaskCanceled, "caller called again"
	f.mustTx(func(tx didrouter.Tx) error { call, err = tx.UpdateTask(f.ctx, call); return err })
	equal(t, "live requests", find(caller), []string{inserted.SID})
	inserted.Attributes = `{"type":"inbound","name":"` + caller + `"}`
	f.mustTx(func(tx didrouter.Tx) error { inserted, err = tx.UpdateTask(f.ctx, inserted); return err })
	equal(t, "after the request became a call again", find(caller), []string{})
}
