package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
)

func TestCallSettingsAPI(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		s := newServer(t, st)
		base := "/v1/Workspaces/" + s.ws.SID + "/CallSettings"

		// Nothing stored: always open, voicemail at the server's default.
		r := s.get(base)
		if r.status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", base, r.status, r.raw)
		}
		wsJSON := r.body["workspace"].(map[string]any)
		if wsJSON["business_hours"] != nil || wsJSON["open_now"] != true {
			t.Fatalf("default settings: %s", r.raw)
		}

		// The fake clock is Monday 3 March 2025, 09:00 UTC = 04:00 in New York.
		hoursDoc := `{"time_zone":"America/New_York","weekly":{"monday":["09:00-17:00"]}}`
		r = s.post(base, url.Values{"BusinessHours": {hoursDoc}, "VoicemailAfter": {"2m"}})
		if r.status != http.StatusOK || r.body["open_now"] != false || r.body["voicemail_after"] != "2m" {
			t.Fatalf("POST workspace settings: %d %s", r.status, r.raw)
		}
		s.clock.Advance(6 * time.Hour) // 10:00 in New York
		if r = s.get(base); r.body["workspace"].(map[string]any)["open_now"] != true {
			t.Fatalf("open at 10:00 New York: %s", r.raw)
		}

		// A number's override, written in national format, stored in E.164;
		// a parameter not sent keeps its value.
		r = s.post(base+"/(512)%20764-0580", url.Values{"BusinessHours": {"always"}})
		if r.status != http.StatusOK || r.body["phone_number"] != "+15127640580" || r.body["voicemail_after"] != nil {
			t.Fatalf("POST number settings: %d %s", r.status, r.raw)
		}
		r = s.post(base+"/+15127640580", url.Values{"VoicemailAfter": {"off"}})
		if r.status != http.StatusOK || r.body["business_hours"] != "always" || r.body["voicemail_after"] != "off" {
			t.Fatalf("POST number settings again: %d %s", r.status, r.raw)
		}
		r = s.get(base)
		if nums := r.body["phone_numbers"].([]any); len(nums) != 1 {
			t.Fatalf("list: %s", r.raw)
		}

		// Clear 400s, nothing written.
		for _, c := range []struct {
			path string
			form url.Values
			want string
		}{
			{base, url.Values{"BusinessHours": {`{"time_zone":"Mars/Base"}`}}, "unknown time_zone"},
			{base, url.Values{"BusinessHours": {`{"time_zone":"UTC","weekly":{"monday":["9-5"]}}`}}, "not a time of day"},
			{base, url.Values{"VoicemailAfter": {"soon"}}, "between 1s and 24h"},
			{base, url.Values{"VoicemailAfter": {"-5s"}}, "between 1s and 24h"},
			{base + "/not-a-number", url.Values{"VoicemailAfter": {"1m"}}, "is not a phone number"},
		} {
			r := s.post(c.path, c.form)
			if r.status != http.StatusBadRequest || !strings.Contains(r.raw, c.want) {
				t.Errorf("POST %s %v: %d %s, want 400 with %q", c.path, c.form, r.status, r.raw, c.want)
			}
		}
		if r = s.get(base); r.body["workspace"].(map[string]any)["voicemail_after"] != "2m" {
			t.Fatalf("a refused update changed the settings: %s", r.raw)
		}

		if r = s.request(http.MethodDelete, base+"/+15127640580", nil, true); r.status != http.StatusNoContent {
			t.Fatalf("DELETE: %d %s", r.status, r.raw)
		}
		if r = s.get(base + "/+15127640580"); r.status != http.StatusNotFound {
			t.Fatalf("GET after DELETE: %d %s", r.status, r.raw)
		}
		if r = s.request(http.MethodGet, base, nil, false); r.status != http.StatusUnauthorized {
			t.Fatalf("without credentials: %d", r.status)
		}
	})
}
