package web

import (
	"encoding/json"
	"testing"
)

// The agent form's fields merge into any stored attributes: the result is
// a JSON object with the form's values (an empty field removes its
// attribute) and every other attribute unchanged; nothing panics.
func FuzzAgentFormAttributes(f *testing.F) {
	f.Add(`{"phone_number":"+15127640580","skills":["es"],"level":3}`, "(512) 764-0580", "client:alice", "alice@example.com")
	f.Add(`{}`, "", "", "")
	f.Add(``, "+44 20 7946 0958", "sip:a@b", "")
	f.Add(`not json`, "x", "\x00", "\"quoted\"")
	f.Add(`{"email":null,"contact_uri":{"a":1}}`, "", "client:bob", "")
	f.Fuzz(func(t *testing.T, stored, number, contact, email string) {
		form := &agentForm{Number: number, Contact: contact, Email: email}
		out, err := form.attributes(stored)
		if err != nil {
			return // a value JSON cannot hold (invalid UTF-8 is replaced, so none yet)
		}
		var got map[string]json.RawMessage
		if err := json.Unmarshal([]byte(out), &got); err != nil || got == nil {
			t.Fatalf("attributes %q of %q: not a JSON object (%v)", out, stored, err)
		}
		for k, v := range map[string]string{"phone_number": number, "contact_uri": contact, "email": email} {
			raw, ok := got[k]
			if v == "" {
				if ok {
					t.Fatalf("%s is %s, want it removed", k, raw)
				}
				continue
			}
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				t.Fatalf("%s is %s, not a string", k, raw)
			}
		}
		var before map[string]json.RawMessage
		if json.Unmarshal([]byte(stored), &before) == nil {
			for k, v := range before {
				if k == "phone_number" || k == "contact_uri" || k == "email" {
					continue
				}
				if string(got[k]) != string(compact(t, v)) {
					t.Fatalf("%s changed from %s to %s", k, v, got[k])
				}
			}
		}
		// The attributes the form does not show are listed as such.
		if other := otherAttributes(out); other != "" {
			var m map[string]json.RawMessage
			if err := json.Unmarshal([]byte(other), &m); err != nil {
				t.Fatalf("other attributes %q: %v", other, err)
			}
			for _, k := range formFields {
				if _, ok := m[k]; ok {
					t.Fatalf("other attributes %q list %s", other, k)
				}
			}
		}
	})
}

func compact(t *testing.T, raw json.RawMessage) []byte {
	t.Helper()
	b, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
