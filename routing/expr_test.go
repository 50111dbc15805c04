package routing

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func attrs(t testing.TB, js string) Attributes {
	t.Helper()
	a, err := ParseAttributes([]byte(js))
	if err != nil {
		t.Fatalf("ParseAttributes(%s): %v", js, err)
	}
	return a
}

func TestEvalTaskScope(t *testing.T) {
	task := `{"type":"ticket","customer_value":"Gold","n":5,"f":5.1,"ok":true,"no":false,"nul":null,
		"langs":["en","es",3,true],"object":{"array":["a","b","c"],"attr":"bar"},"phone":"+15127640580","empty":"","zero":0}`
	tests := []struct {
		expr string
		want bool
	}{
		{"1==1", true},
		{"1 == 1", true},
		{"1 = 1", true},
		{"0 != 1", true},
		{"1 != 1", false},
		{`"apple" != "orange"`, true},
		{`'apple' == "apple"`, true},
		{"type == 'ticket'", true},
		{"type == 'Ticket'", false}, // case-sensitive values
		{"task.type == 'ticket'", true},
		{"type = 'ticket' AND customer_value == 'Gold'", true},
		{"type == 'ticket' and customer_value == 'Silver'", false},
		{"type == 'lead' OR customer_value == 'Gold'", true},
		{"type == 'lead' || customer_value == 'Gold'", true},
		{"type == 'ticket' && n > 4", true},
		{"n > 1", true}, {"n >= 5", true}, {"n > 5", false}, {"n < 5.1", true}, {"n <= 5", true},
		{"f >= 5.1", true}, {"n == 5.0", true}, {"zero == 0", true}, {"zero == -0", true},
		{"n == '5'", false}, // no string/number coercion
		{"n != '5'", true},  // different types are different values
		{"type > 'a'", true}, {"type < 'a'", false},
		{"n > 'a'", false},
		{"ok == true", true}, {"ok == TRUE", true}, {"no == false", true}, {"ok != false", true},
		{"ok == 1", false},
		{"nul == nul", false}, {"missing == missing", false}, {"missing != 'x'", false}, {"nul != 1", false},
		{"customer_value IN ['Silver', 'Bronze']", false},
		{"customer_value IN ['Gold', 'Bronze']", true},
		{"customer_value in ['Gold']", true},
		{"customer_value NOT IN ['Silver', 'Bronze']", true},
		{"customer_value not in ['Gold']", false},
		{"customer_value NOT IN missing", true},
		{"missing NOT IN ['a']", false},
		{"customer_value NOT IN 'Gold'", false},
		{"customer_value IN []", false},
		{"customer_value NOT IN []", true},
		{"langs HAS 'en'", true}, {"langs HAS 'fr'", false}, {"langs HAS 3", true}, {"langs HAS '3'", false},
		{"langs HAS true", true},
		{"'en' IN langs", true}, {"'fr' IN langs", false},
		{"langs == 'en'", false}, {"langs != 'en'", false}, // scalar operators on arrays are false
		{"langs IN ['en']", false}, // array operators need a scalar on the other side
		{"type HAS 't'", false},
		{"object.attr == 'bar'", true},
		{"object.array[2] == 'c'", true},
		{"object.array[3] == 'c'", false},
		{"object.array HAS 'b'", true},
		{"object[0] == 'c'", false},
		{"phone CONTAINS '5127640580'", true},
		{"phone contains '+1512'", true},
		{"phone CONTAINS ''", false}, // an empty needle matches nothing
		{"phone CONTAINS '9'", false},
		{"empty CONTAINS ''", false},
		{"n CONTAINS 5", false}, // CONTAINS is for strings
		{"langs CONTAINS 'en'", false},
		{"(type == 'lead' OR type == 'ticket') AND n == 5", true},
		{"type == 'lead' OR type == 'ticket' AND n == 6", false}, // AND binds tighter
		{"type == 'ticket' OR type == 'lead' AND n == 6", true},
		{"((((n == 5))))", true},
		{"n == -5", false}, {"-5 < n", true},
	}
	task_ := attrs(t, task)
	for _, tc := range tests {
		e, err := Compile(tc.expr, ScopeTask)
		if err != nil {
			t.Errorf("Compile(%q): %v", tc.expr, err)
			continue
		}
		if got := e.Eval(task_, nil); got != tc.want {
			t.Errorf("%q = %v, want %v", tc.expr, got, tc.want)
		}
		if e.String() != tc.expr {
			t.Errorf("String() = %q, want %q", e.String(), tc.expr)
		}
	}
}

func TestEvalTargetScope(t *testing.T) {
	task := attrs(t, `{"phone_number":"+15127640580","agent":"alice","langs":["en","fr"],"lang":"fr","agents":["WK1","WK2"]}`)
	alice := &WorkerInfo{SID: "WK1", FriendlyName: "Alice", ActivityName: "Available",
		Attributes: attrs(t, `{"phone_number":"+15127640580","id":"alice","spoken":["fr","de"],"lang":"de","sid":"fake"}`)}
	bob := &WorkerInfo{SID: "WK3", FriendlyName: "Bob", Attributes: attrs(t, `{"phone_number":"5127640581","id":"bob","lang":"fr"}`)}
	tests := []struct {
		expr       string
		alice, bob bool
	}{
		{"task.phone_number CONTAINS worker.phone_number", true, false},
		{"task.agent == worker.id", true, false},
		{"worker.id == task.agent", true, false},
		{"task.lang IN worker.spoken", true, false},
		{"worker.lang IN task.langs", false, true},
		{"worker.spoken HAS task.lang", true, false},
		{"task.langs HAS worker.lang", false, true},
		{"worker.sid IN task.agents", true, false},
		{"worker.sid NOT IN task.agents", false, true},
		{"worker.sid == 'WK1'", true, false}, // the worker's own sid wins over an attribute "sid"
		{"worker.friendly_name == 'Bob'", false, true},
		{"worker.activity_name == 'Available'", true, false},
		{"1==1", true, true},
	}
	for _, tc := range tests {
		e, err := Compile(tc.expr, ScopeTarget)
		if err != nil {
			t.Errorf("Compile(%q): %v", tc.expr, err)
			continue
		}
		if got := e.EvalWorker(task, alice); got != tc.alice {
			t.Errorf("%q for alice = %v, want %v", tc.expr, got, tc.alice)
		}
		if got := e.EvalWorker(task, bob); got != tc.bob {
			t.Errorf("%q for bob = %v, want %v", tc.expr, got, tc.bob)
		}
	}
	// Without WorkerInfo, worker.sid is the attribute.
	if !MustCompile("worker.sid == 'fake'", ScopeTarget).Eval(task, alice.Attributes) {
		t.Error("Eval without WorkerInfo should read the sid attribute")
	}
	var nilExpr *Expr
	if !nilExpr.Eval(nil, nil) || !nilExpr.EvalWorker(nil, nil) {
		t.Error("a nil expression matches everything")
	}
}

func TestScopes(t *testing.T) {
	ok := []struct {
		src   string
		scope Scope
	}{
		{"skills HAS 'support'", ScopeWorker},
		{"worker.skills HAS 'support'", ScopeWorker},
		{"task.type == 'x'", ScopeTask},
		{"workers.available == 0", ScopeSkip},
		{"workers.available == 0 AND task.vip == true", ScopeSkip},
		{"1==1", ScopeSkip},
	}
	for _, tc := range ok {
		if _, err := Compile(tc.src, tc.scope); err != nil {
			t.Errorf("Compile(%q, %v): %v", tc.src, tc.scope, err)
		}
	}
	bad := []struct {
		src   string
		scope Scope
		want  string
	}{
		{"worker.x == 1", ScopeTask, "column 1: worker.x: worker attributes cannot be used here"},
		{"task.x == 1", ScopeWorker, "column 1: task.x: task attributes cannot be used here"},
		{"x == 1", ScopeTarget, "column 1: key x must start with task. or worker. in a target expression"},
		{"1 == 1 AND phone CONTAINS worker.p", ScopeTarget, "column 12: key phone must start with task. or worker."},
		{"available == 0", ScopeSkip, "column 1: key available: skip_if may use"},
	}
	for _, tc := range bad {
		_, err := Compile(tc.src, tc.scope)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Compile(%q, %v) = %v, want %q", tc.src, tc.scope, err, tc.want)
		}
	}
}

func TestSyntaxErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"task.phone_number CONTAINS", "column 27: expected a value after CONTAINS"},
		{"", "column 1: expression is empty"},
		{"   ", "column 1: expression is empty"},
		{"a ==", "column 5: expected a value after =="},
		{"a == 1 AND", "column 11: expected a comparison, found end of expression"},
		{"a", "column 2: expected a comparison operator after a"},
		{"a b", "column 3: expected a comparison operator (==, !=, <, <=, >, >=, CONTAINS, HAS, IN, NOT IN), found key b"},
		{"a == 'x", "column 6: unterminated string"},
		{"my-key == 1", "column 3: unexpected '-': hyphens are not supported in key names"},
		{"a == 1 - 2", "column 8: unexpected '-': hyphens are not supported in expressions"},
		{"(a == 1", "column 1: this ( is never closed"},
		{"a == 1)", "column 7: unexpected \")\" after a complete expression"},
		{"a IN ['x', 'y'", "column 6: this [ is never closed"},
		{"a IN ['x' 'y']", "column 11: expected , or ] in the list, found string 'y'"},
		{"a IN [b]", "column 7: a list may only hold strings, numbers, true or false; found key b"},
		{"a == ['x']", "column 3: a list on the right can only be used with IN or NOT IN"},
		{"['x'] == a", "column 1: a list on the left can only be used with HAS"},
		{"a NOT 'x'", "column 7: expected IN after NOT"},
		{"a == 1 == 2", "column 8: comparisons cannot be chained"},
		{"a ! 1", "column 3: unexpected '!'"},
		{"a == 1 & b == 2", "column 8: unexpected '&': use &&"},
		{"a == 1.", "column 8: expected a digit after the decimal point"},
		{"a == 1x", "column 6: malformed number \"1x\""},
		{"a. == 1", "column 3: expected a key name after '.'"},
		{"a[x] == 1", "column 2: expected an array index such as [0]"},
		{"a == 'x\\n'", "column 8: unknown escape \\n"},
		{"é == 1", "column 1: unexpected character 'é'"},
		{"'é' == é", "column 8: unexpected character 'é'"},
		{"a == 1e5", "column 6: malformed number"},
		{"AND == 1", "column 1: expected a value (a key, string, number, true or false), found \"AND\""},
	}
	for _, tc := range tests {
		_, err := Compile(tc.src, ScopeTask)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Compile(%q) = %v, want a *SyntaxError", tc.src, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Compile(%q) = %q, want prefix %q", tc.src, err.Error(), tc.want)
		}
	}
}

func TestLimits(t *testing.T) {
	deep := strings.Repeat("(", MaxExpressionDepth+1) + "a == 1" + strings.Repeat(")", MaxExpressionDepth+1)
	if _, err := Compile(deep, ScopeTask); err == nil || !strings.Contains(err.Error(), "nested more than") {
		t.Errorf("deep nesting: %v", err)
	}
	ok := strings.Repeat("(", MaxExpressionDepth) + "a == 1" + strings.Repeat(")", MaxExpressionDepth)
	if _, err := Compile(ok, ScopeTask); err != nil {
		t.Errorf("nesting at the limit: %v", err)
	}
	long := "a == '" + strings.Repeat("x", MaxExpressionLength) + "'"
	if _, err := Compile(long, ScopeTask); err == nil || !strings.Contains(err.Error(), "the limit is") {
		t.Errorf("long expression: %v", err)
	}
}

func TestStringEscapes(t *testing.T) {
	task := attrs(t, `{"q":"it's \"x\" \\ y"}`)
	e := MustCompile(`q == 'it\'s "x" \\ y'`, ScopeTask)
	if !e.Eval(task, nil) {
		t.Error("escaped string should match")
	}
}

func TestParseAttributes(t *testing.T) {
	for _, in := range []string{"", "  ", "null", " null "} {
		a, err := ParseAttributes([]byte(in))
		if err != nil || a == nil || len(a) != 0 {
			t.Errorf("ParseAttributes(%q) = %v, %v; want empty", in, a, err)
		}
	}
	for _, in := range []string{"[]", "1", `"x"`, "true", "{", `{"a":}`, "{} x"} {
		if _, err := ParseAttributes([]byte(in)); err == nil {
			t.Errorf("ParseAttributes(%q) should fail", in)
		}
	}
	deep := strings.Repeat(`{"a":`, MaxNestingDepth+1) + "1" + strings.Repeat("}", MaxNestingDepth+1)
	if _, err := ParseAttributes([]byte(deep)); err == nil || !strings.Contains(err.Error(), "nested more than") {
		t.Errorf("deep attributes: %v", err)
	}
	// Brackets inside strings do not count.
	if _, err := ParseAttributes([]byte(`{"a":"` + strings.Repeat("[", 200) + `\"}"}`)); err != nil {
		t.Errorf("brackets in strings: %v", err)
	}
	big := `{"a":"` + strings.Repeat("x", MaxAttributesBytes) + `"}`
	if _, err := ParseAttributes([]byte(big)); err == nil {
		t.Error("oversized attributes should fail")
	}
}

func TestEvalDoesNotAllocate(t *testing.T) {
	task := attrs(t, `{"phone_number":"+15127640580","langs":["en","fr"]}`)
	w := &WorkerInfo{SID: "WK1", Attributes: attrs(t, `{"phone_number":"+15127640580","n":3}`)}
	r := &wrec{info: *w}
	r.box = boxFields(&r.info)
	for _, src := range []string{
		"task.phone_number CONTAINS worker.phone_number",
		"worker.n > 2 AND worker.n IN [1, 2, 3] AND task.langs HAS 'fr' OR worker.n == 'x'",
		"worker.n NOT IN task.langs",
	} {
		e := MustCompile(src, ScopeTarget)
		if n := testing.AllocsPerRun(100, func() { e.Eval(task, w.Attributes) }); n != 0 {
			t.Errorf("%q: %v allocations per Eval", src, n)
		}
	}
	// Indexed workers have their own fields boxed in advance.
	e := MustCompile("worker.sid NOT IN task.langs AND worker.friendly_name != 'x'", ScopeTarget)
	if n := testing.AllocsPerRun(100, func() { e.evalRec(task, r) }); n != 0 {
		t.Errorf("evalRec with worker fields: %v allocations", n)
	}
}

func TestHandBuiltAttributes(t *testing.T) {
	// Go values encoding/json would not produce still evaluate sensibly and
	// never panic: integers and json.Number are numbers, other types NULL.
	task := Attributes{"i": 5, "i64": int64(5), "n": json.Number("5"), "bad": json.Number("x"), "strs": []string{"a"},
		"nested": Attributes{"x": "y"}, "ch": make(chan int), "nan": math.NaN()}
	for _, tc := range []struct {
		expr string
		want bool
	}{
		{"i == 5", true}, {"i64 == 5.0", true}, {"n == 5", true}, {"i > 4", true},
		{"bad == 'x'", false}, {"strs HAS 'a'", false}, {"nested.x == 'y'", true},
		{"ch == 1", false}, {"ch != 1", false}, {"nan == nan", false}, {"nan != 1", false},
	} {
		if got := MustCompile(tc.expr, ScopeTask).Eval(task, nil); got != tc.want {
			t.Errorf("%q = %v, want %v", tc.expr, got, tc.want)
		}
	}
	if ScopeTask.String() != "task" || ScopeSkip.String() != "skip_if" || Scope(9).String() != "scope(9)" {
		t.Error("Scope.String")
	}
}
