package api

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/routing"
)

// FuzzCheckText: exactly the text both stores can hold passes.
func FuzzCheckText(f *testing.F) {
	for _, s := range []string{"", "alice", "Zoë 🎧", "a\x00b", "\xff", "\xed\xa0\x80", "\u0000", "\t\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := checkText("FriendlyName", s)
		want := utf8.ValidString(s) && !strings.Contains(s, "\x00")
		if (err == nil) != want {
			t.Fatalf("checkText(%q) = %v, want ok=%v", s, err, want)
		}
		if err != nil && (didrouter.ErrorCode(err) != didrouter.EINVALID || !strings.Contains(err.Error(), "FriendlyName")) {
			t.Fatalf("error %v: want EINVALID naming the parameter", err)
		}
	})
}

// FuzzEnumValues: only known values come back, once each, and anything
// else is a 400 with a message of bounded length.
func FuzzEnumValues(f *testing.F) {
	for _, s := range []string{"", "pending", "pending,reserved", " pending , canceled ,", "finished", ",,,",
		strings.Repeat("pending,", 40), "pending\x00", strings.Repeat("x", 500)} {
		f.Add(s, "assigned")
	}
	known := taskStatuses()
	f.Fuzz(func(t *testing.T, a, b string) {
		got, err := enumValues("AssignmentStatus", []string{a, b}, known)
		if err != nil {
			if didrouter.ErrorCode(err) != didrouter.EINVALID || len(err.Error()) > 400 {
				t.Fatalf("error %q: want a short EINVALID", err)
			}
			return
		}
		if len(got) > len(known) {
			t.Fatalf("%d values from %q %q", len(got), a, b)
		}
		for i, v := range got {
			if !slices.Contains(known, v) || slices.Contains(got[:i], v) {
				t.Fatalf("value %q of %q %q: unknown or repeated", v, a, b)
			}
		}
	})
}

// FuzzNeutralize: an exported cell never starts a formula (plainly data
// aside), and import gives back exactly the stored text.
func FuzzNeutralize(f *testing.F) {
	for _, s := range []string{"", "alice", "=cmd|' /C calc'!A0", "+15127640580", "+1 (512) 764-0580", "-", "+", "'", "''=x",
		"'plain", "@x", "\tx", "\rx", "-5", "'+15127640580"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := neutralize(s)
		if formulaLead(n) && (n != s || !plainData(s)) {
			t.Fatalf("neutralize(%q) = %q starts a formula", s, n)
		}
		if back := unneutralize(n); back != s {
			t.Fatalf("unneutralize(neutralize(%q)) = %q", s, back)
		}
	})
}

// FuzzParseDIDFile: any file is rows or a 400, never a panic, and no row
// carries text a store cannot hold.
func FuzzParseDIDFile(f *testing.F) {
	for _, s := range []string{
		"friendly_name,email,phone_number,contact_uri\nalice,alice@example.com,+15127640580,client:alice\n",
		"name;did\nbob;(512) 555-0101\n",
		"friendly_name\n'=1+2\n=1+2\n",
		"friendly_name\nbob\x00\n",
		"email\n\xff@example.com\n",
		"\ufeffName,E-mail\n\"a\"\"b\",a@b.c\n",
	} {
		f.Add([]byte(s))
	}
	norm, err := routing.NewNormalizer("US")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := parseDIDFile(data, norm)
		if err != nil {
			if didrouter.ErrorCode(err) != didrouter.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			return
		}
		for _, r := range rows {
			if checkText("name", r.FriendlyName) != nil {
				t.Fatalf("row %d: name %q", r.Row, r.FriendlyName)
			}
			for k, v := range r.Attributes {
				if checkText(k, v) != nil {
					t.Fatalf("row %d: %s %q", r.Row, k, v)
				}
			}
		}
	})
}

// FuzzParseOrigin: never a panic; a canonical origin parses to itself.
func FuzzParseOrigin(f *testing.F) {
	for _, s := range []string{"https://admin.example.com", "HTTP://Example.COM:80", "https://x:443/", "null", "", "file:///etc",
		"https://u:p@x.example", "https://x.example/path", "https://[::1]:8443"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseOrigin(s)
		if err != nil {
			return
		}
		again, err := ParseOrigin(c)
		if err != nil || again != c {
			t.Fatalf("ParseOrigin(%q) = %q, which parses to %q, %v", s, c, again, err)
		}
		if !strings.HasPrefix(c, "http://") && !strings.HasPrefix(c, "https://") {
			t.Fatalf("origin %q", c)
		}
	})
}
