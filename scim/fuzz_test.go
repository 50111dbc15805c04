package scim

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
)

// FuzzPatch feeds arbitrary PATCH bodies and filters through the code
// that reads them: it must answer with an error or a document, never
// panic, and a document it produces must read as a person or as a
// clear 400.
func FuzzPatch(f *testing.F) {
	for _, s := range []string{
		`{"Operations":[{"op":"replace","value":{"active":false}}]}`,
		`{"Operations":[{"op":"Replace","path":"phoneNumbers[type eq \"work\"].value","value":"+1 512 555 0100"}]}`,
		`{"Operations":[{"op":"Add","path":"emails[type eq \"work\"].value","value":"a@b.c"}]}`,
		`{"Operations":[{"op":"Remove","path":"members","value":[{"value":"WK1"}]}]}`,
		`{"Operations":[{"op":"remove","path":"members[value eq \"WK1\"]"}]}`,
		`{"Operations":[{"op":"add","path":"name.givenName","value":"x"}]}`,
		`{"Operations":[{"op":"add","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"x"}}}]}`,
		`{"Operations":[{"op":"replace","path":"urn:ietf:params:scim:schemas:core:2.0:User:userName","value":"z@y.x"}]}`,
		`{"Operations":[{"op":"replace","path":"phoneNumbers[type eq \"work\" and primary eq true]","value":{"value":"1"}}]}`,
		`{"Operations":[{"op":"replace","value":{"emails[type eq \"work\"].value":"q@w.e"}}]}`,
	} {
		f.Add(s, `userName eq "alice@example.com"`)
	}
	f.Add(`{}`, `emails[type eq "work" and value co "@"] or not (active eq false)`)
	f.Add(`{"Operations":[]}`, `meta.created gt "2020" and phoneNumbers.value pr`)
	f.Fuzz(func(t *testing.T, body, flt string) {
		h := &Handler{base: "https://x/scim/v2"}
		w := didrouter.Worker{SID: "WK0", FriendlyName: "alice@example.com", PhoneNumber: "+15127640580",
			Attributes:  `{"email":"alice@example.com","phone_number":"+15127640580","groups":["a"]}`,
			DateCreated: time.Unix(0, 0), DateUpdated: time.Unix(0, 0)}
		doc := h.userDoc(w)
		if e, err := parseFilter(flt); err == nil {
			_ = matches(e, doc, SchemaUser)
			_ = matches(withEmailAlias(e), doc, SchemaUser)
		} else if !strings.Contains(err.Error(), "filter") {
			t.Fatalf("a filter error that does not say so: %v", err)
		}
		var req map[string]any
		dec := json.NewDecoder(strings.NewReader(body))
		dec.UseNumber()
		if dec.Decode(&req) != nil || req == nil {
			return
		}
		ops, err := readPatch(req)
		if err != nil {
			return
		}
		if err := applyPatch(doc, ops, SchemaUser); err != nil {
			if _, ok := err.(*badRequest); !ok {
				t.Fatalf("not a 400: %v", err)
			}
			return
		}
		if _, err := json.Marshal(doc); err != nil {
			t.Fatalf("patched document does not encode: %v", err)
		}
		if _, err := personOf(doc, false); err != nil {
			if _, ok := err.(*badRequest); !ok {
				t.Fatalf("not a 400: %v", err)
			}
		}
		gdoc := h.groupDoc("a", []didrouter.Worker{w})
		if err := applyPatch(gdoc, ops, SchemaGroup); err == nil {
			_, _, _ = groupOf(gdoc)
		}
	})
}

func TestGroupIDRoundTrip(t *testing.T) {
	for _, n := range []string{"spanish", "Sales EMEA", "ünïcode/?&", "a b"} {
		got, ok := groupName(groupID(n))
		if !ok || got != n {
			t.Fatalf("%q -> %q -> %q %v", n, groupID(n), got, ok)
		}
	}
	for _, bad := range []string{"", "G-", "G-!!", "WK123", "G-IA"} {
		if _, ok := groupName(bad); ok {
			t.Fatalf("%q decoded as a group", bad)
		}
	}
}
