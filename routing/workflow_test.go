package routing

import (
	"errors"
	"strings"
	"testing"
)

const didConfig = `{"task_routing":{"filters":[{"filter_friendly_name":"Match By Worker Phone Number","expression":"1==1","targets":[{"queue":"Q","expression":"task.phone_number CONTAINS worker.phone_number","timeout":60,"skip_if":"1==1"},{"queue":"Q"}]}],"default_filter":{"queue":"Q"}}}`

func onlyQ(sid string) bool { return sid == "Q" }

func TestParseDIDWorkflow(t *testing.T) {
	w, err := ParseWorkflow([]byte(didConfig), onlyQ)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Filters) != 1 || w.Default == nil || w.Default.Queue != "Q" {
		t.Fatalf("unexpected workflow %+v", w)
	}
	f := w.Filters[0]
	if f.Name != "Match By Worker Phone Number" || f.Expr.String() != "1==1" || len(f.Targets) != 2 {
		t.Fatalf("filter %+v", f)
	}
	t0, t1 := f.Targets[0], f.Targets[1]
	if t0.Queue != "Q" || t0.ExprSrc != "task.phone_number CONTAINS worker.phone_number" || t0.Expr == nil ||
		t0.Timeout == nil || *t0.Timeout != 60 || t0.SkipIf == nil || t0.Priority != nil {
		t.Errorf("target 0 %+v", t0)
	}
	if t1.Queue != "Q" || t1.Expr != nil || t1.Timeout != nil || t1.SkipIf != nil {
		t.Errorf("target 1 %+v", t1)
	}
	task := Attributes{"phone_number": "+15127640580"}
	if i, ts := w.Match(task); i != 0 || len(ts) != 2 {
		t.Errorf("Match = %d, %d targets", i, len(ts))
	}
	if !t0.ShouldSkip(task, QueueStats{}) {
		t.Error("skip_if 1==1 should skip")
	}
	if t1.ShouldSkip(task, QueueStats{}) {
		t.Error("no skip_if: never skip")
	}
}

func TestWorkflowFeatures(t *testing.T) {
	cfg := `{"task_routing":{"filters":[
	  {"filter_friendly_name":"Sales","expression":"type=='lead'","targets":[{"queue":"WQa","priority":"10","timeout":"15","order_by":"worker.level DESC, worker.support","known_worker_sid":"task.agent_sid"},{"priority":20}]},
	  {"expression":"type=='ticket'","targets":[{"queue":"WQb","skip_if":"workers.available == 0","known_worker_friendly_name":"task.agent"}]}],
	  "default_filter":{"queue":"WQc","priority":1}}}`
	w, err := ParseWorkflow([]byte(cfg), nil)
	if err != nil {
		t.Fatal(err)
	}
	a := w.Filters[0].Targets
	if *a[0].Priority != 10 || *a[0].Timeout != 15 || a[0].KnownWorkerSID != "task.agent_sid" {
		t.Errorf("target %+v", a[0])
	}
	if len(a[0].OrderBy) != 2 || a[0].OrderBy[0] != (OrderKey{"worker.level", true}) || a[0].OrderBy[1] != (OrderKey{"worker.support", false}) {
		t.Errorf("order_by %+v", a[0].OrderBy)
	}
	if a[1].Queue != "WQa" || *a[1].Priority != 20 || a[1].Timeout != nil {
		t.Errorf("inherited target %+v", a[1])
	}
	b := w.Filters[1].Targets[0]
	if !b.ShouldSkip(nil, QueueStats{Available: 0, Unavailable: 3}) || b.ShouldSkip(nil, QueueStats{Available: 1}) {
		t.Error("workers.available == 0")
	}
	if v, bySID, ok := b.KnownWorker(Attributes{"agent": "Alice"}); v != "Alice" || bySID || !ok {
		t.Errorf("KnownWorker = %q %v %v", v, bySID, ok)
	}
	if v, bySID, ok := a[0].KnownWorker(Attributes{}); v != "" || !bySID || !ok {
		t.Errorf("KnownWorker missing = %q %v %v", v, bySID, ok)
	}
	for _, tc := range []struct {
		task   Attributes
		filter int
		queue  string
	}{
		{Attributes{"type": "lead"}, 0, "WQa"},
		{Attributes{"type": "ticket"}, 1, "WQb"},
		{Attributes{"type": "other"}, -1, "WQc"},
		{nil, -1, "WQc"},
	} {
		i, ts := w.Match(tc.task)
		if i != tc.filter || len(ts) == 0 || ts[0].Queue != tc.queue {
			t.Errorf("Match(%v) = %d %+v", tc.task, i, ts)
		}
	}
	// After filter 0 a lead matches nothing else: skipping reaches the
	// default, timing out cancels.
	if i, ts := w.MatchAfter(Attributes{"type": "lead"}, 0, false); i != -1 || len(ts) != 1 || ts[0].Queue != "WQc" {
		t.Errorf("MatchAfter skip = %d %+v", i, ts)
	}
	if i, ts := w.MatchAfter(Attributes{"type": "lead"}, 0, true); i != -1 || ts != nil {
		t.Errorf("MatchAfter timeout = %d %+v", i, ts)
	}
	noDefault, err := ParseWorkflow([]byte(`{"task_routing":{"filters":[{"expression":"a==1","targets":[{"queue":"Q"}]}]}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if i, ts := noDefault.Match(Attributes{}); i != -1 || ts != nil {
		t.Errorf("no default: %d %+v", i, ts)
	}
	defOnly, err := ParseWorkflow([]byte(`{"task_routing":{"default_filter":{"queue":"Q"}}}`), nil)
	if err != nil || defOnly.Default == nil || len(defOnly.Filters) != 0 {
		t.Fatalf("default only: %v", err)
	}
}

func TestWorkflowErrors(t *testing.T) {
	tests := []struct{ cfg, want string }{
		{`[]`, "configuration must be a JSON object"},
		{`{`, "configuration is not valid JSON"},
		{`{}`, "task_routing: is required"},
		{`{"task_routing":[]}`, "task_routing: must be an object"},
		{`{"task_routing":{}}`, "task_routing: needs at least one filter or a default_filter"},
		{`{"task_routing":{"default_filter":{"queue":"X"}}}`, `task_routing.default_filter.queue: unknown queue "X"`},
		{`{"task_routing":{"default_filter":{}}}`, "task_routing.default_filter.queue: is required"},
		{`{"task_routing":{"default_filter":{"queue":"Q","timeout":5}}}`, "task_routing.default_filter.timeout: is not allowed in default_filter"},
		{`{"task_routing":{"filters":{}}}`, "task_routing.filters: must be an array"},
		{`{"task_routing":{"filters":[{"expression":"1==1"}]}}`, "task_routing.filters[0].targets: is required"},
		{`{"task_routing":{"filters":[{"expression":"1==1","targets":[]}]}}`, "task_routing.filters[0].targets: is empty"},
		{`{"task_routing":{"filters":[{"targets":[{"queue":"Q"}]}]}}`, "task_routing.filters[0].expression: is required"},
		{`{"task_routing":{"filters":[{"expression":"a ==","targets":[{"queue":"Q"}]}]}}`, "task_routing.filters[0].expression: column 5: expected a value after =="},
		{`{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"Q"},{"queue":"Q","expression":"task.a CONTAINS"}]}]}}`, "task_routing.filters[0].targets[1].expression: column 16: expected a value after CONTAINS"},
		{`{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"Q","timeout":-1}]}]}}`, "task_routing.filters[0].targets[0].timeout: must be a positive number of seconds"},
		{`{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"Q","timeout":0}]}]}}`, "task_routing.filters[0].targets[0].timeout: must be a positive number of seconds"},
		{`{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"Q","timeout":1.5}]}]}}`, "timeout: must be a whole number"},
		{`{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"Q","timeout":"soon"}]}]}}`, `timeout: must be an integer, not "soon"`},
		{`{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"Q","timeout":true}]}]}}`, "timeout: must be an integer"},
		{`{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"Q","timeout":1e12}]}]}}`, "timeout: is too large"},
		{`{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"Q","priority":-3}]}]}}`, "priority: must not be negative"},
		{`{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"Q","order_by":"level ASC"}]}]}}`, `task_routing.filters[0].targets[0].order_by: clause 1: "level" is not a worker key`},
		{`{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"Q","order_by":"worker.level UP"}]}]}}`, "order_by: clause 1 \"worker.level UP\": direction must be ASC or DESC"},
		{`{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"Q","order_by":"worker.a,,worker.b"}]}]}}`, "order_by: clause 2"},
		{`{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"Q","skip_if":"available == 0"}]}]}}`, "targets[0].skip_if: column 1: key available"},
		{`{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"Q","known_worker_sid":"WK123"}]}]}}`, `known_worker_sid: "WK123" is not a task key`},
		{`{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"Q","known_worker_sid":"task.a","known_worker_friendly_name":"task.b"}]}]}}`, "known_worker_friendly_name: cannot be used together with known_worker_sid"},
		{`{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"Q","skipif":"1==1"}]}]}}`, "task_routing.filters[0].targets[0].skipif: unknown key"},
		{`{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"Q"}],"extra":1}]}}`, "task_routing.filters[0].extra: unknown key"},
		{`{"task_routing":{"default_filter":{"queue":"Q"}},"x":1}`, "x: unknown key"},
		{`{"task_routing":{"filters":[{"expression":1,"targets":[{"queue":"Q"}]}]}}`, "task_routing.filters[0].expression: must be a string"},
		{`{"task_routing":{"filters":[1]}}`, "task_routing.filters[0]: must be an object"},
		{`{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"X"}]}]}}`, `task_routing.filters[0].targets[0].queue: unknown queue "X"`},
		{`{"task_routing":{"filters":[{"expression":"1==1","targets":[{"expression":"task.a == worker.b"}]}]}}`, "task_routing.filters[0].targets[0].queue: is required"},
		{`{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"Q","expression":"a == b"}]}]}}`, "targets[0].expression: column 1: key a must start with task. or worker."},
		{strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 100), "nested more than"},
	}
	for _, tc := range tests {
		_, err := ParseWorkflow([]byte(tc.cfg), onlyQ)
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("ParseWorkflow(%s) = %v, want a *ConfigError", tc.cfg, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseWorkflow(%s) = %q, want %q", tc.cfg, err.Error(), tc.want)
		}
	}
	// The expression's SyntaxError is reachable through the ConfigError.
	_, err := ParseWorkflow([]byte(`{"task_routing":{"filters":[{"expression":"a ==","targets":[{"queue":"Q"}]}]}}`), nil)
	var se *SyntaxError
	if !errors.As(err, &se) || se.Col != 5 {
		t.Errorf("SyntaxError through ConfigError: %v", err)
	}
}

func TestEmptyOptionalFields(t *testing.T) {
	w, err := ParseWorkflow([]byte(`{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"Q","expression":"","skip_if":"","order_by":"","known_worker_sid":"","timeout":null}]}]}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	tg := w.Filters[0].Targets[0]
	if tg.Expr != nil || tg.SkipIf != nil || tg.OrderBy != nil || tg.KnownWorkerSID != "" || tg.Timeout != nil {
		t.Errorf("empty fields should mean absent: %+v", tg)
	}
	if _, err := ParseWorkflow([]byte(`{"task_routing":{"filters":[{"expression":"","targets":[{"queue":"Q"}]}]}}`), nil); err == nil {
		t.Error("an empty filter expression is an error")
	}
}
