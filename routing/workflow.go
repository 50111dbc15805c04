package routing

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// OrderKey is one order_by clause: a numeric worker attribute and a direction.
type OrderKey struct {
	Path string // e.g. "worker.level"
	Desc bool
}

// Target is one routing step.
type Target struct {
	Queue    string // inherited from the previous target of the filter when not given
	Expr     *Expr  // nil = every member of the queue
	ExprSrc  string
	Priority *int // nil = keep the task's priority
	Timeout  *int // seconds; nil = wait in this step for ever
	OrderBy  []OrderKey
	SkipIf   *Expr // nil = never skip
	// KnownWorkerSID / KnownWorkerFriendlyName hold a task key path such as
	// "task.agent_sid" (known agent routing); at most one is set.
	KnownWorkerSID, KnownWorkerFriendlyName string
}

// Filter is one case of the workflow.
type Filter struct {
	Name    string
	Expr    *Expr
	Targets []Target
}

// Workflow is a parsed TaskRouter workflow configuration.
type Workflow struct {
	Filters []Filter
	Default *Target // nil when absent
}

// ConfigError is an invalid workflow configuration; Path is the JSON path
// of the offending value, e.g. "task_routing.filters[0].targets[1].expression".
type ConfigError struct {
	Path string
	Err  error
}

func (e *ConfigError) Error() string {
	if e.Path == "" {
		return e.Err.Error()
	}
	return e.Path + ": " + e.Err.Error()
}

func (e *ConfigError) Unwrap() error { return e.Err }

// MaxWorkflowBytes bounds a workflow configuration.
const MaxWorkflowBytes = 1 << 20

// MaxTimeout is the largest target timeout accepted (seconds, ~68 years).
const MaxTimeout = math.MaxInt32

// ParseWorkflow parses and validates a TaskRouter workflow configuration.
// queueExists reports whether a queue sid is known (nil accepts any).
func ParseWorkflow(config []byte, queueExists func(sid string) bool) (*Workflow, error) {
	if len(config) > MaxWorkflowBytes {
		return nil, &ConfigError{Err: fmt.Errorf("configuration is %d bytes; the limit is %d", len(config), MaxWorkflowBytes)}
	}
	trimmed := bytes.TrimSpace(config)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, &ConfigError{Err: errors.New("configuration must be a JSON object")}
	}
	if err := checkNesting(trimmed, MaxNestingDepth); err != nil {
		return nil, &ConfigError{Err: err}
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &top); err != nil {
		return nil, &ConfigError{Err: fmt.Errorf("configuration is not valid JSON: %w", err)}
	}
	if err := onlyKeys(top, "", "task_routing"); err != nil {
		return nil, err
	}
	raw, ok := top["task_routing"]
	if !ok || isNull(raw) {
		return nil, &ConfigError{Path: "task_routing", Err: errors.New("is required")}
	}
	var tr map[string]json.RawMessage
	if err := json.Unmarshal(raw, &tr); err != nil {
		return nil, &ConfigError{Path: "task_routing", Err: errors.New("must be an object")}
	}
	if err := onlyKeys(tr, "task_routing", "filters", "default_filter"); err != nil {
		return nil, err
	}
	p := &wfParser{queueExists: queueExists}
	w := &Workflow{}
	if rf, ok := tr["filters"]; ok && !isNull(rf) {
		var filters []json.RawMessage
		if err := json.Unmarshal(rf, &filters); err != nil {
			return nil, &ConfigError{Path: "task_routing.filters", Err: errors.New("must be an array")}
		}
		for i, f := range filters {
			flt, err := p.filter(f, fmt.Sprintf("task_routing.filters[%d]", i))
			if err != nil {
				return nil, err
			}
			w.Filters = append(w.Filters, flt)
		}
	}
	if rd, ok := tr["default_filter"]; ok && !isNull(rd) {
		t, err := p.target(rd, "task_routing.default_filter", "", true)
		if err != nil {
			return nil, err
		}
		w.Default = &t
	}
	if len(w.Filters) == 0 && w.Default == nil {
		return nil, &ConfigError{Path: "task_routing", Err: errors.New("needs at least one filter or a default_filter")}
	}
	return w, nil
}

type wfParser struct {
	queueExists func(string) bool
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// onlyKeys rejects keys other than allowed: a misspelt key would otherwise
// silently change routing.
func onlyKeys(m map[string]json.RawMessage, path string, allowed ...string) error {
	for k := range m {
		known := false
		for _, a := range allowed {
			if k == a {
				known = true
				break
			}
		}
		if !known {
			return &ConfigError{Path: joinPath(path, k), Err: fmt.Errorf("unknown key (expected one of %s)", strings.Join(allowed, ", "))}
		}
	}
	return nil
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (p *wfParser) filter(raw json.RawMessage, path string) (Filter, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return Filter{}, &ConfigError{Path: path, Err: errors.New("must be an object")}
	}
	if err := onlyKeys(m, path, "filter_friendly_name", "expression", "targets"); err != nil {
		return Filter{}, err
	}
	var f Filter
	name, _, err := optString(m, path, "filter_friendly_name")
	if err != nil {
		return Filter{}, err
	}
	f.Name = name
	src, present, err := optString(m, path, "expression")
	if err != nil {
		return Filter{}, err
	}
	if !present {
		return Filter{}, &ConfigError{Path: path + ".expression", Err: errors.New("is required (use \"1==1\" to match every task)")}
	}
	f.Expr, err = Compile(src, ScopeTask)
	if err != nil {
		return Filter{}, &ConfigError{Path: path + ".expression", Err: err}
	}
	rt, ok := m["targets"]
	if !ok || isNull(rt) {
		return Filter{}, &ConfigError{Path: path + ".targets", Err: errors.New("is required: a filter needs at least one target")}
	}
	var targets []json.RawMessage
	if err := json.Unmarshal(rt, &targets); err != nil {
		return Filter{}, &ConfigError{Path: path + ".targets", Err: errors.New("must be an array")}
	}
	if len(targets) == 0 {
		return Filter{}, &ConfigError{Path: path + ".targets", Err: errors.New("is empty: a filter needs at least one target")}
	}
	prevQueue := ""
	for i, rt := range targets {
		t, err := p.target(rt, fmt.Sprintf("%s.targets[%d]", path, i), prevQueue, false)
		if err != nil {
			return Filter{}, err
		}
		prevQueue = t.Queue
		f.Targets = append(f.Targets, t)
	}
	return f, nil
}

// target parses one target object; inherited is the queue of the previous
// target in the filter ("" for the first one).
func (p *wfParser) target(raw json.RawMessage, path, inherited string, isDefault bool) (Target, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return Target{}, &ConfigError{Path: path, Err: errors.New("must be an object")}
	}
	allowed := []string{"queue", "expression", "priority", "timeout", "order_by", "skip_if", "known_worker_sid", "known_worker_friendly_name"}
	if isDefault {
		for _, k := range []string{"timeout", "skip_if"} {
			if _, ok := m[k]; ok {
				return Target{}, &ConfigError{Path: path + "." + k, Err: errors.New("is not allowed in default_filter: there is no later step to move to")}
			}
		}
	}
	if err := onlyKeys(m, path, allowed...); err != nil {
		return Target{}, err
	}
	var t Target
	q, present, err := optString(m, path, "queue")
	if err != nil {
		return Target{}, err
	}
	switch {
	case present && q != "":
		if p.queueExists != nil && !p.queueExists(q) {
			return Target{}, &ConfigError{Path: path + ".queue", Err: fmt.Errorf("unknown queue %q", q)}
		}
		t.Queue = q
	case inherited != "":
		t.Queue = inherited
	default:
		return Target{}, &ConfigError{Path: path + ".queue", Err: errors.New("is required (only later targets of a filter inherit the queue of the one before)")}
	}
	if src, _, err := optString(m, path, "expression"); err != nil {
		return Target{}, err
	} else if strings.TrimSpace(src) != "" {
		if t.Expr, err = Compile(src, ScopeTarget); err != nil {
			return Target{}, &ConfigError{Path: path + ".expression", Err: err}
		}
		t.ExprSrc = src
	}
	if t.Priority, err = optInt(m, path, "priority", 0); err != nil {
		return Target{}, err
	}
	if t.Timeout, err = optInt(m, path, "timeout", 1); err != nil {
		return Target{}, err
	}
	if src, _, err := optString(m, path, "order_by"); err != nil {
		return Target{}, err
	} else if strings.TrimSpace(src) != "" {
		if t.OrderBy, err = ParseOrderBy(src); err != nil {
			return Target{}, &ConfigError{Path: path + ".order_by", Err: err}
		}
	}
	if src, _, err := optString(m, path, "skip_if"); err != nil {
		return Target{}, err
	} else if strings.TrimSpace(src) != "" {
		if t.SkipIf, err = Compile(src, ScopeSkip); err != nil {
			return Target{}, &ConfigError{Path: path + ".skip_if", Err: err}
		}
	}
	for _, k := range []string{"known_worker_sid", "known_worker_friendly_name"} {
		src, _, err := optString(m, path, k)
		if err != nil {
			return Target{}, err
		}
		if strings.TrimSpace(src) == "" {
			continue
		}
		if _, err := compileTaskKey(src); err != nil {
			return Target{}, &ConfigError{Path: path + "." + k, Err: err}
		}
		if k == "known_worker_sid" {
			t.KnownWorkerSID = src
		} else {
			t.KnownWorkerFriendlyName = src
		}
	}
	if t.KnownWorkerSID != "" && t.KnownWorkerFriendlyName != "" {
		return Target{}, &ConfigError{Path: path + ".known_worker_friendly_name", Err: errors.New("cannot be used together with known_worker_sid")}
	}
	return t, nil
}

// optString reads an optional string field.
func optString(m map[string]json.RawMessage, path, key string) (string, bool, error) {
	raw, ok := m[key]
	if !ok || isNull(raw) {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false, &ConfigError{Path: joinPath(path, key), Err: errors.New("must be a string")}
	}
	return s, true, nil
}

// optInt reads an optional integer given as a JSON number or a numeric
// string (TaskRouter's own examples write "priority": "10").
func optInt(m map[string]json.RawMessage, path, key string, min int) (*int, error) {
	raw, ok := m[key]
	if !ok || isNull(raw) {
		return nil, nil
	}
	fail := func(msg string) (*int, error) {
		return nil, &ConfigError{Path: joinPath(path, key), Err: errors.New(msg)}
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return fail("must be an integer")
	}
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case string:
		p, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return fail(fmt.Sprintf("must be an integer, not %q", x))
		}
		f = p
	default:
		return fail("must be an integer")
	}
	if f != math.Trunc(f) || math.IsInf(f, 0) || math.IsNaN(f) {
		return fail(fmt.Sprintf("must be a whole number, not %v", f))
	}
	if f < float64(min) {
		if min > 0 {
			return fail(fmt.Sprintf("must be a positive number of seconds, not %v", f))
		}
		return fail(fmt.Sprintf("must not be negative, not %v", f))
	}
	if f > MaxTimeout {
		return fail(fmt.Sprintf("is too large (%v; the limit is %d)", f, MaxTimeout))
	}
	n := int(f)
	return &n, nil
}

// ParseOrderBy parses an order_by expression: comma-separated clauses of a
// worker key and an optional ASC (default) or DESC.
func ParseOrderBy(src string) ([]OrderKey, error) {
	var keys []OrderKey
	for i, clause := range strings.Split(src, ",") {
		fields := strings.Fields(clause)
		if len(fields) == 0 || len(fields) > 2 {
			return nil, fmt.Errorf("clause %d %q: expected \"worker.<key> ASC\" or \"worker.<key> DESC\"", i+1, strings.TrimSpace(clause))
		}
		k := OrderKey{Path: fields[0]}
		if len(fields) == 2 {
			switch strings.ToUpper(fields[1]) {
			case "ASC":
			case "DESC":
				k.Desc = true
			default:
				return nil, fmt.Errorf("clause %d %q: direction must be ASC or DESC", i+1, strings.TrimSpace(clause))
			}
		}
		if _, err := orderPath(k.Path); err != nil {
			return nil, fmt.Errorf("clause %d: %w", i+1, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// orderPath compiles an order_by key ("worker.level") to a worker path.
func orderPath(p string) ([]seg, error) {
	l := lexer{src: p}
	t, err := l.next()
	if err != nil || t.kind != tPath || l.off != len(p) || len(t.path) < 2 || t.path[0].key != "worker" || t.path[1].idx >= 0 {
		return nil, fmt.Errorf("%q is not a worker key such as worker.level", p)
	}
	return t.path[1:], nil
}

// compileTaskKey compiles a known_worker_* value ("task.agent_sid") to a task path.
func compileTaskKey(p string) ([]seg, error) {
	l := lexer{src: strings.TrimSpace(p)}
	t, err := l.next()
	if err != nil || t.kind != tPath || l.off != len(l.src) || len(t.path) < 2 || t.path[0].key != "task" || t.path[1].idx >= 0 {
		return nil, fmt.Errorf("%q is not a task key such as task.agent_sid", p)
	}
	return t.path[1:], nil
}

// Match returns the first filter whose expression holds for the task and its
// targets; when none does, -1 and the default target (nil if there is none).
func (w *Workflow) Match(task Attributes) (filterIndex int, targets []Target) {
	return w.MatchAfter(task, -1, false)
}

// MatchAfter looks for the first matching filter after filter index after
// (-1 = from the start). When none matches it returns -1 and the default
// target, except when timedOut: TaskRouter does not send a task that timed
// out of its last target to the default filter; it is canceled (nil).
// A task that skipped its last target (skip_if) is treated as not matching
// its filter and may reach the default filter.
func (w *Workflow) MatchAfter(task Attributes, after int, timedOut bool) (filterIndex int, targets []Target) {
	if w == nil {
		return -1, nil
	}
	if after < -1 {
		after = -1
	}
	for i := after + 1; i < len(w.Filters); i++ {
		if w.Filters[i].Expr.Eval(task, nil) {
			return i, w.Filters[i].Targets
		}
	}
	if timedOut || w.Default == nil || after >= len(w.Filters) {
		return -1, nil
	}
	return -1, []Target{*w.Default}
}

// QueueStats are the counts skip_if sees for a target's queue.
type QueueStats struct {
	Available   int            // members in an available activity
	Unavailable int            // members in an unavailable activity
	ByActivity  map[string]int // members per activity sid and per activity name
}

// ShouldSkip evaluates skip_if for a task whose step could not reserve a
// worker straight away. It is false when the target has no skip_if.
func (t *Target) ShouldSkip(task Attributes, s QueueStats) bool {
	if t == nil || t.SkipIf == nil {
		return false
	}
	workers := make(map[string]any, len(s.ByActivity)+2)
	for k, v := range s.ByActivity {
		workers[k] = float64(v)
	}
	workers["available"] = float64(s.Available)
	workers["unavailable"] = float64(s.Unavailable)
	return t.SkipIf.Eval(task, Attributes{"workers": workers})
}

// KnownWorker resolves the target's known_worker_sid or
// known_worker_friendly_name against the task: bySID tells which one is set,
// ok is false when neither is set. A missing or non-string task value gives
// ok true and value "" (the step then matches nobody).
func (t *Target) KnownWorker(task Attributes) (value string, bySID, ok bool) {
	src := t.KnownWorkerSID
	bySID = true
	if src == "" {
		src = t.KnownWorkerFriendlyName
		bySID = false
	}
	if src == "" {
		return "", false, false
	}
	path, err := compileTaskKey(src)
	if err != nil {
		return "", bySID, true
	}
	s, _ := resolve(task, path).(string)
	return s, bySID, true
}
