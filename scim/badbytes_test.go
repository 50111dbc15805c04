package scim_test

import (
	"strings"
	"testing"
)

// A NUL character anywhere in a SCIM body is refused with a 400 naming the
// attribute, on both stores alike, and nothing is written (on Postgres a
// userName with one answered 500, while SQLite stored it).
func TestNULRefused(t *testing.T) {
	stores(t, func(t *testing.T, w *world) {
		for where, body := range map[string]string{
			"userName":           `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a\u0000@example.com","active":true}`,
			"displayName":        `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"b@example.com","displayName":"B\u0000"}`,
			"emails[0].value":    `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"c@example.com","emails":[{"value":"c\u0000@example.com"}]}`,
			"the attribute name": `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"d@example.com","x\u0000":1}`,
		} {
			a := w.do("POST", "/Users", body)
			if a.status != 400 || !strings.Contains(a.raw, where) || !strings.Contains(a.raw, "NUL") {
				t.Errorf("NUL in %s: %d %s, want 400 naming it", where, a.status, a.raw)
			}
		}
		if a := w.want(w.do("GET", "/Users", nil), 200); a.body["totalResults"] != 0.0 {
			t.Errorf("refused bodies created users: %s", a.raw)
		}
	})
}
