package routing

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

var fuzzExprSeeds = []string{
	"1==1",
	"task.phone_number CONTAINS worker.phone_number",
	"(skills HAS 'support') AND (languages HAS 'english')",
	"customer_value == 'Gold' AND type == 'ticket'",
	"(language == \"en\" OR language == \"fr\") AND skill_rating >= 5.1",
	"language IN [\"en\", \"es\"]",
	"worker.sid NOT IN task.workerSidsInConversation",
	"object.array[2] == 'c' || x != -1.5 && y = true",
	"workers.available == 0",
	"a == 'it\\'s'",
	"((a == 1))",
	"a IN []",
}

func fuzzDocs() []Attributes {
	return []Attributes{
		nil,
		{"a": 1.0, "x": -1.5, "y": true, "type": "ticket", "customer_value": "Gold", "language": "fr", "skill_rating": 6.0,
			"skills": []any{"support"}, "languages": []any{"english"}, "object": map[string]any{"array": []any{"a", "b", "c"}},
			"phone_number": "+15127640580", "workerSidsInConversation": []any{"WK1"}, "sid": "WK2",
			"workers": map[string]any{"available": 0.0}},
		{"a": "1", "skills": "support", "phone_number": "5127640580", "task": map[string]any{"a": 1.0}},
	}
}

// FuzzCompile: Compile never panics, errors carry a column inside the
// source, and the canonical form round-trips and evaluates the same.
func FuzzCompile(f *testing.F) {
	for _, s := range fuzzExprSeeds {
		for sc := ScopeTask; sc <= ScopeSkip; sc++ {
			f.Add(s, uint8(sc))
		}
	}
	docs := fuzzDocs()
	f.Fuzz(func(t *testing.T, src string, sc uint8) {
		scope := Scope(sc % 4)
		e, err := Compile(src, scope)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a *SyntaxError", err)
			}
			if se.Col < 1 || se.Col > utf8.RuneCountInString(src)+1 {
				t.Fatalf("column %d outside %q", se.Col, src)
			}
			if se.Msg == "" || !strings.HasPrefix(err.Error(), fmt.Sprintf("column %d: ", se.Col)) {
				t.Fatalf("bad error text %q", err.Error())
			}
			return
		}
		if e.String() != src {
			t.Fatalf("String() = %q, want %q", e.String(), src)
		}
		canon := e.Canonical()
		e2, err := Compile(canon, scope)
		if err != nil {
			if len(canon) > MaxExpressionLength || strings.Contains(err.Error(), "nested more than") {
				return // the canonical form adds parentheses and quotes
			}
			t.Fatalf("canonical form %q of %q does not compile: %v", canon, src, err)
		}
		if c2 := e2.Canonical(); c2 != canon {
			t.Fatalf("canonical form is not stable: %q -> %q", canon, c2)
		}
		for _, task := range docs {
			for _, worker := range docs {
				if e.Eval(task, worker) != e2.Eval(task, worker) {
					t.Fatalf("%q and its canonical form %q disagree", src, canon)
				}
			}
		}
	})
}

// FuzzIndexExact: for any expression, task and workers, the index answers
// exactly what evaluating every worker answers.
func FuzzIndexExact(f *testing.F) {
	f.Add("task.phone_number CONTAINS worker.phone_number", `{"phone_number":"+15127640580"}`,
		`[{"phone_number":"+15127640580"},{"phone_number":"5127640580"},{"phone_number":""},{},{"phone_number":15127640580}]`)
	f.Add("worker.id == task.agent OR task.langs HAS worker.lang", `{"agent":"a","langs":["en",1,true]}`,
		`[{"id":"a"},{"lang":"en"},{"lang":1},{"lang":true},{"lang":["en"]}]`)
	f.Add("task.lang IN worker.langs AND worker.level > 2", `{"lang":"fr"}`, `[{"langs":["fr","fr"],"level":3},{"langs":"fr"},{"langs":[["fr"]]}]`)
	f.Add("worker.sid IN task.agents", `{"agents":["W0","W2"]}`, `[{},{},{}]`)
	f.Fuzz(func(t *testing.T, src, taskJSON, workersJSON string) {
		e, err := Compile(src, ScopeTarget)
		if err != nil {
			return
		}
		task, err := ParseAttributes([]byte(taskJSON))
		if err != nil {
			return
		}
		var raws []json.RawMessage
		if json.Unmarshal([]byte(workersJSON), &raws) != nil || len(raws) > 64 {
			return
		}
		ix := NewIndex()
		loaded := NewIndex() // the same workers, loaded as the engine loads them
		var p AttributeParser
		var prepared []PreparedWorker
		ref := map[string]WorkerInfo{}
		for i, raw := range raws {
			a, err := ParseAttributes(raw)
			if err != nil {
				return
			}
			w := WorkerInfo{SID: fmt.Sprintf("W%d", i), FriendlyName: fmt.Sprintf("n%d", i%2), Attributes: a, Available: i%3 != 1, Capacity: 1, Busy: i % 4 / 3}
			ix.UpsertWorker(w)
			ref[w.SID] = w
			pw, err := p.Prepare(w, raw)
			if err != nil {
				t.Fatalf("Prepare(%s): %v", raw, err)
			}
			prepared = append(prepared, pw)
		}
		queue := MustCompile("1==1", ScopeWorker)
		ix.SetQueue("Q", queue)
		loaded.BeginLoad()
		loaded.SetQueue("Q", queue)
		loaded.UpsertPrepared(prepared[:len(prepared)/2])
		loaded.UpsertPrepared(prepared[len(prepared)/2:])
		loaded.EndLoad()
		tg := &Target{Queue: "Q", Expr: e}
		check := func() {
			for _, ix := range []*Index{ix, loaded} {
				got := sids(ix.Eligible(tg, task, nil, 0))
				want := bruteForce(ref, queue, tg, task, true, nil, 0)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("Eligible(%q) = %v, want %v", src, got, want)
				}
				got = sids(ix.Matches(tg, task))
				want = bruteForce(ref, queue, tg, task, false, nil, 0)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("Matches(%q) = %v, want %v", src, got, want)
				}
				for _, w := range ix.Workers() {
					if !reflect.DeepEqual(w.Attributes, ref[w.SID].Attributes) {
						t.Fatalf("worker %s: attributes %v, want %v", w.SID, w.Attributes, ref[w.SID].Attributes)
					}
				}
			}
		}
		check()
		// Re-index after updates: each worker takes the next one's attributes.
		for i := range raws {
			sid := fmt.Sprintf("W%d", i)
			w := ref[sid]
			w.Attributes = ref[fmt.Sprintf("W%d", (i+1)%len(raws))].Attributes
			w.Version++
			ix.UpsertWorker(w)
			loaded.UpsertWorker(w)
			ref[sid] = w
		}
		check()
	})
}

// FuzzNormalize: Normalize never panics, rejects with ErrNotANumber, and
// its answers are E.164 and stable.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"+1 (512) 764-0580", "512-764-0580", "5127640580", "15127640580", "+15127640580",
		"client:alice", "sip:bob@example.com", "anonymous", "", "555-2671", "+442071838750", "1-800-FLOWERS", "+266696687", "512.764.0580 ext 5"} {
		f.Add(s)
	}
	n, err := NewNormalizer("US")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		num, err := n.Normalize(raw)
		if err != nil {
			if !errors.Is(err, ErrNotANumber) {
				t.Fatalf("error %v does not wrap ErrNotANumber", err)
			}
			return
		}
		if !isE164(num.E164) || num.Raw != raw {
			t.Fatalf("Normalize(%q) = %+v", raw, num)
		}
		again, err := n.Normalize(num.E164)
		if err != nil || again.E164 != num.E164 {
			t.Fatalf("Normalize(%q) = %+v, %v; not stable", num.E164, again, err)
		}
	})
}

// FuzzParseWorkflow: never panics; what it accepts is well formed.
func FuzzParseWorkflow(f *testing.F) {
	f.Add(didConfig)
	f.Add(`{"task_routing":{"filters":[{"expression":"type=='lead'","targets":[{"queue":"Q","priority":"10","timeout":"15","order_by":"worker.level DESC","known_worker_sid":"task.a"},{"priority":2}]}],"default_filter":{"queue":"Q"}}}`)
	f.Fuzz(func(t *testing.T, cfg string) {
		w, err := ParseWorkflow([]byte(cfg), nil)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *ConfigError", err)
			}
			return
		}
		if len(w.Filters) == 0 && w.Default == nil {
			t.Fatal("accepted a workflow with nowhere to route")
		}
		for _, f := range w.Filters {
			if f.Expr == nil || len(f.Targets) == 0 {
				t.Fatalf("bad filter %+v", f)
			}
			for _, tg := range f.Targets {
				if tg.Queue == "" || (tg.Timeout != nil && *tg.Timeout <= 0) {
					t.Fatalf("bad target %+v", tg)
				}
			}
		}
		w.Match(Attributes{"type": "lead"})
	})
}

// FuzzParseAttributes: never panics; accepted documents are objects that
// evaluate without trouble.
func FuzzParseAttributes(f *testing.F) {
	f.Add(`{"a":[1,{"b":"c"}],"d":null}`)
	f.Add(`[`)
	e := MustCompile("a HAS 1 OR a.b[0] == 'x' OR d NOT IN a", ScopeTask)
	f.Fuzz(func(t *testing.T, in string) {
		a, err := ParseAttributes([]byte(in))
		if err != nil {
			return
		}
		if a == nil {
			t.Fatal("nil attributes without an error")
		}
		e.Eval(a, a)
	})
}
