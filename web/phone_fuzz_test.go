package web

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode"
)

// Any attributes give an identity Twilio can ring or a refusal, never a
// panic; an identity read back through its own contact_uri is the same.
func FuzzClientIdentity(f *testing.F) {
	for _, s := range []string{
		`{"contact_uri":"client:alice"}`, `{"contact_uri":"CLIENT: bob "}`, `{"contact_uri":"client:"}`,
		`{"contact_uri":"+15125550101"}`, `{"contact_uri":42}`, `{}`, `not json`, `{"contact_uri":"client:a\u0000b"}`,
		`{"contact_uri":"client:\xff"}`, `{"contact_uri":"clien"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, attrs string) {
		id, err := clientIdentity(attrs)
		if err != nil {
			if id != "" {
				t.Fatalf("an error and an identity %q", id)
			}
			return
		}
		if id == "" || strings.IndexFunc(id, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
			t.Fatalf("identity %q from %q", id, attrs)
		}
		b, _ := json.Marshal(map[string]string{"contact_uri": "client:" + id})
		if again, err := clientIdentity(string(b)); err != nil || again != id {
			t.Fatalf("identity %q reads back as %q, %v", id, again, err)
		}
	})
}
