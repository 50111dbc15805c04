package degraded_test

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/didrouter/didrouter"
)

// A caller who asked to be called back hangs up while the store is down.
// The replay of that hang-up leaves the call-back request waiting, while
// the same hang-up of an ordinary waiting call cancels it.
func TestReplayedHangUpKeepsACallbackRequest(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		w := newWorld(t, t.Context(), st)
		cb := callTask("CAcallback", "+15125550100")
		attrs, _ := json.Marshal(map[string]string{"phone_number": "+15125550100", "type": didrouter.TaskTypeCallback,
			"name": "+12125550123", "callback_number": "+12125550123", "call_sid": "CAcallback"})
		cb.Attributes, cb.WorkspaceSID = string(attrs), w.ws.SID
		req, err := w.eng.CreateTask(w.ctx, cb)
		if err != nil {
			t.Fatal(err)
		}
		pt := callTask("CAplain", "+15125550100")
		pt.WorkspaceSID = w.ws.SID
		plain, err := w.eng.CreateTask(w.ctx, pt)
		if err != nil {
			t.Fatal(err)
		}
		sw := &outageSwitch{}
		mode, j := w.startMode(t, filepath.Join(t.TempDir(), "journal.jsonl"), sw, nil)
		sw.set(true)
		waitFor(t, "degraded mode active", mode.Active)
		for _, sid := range []string{"CAcallback", "CAplain"} {
			if err := mode.EndCall(w.ctx, w.ws.SID, sid, "caller hung up"); err != nil {
				t.Fatal(err)
			}
		}
		sw.set(false)
		waitFor(t, "the journal to be replayed", func() bool { return j.Len() == 0 })
		if got, err := st.GetTask(w.ctx, w.ws.SID, plain.Task.SID); err != nil || got.AssignmentStatus != didrouter.TaskCanceled {
			t.Fatalf("the ordinary call is %s (%v), want canceled: the replay did not run", got.AssignmentStatus, err)
		}
		got, err := st.GetTask(w.ctx, w.ws.SID, req.Task.SID)
		if err != nil {
			t.Fatal(err)
		}
		if got.AssignmentStatus != didrouter.TaskPending || didrouter.TaskType(got) != didrouter.TaskTypeCallback {
			t.Fatalf("the call-back request is %s (%s, reason %q), want still pending", got.AssignmentStatus, didrouter.TaskType(got), got.Reason)
		}
	})
}
