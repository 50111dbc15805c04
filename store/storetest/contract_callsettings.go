package storetest

import (
	"testing"
	"time"

	"github.com/didrouter/didrouter/engine"
)

func (c *contract) callSettings(t *testing.T, f *fixture) {
	cs, ok := f.s.(engine.CallSettingsStore)
	if !ok {
		t.Fatalf("%T does not implement engine.CallSettingsStore", f.s)
	}
	_, err := cs.GetCallSettings(f.ctx, f.ws.SID, "")
	wantCode(t, err, engine.ENOTFOUND)
	ws := engine.CallSettings{WorkspaceSID: f.ws.SID, Hours: `{"time_zone":"UTC"}`, VoicemailAfter: "90s", DateUpdated: f.now}
	num := engine.CallSettings{WorkspaceSID: f.ws.SID, PhoneNumber: "+15127640580", Hours: "always", DateUpdated: f.now}
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
	equal(t, "list", all, []engine.CallSettings{ws, num})

	// Another workspace's number is not this workspace's.
	_, err = cs.GetCallSettings(f.ctx, "WS00000000000000000000000000000000", num.PhoneNumber)
	wantCode(t, err, engine.ENOTFOUND)

	noErr(t, cs.DeleteCallSettings(f.ctx, f.ws.SID, num.PhoneNumber))
	wantCode(t, cs.DeleteCallSettings(f.ctx, f.ws.SID, num.PhoneNumber), engine.ENOTFOUND)
	_, err = cs.GetCallSettings(f.ctx, f.ws.SID, num.PhoneNumber)
	wantCode(t, err, engine.ENOTFOUND)

	// Settings of a workspace that does not exist are refused.
	wantCode(t, cs.PutCallSettings(f.ctx, engine.CallSettings{WorkspaceSID: "WS00000000000000000000000000000000", DateUpdated: f.now}), engine.ENOTFOUND)
}
