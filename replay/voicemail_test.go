package replay_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/replay"
	"github.com/didrouter/didrouter/webhooks"
)

// Scripted messages and call-back requests, checked against the tasks the
// server made: a caller for nobody leaves a message (one voicemail task), a
// caller who hangs up at the tone leaves none, a waiting caller presses 1
// and leaves a message, another presses 2 and has one call-back task.
func TestReplayVoicemailAndCallbacks(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		srv := serverWith(t, st, nil, func(c *webhooks.Config) {
			c.CallSettings = st.(didrouter.CallSettingsStore)
			c.VoicemailAfter = time.Second
		})
		script, err := replay.ReadScript(strings.NewReader(`
{"worker":"alice","did":"+15125550101","available":false}
{"worker":"bob","did":"+15125550102","available":true}
{"offset_ms":0,"from":"+13125550100","to":"+15125550102","outcome":"answered","after_s":0,"talk_s":5}
{"offset_ms":300,"from":"+13125550101","to":"+15125550101","outcome":"hangup","after_s":8,"press":"1","message_s":1}
{"offset_ms":400,"from":"+13125550102","to":"+15125550101","outcome":"hangup","after_s":8,"press":"2"}
`))
		if err != nil {
			t.Fatal(err)
		}
		cfg := config(srv)
		cfg.Speed = 1 // the server's voicemail delay is real time
		rep, err := replay.Run(context.Background(), cfg, script)
		if err != nil {
			t.Fatal(err)
		}
		var text bytes.Buffer
		_ = rep.WriteText(&text)
		if !rep.OK {
			t.Fatalf("replay failed:\n%s", text.String())
		}
		var found bool
		for _, c := range rep.Checks {
			if strings.HasPrefix(c.Name, "one voicemail task per message") {
				found = true
				if !c.Passed || c.Checked < 2 {
					t.Errorf("voicemail check %+v\n%s", c, text.String())
				}
			}
		}
		if !found {
			t.Fatalf("no voicemail check in the report:\n%s", text.String())
		}
	})
}
