package routing

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
)

// parseAttributesJSON is ParseAttributes without the flat fast path: what
// encoding/json alone gives.
func parseAttributesJSON(data []byte) (Attributes, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return Attributes{}, nil
	}
	if len(trimmed) > MaxAttributesBytes {
		return nil, fmt.Errorf("attributes: %d bytes is more than the %d allowed", len(trimmed), MaxAttributesBytes)
	}
	if trimmed[0] != '{' {
		return nil, fmt.Errorf("attributes must be a JSON object, not %s", jsonKindOf(trimmed[0]))
	}
	if err := checkNesting(trimmed, MaxNestingDepth); err != nil {
		return nil, fmt.Errorf("attributes: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(trimmed, &m); err != nil {
		return nil, fmt.Errorf("attributes are not valid JSON: %w", err)
	}
	if m == nil {
		m = map[string]any{}
	}
	return Attributes(m), nil
}

var flatSeeds = []string{
	`{}`, ` { } `, `{"a":"b"}`, `{"contact_uri":"client:rp0000001","phone_number":"+15125550001"}`,
	`{"a":1,"b":-0,"c":1.5e3,"d":true,"e":false,"f":null,"g":""}`, `{"a":1,"a":"x"}`,
	`{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":-}`, `{"a":1e}`, `{"a":1e+}`, `{"a":1e400}`, `{"a":-1E-2}`,
	`{"a":"\u00e9"}`, `{"a":"é"}`, "{\"a\":\"\xff\"}", "{\"\xc3\":1}", `{"a":"x\"y"}`, "{\"a\":\"\t\"}",
	`{"a":tru}`, `{"a":truex}`, `{"a":true,}`, `{,}`, `{"a" "b"}`, `{"a":"b"} x`, `{"a":"b"}}`, `{"a":[1]}`,
	`{"a":{"b":1}}`, `{"a":"b"`, `{"a":`, `{"a"`, `{"`, `{`, `{ "k" : "v" , "l" : 2 }`, "{\n\"a\":\r\n1\t}",
	`{"1":1,"2":2,"3":3,"4":4,"5":5,"6":6,"7":7,"8":8,"9":9,"10":10}`, `null`, ``, `[]`, `"x"`, `{"a":NaN}`,
	`{"a":Infinity}`, `{"a":0x10}`, `{"a":+1}`, `{"a":1}` + "\u00a0",
}

// checkFlat compares ParseAttributes and AttributeParser with encoding/json.
func checkFlat(t *testing.T, p *AttributeParser, in string) {
	t.Helper()
	want, wantErr := parseAttributesJSON([]byte(in))
	for _, parse := range []func([]byte) (Attributes, error){ParseAttributes, p.Parse} {
		got, err := parse([]byte(in))
		if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
			t.Fatalf("%q: error %v, want %v", in, err, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: %#v, want %#v", in, got, want)
		}
	}
	// The index's own form holds the same attributes.
	pw, err := p.Prepare(WorkerInfo{SID: "W"}, []byte(in))
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("%q: Prepare error %v, want %v", in, err, wantErr)
	}
	if err == nil {
		r := &wrec{info: pw.info, list: pw.list}
		if got := r.out().Attributes; !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: prepared %#v, want %#v", in, got, want)
		}
	}
}

func TestParseAttributesFlatAsJSON(t *testing.T) {
	var p AttributeParser
	for _, in := range flatSeeds {
		checkFlat(t, &p, in)
	}
	// Interned keys are shared between documents.
	a, _ := p.Parse([]byte(`{"phone_number":"+15125550001"}`))
	b, _ := p.Parse([]byte(`{"phone_number":"+15125550002"}`))
	if a["phone_number"] == b["phone_number"] {
		t.Fatal("different values read back equal")
	}
	if len(p.keys) == 0 {
		t.Fatal("no key interned")
	}
}

// FuzzParseAttributesFlat: the fast path decodes, and rejects, exactly as
// encoding/json.
func FuzzParseAttributesFlat(f *testing.F) {
	for _, s := range flatSeeds {
		f.Add(s)
	}
	var p AttributeParser
	f.Fuzz(func(t *testing.T, in string) { checkFlat(t, &p, in) })
}

func BenchmarkParseAttributes(b *testing.B) {
	doc := []byte(`{"contact_uri":"client:rp0000001","phone_number":"+15125550001"}`)
	b.Run("flat", func(b *testing.B) {
		var p AttributeParser
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.Parse(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := parseAttributesJSON(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
}
