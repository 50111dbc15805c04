package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/web"
)

// fakeRecordings is Twilio's Recordings endpoint: it serves one recording
// to the right credentials and counts the requests.
func fakeRecordings(t *testing.T, recordingSID string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		user, pass, ok := r.BasicAuth()
		if !ok || user != "AC00000000000000000000000000000001" || pass != "auth-token" {
			http.Error(w, `{"code":20003,"message":"Authenticate"}`, http.StatusUnauthorized)
			return
		}
		if r.URL.Path != "/2010-04-01/Accounts/AC00000000000000000000000000000001/Recordings/"+recordingSID+".mp3" {
			http.Error(w, `{"code":20404}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "audio/mpeg")
		_, _ = w.Write([]byte("ID3 the message"))
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// An agent lists their messages and plays them through didrouter, which
// fetches the recording with the account's credentials; another agent can
// neither list nor play it, and a visitor without a session gets nothing.
func TestVoicemailPlayback(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		recSID := fmt.Sprintf("RE%032x", 7)
		twilio, hits := fakeRecordings(t, recSID)
		s := newSite(t, st, siteOptions{recordings: &web.RecordingSource{BaseURL: twilio.URL,
			AccountSID: "AC00000000000000000000000000000001", Username: "AC00000000000000000000000000000001", Password: "auth-token"}})
		alice := s.worker("alice", `{"phone_number":"+15125550101","contact_uri":"client:alice"}`)
		s.worker("bob", `{"phone_number":"+15125550102","contact_uri":"client:bob"}`)
		attrs := fmt.Sprintf(`{"type":"voicemail","name":"+17375550100","phone_number":"+15125550101","owner_worker_sid":%q,
			"mailbox":"owner","recording_sid":%q,"recording_duration":12}`, alice.SID, recSID)
		res, err := s.eng.CreateTask(s.ctx, engine.TaskInsert{WorkspaceSID: s.ws.SID, Attributes: attrs, CallSID: recSID})
		if err != nil {
			t.Fatal(err)
		}
		shared := fmt.Sprintf(`{"type":"voicemail","name":"+17375550101","phone_number":"+15125550199","mailbox":"shared","recording_sid":"RE%032x","recording_duration":3}`, 8)
		if _, err := s.eng.CreateTask(s.ctx, engine.TaskInsert{WorkspaceSID: s.ws.SID, Attributes: shared, CallSID: fmt.Sprintf("RE%032x", 8)}); err != nil {
			t.Fatal(err)
		}

		a := s.browser()
		a.signIn("alice")
		list := a.get(web.AgentVoicemail)
		var got struct {
			Voicemail []map[string]any `json:"voicemail"`
		}
		if list.status != http.StatusOK || json.Unmarshal([]byte(list.body), &got) != nil || len(got.Voicemail) != 1 {
			t.Fatalf("alice's list: %d %s", list.status, list.body)
		}
		vm := got.Voicemail[0]
		play := web.AgentVoicemail + "/" + res.Task.SID + "/recording"
		if vm["task_sid"] != res.Task.SID || vm["recording_url"] != play || vm["caller"] != "+17375550100" {
			t.Errorf("alice's message %v", vm)
		}
		audio := a.get(play)
		if audio.status != http.StatusOK || audio.body != "ID3 the message" || audio.header.Get("Content-Type") != "audio/mpeg" ||
			!strings.Contains(audio.header.Get("Cache-Control"), "no-store") {
			t.Fatalf("alice plays her message: %d %q %v", audio.status, audio.body, audio.header)
		}

		b := s.browser()
		b.signIn("bob")
		if list := b.get(web.AgentVoicemail); list.status != http.StatusOK || strings.Contains(list.body, res.Task.SID) {
			t.Fatalf("bob's list shows alice's message: %d %s", list.status, list.body)
		}
		before := hits.Load()
		if got := b.get(play); got.status != http.StatusNotFound {
			t.Fatalf("bob plays alice's message: %d %q", got.status, got.body)
		}
		if got := s.browser().get(play); got.status != http.StatusUnauthorized {
			t.Fatalf("without a session: %d", got.status)
		}
		if got := a.get(web.AgentVoicemail + "/WTnotatask/recording"); got.status != http.StatusNotFound {
			t.Fatalf("a bad sid: %d", got.status)
		}
		if hits.Load() != before {
			t.Errorf("Twilio was asked for a recording the asker may not play")
		}
	})
}
