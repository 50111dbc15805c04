package routing

import (
	"fmt"
	"strings"
)

// Explanation is a step-by-step account of how a workflow routes a task:
// which filter matched, and for each step which workers are in the queue,
// which match, which are free, whom it would reserve and what happens next.
// It is what the engine would do now, given the index's current state.
type Explanation struct {
	Task    Attributes    `json:"task"`
	Filters []FilterCheck `json:"filters"` // in the order they were checked
	Steps   []Step        `json:"steps"`
	Outcome string        `json:"outcome"` // one sentence
}

// FilterCheck is one filter's expression checked against the task.
type FilterCheck struct {
	Index      int          `json:"index"` // -1 = default_filter
	Name       string       `json:"name,omitempty"`
	Expression string       `json:"expression,omitempty"`
	Matched    bool         `json:"matched"`
	Why        []Comparison `json:"why,omitempty"`
}

// Step is one target the task would pass through.
type Step struct {
	Filter      int             `json:"filter"` // -1 = default_filter
	FilterName  string          `json:"filter_name,omitempty"`
	Target      int             `json:"target"`
	Queue       string          `json:"queue"`
	QueueName   string          `json:"queue_name,omitempty"`
	QueueKnown  bool            `json:"queue_known"`
	Expression  string          `json:"expression,omitempty"`
	KnownWorker string          `json:"known_worker,omitempty"` // e.g. `task.agent_sid = "WK…"`
	Priority    *int            `json:"priority,omitempty"`
	Timeout     *int            `json:"timeout,omitempty"`
	SkipIf      string          `json:"skip_if,omitempty"`
	OrderBy     []OrderKey      `json:"order_by,omitempty"`
	Members     int             `json:"members"`
	Matching    int             `json:"matching"`
	Eligible    []string        `json:"eligible"` // sids in the order they would be offered
	Reserve     string          `json:"reserve,omitempty"`
	ReserveName string          `json:"reserve_name,omitempty"`
	Skipped     *bool           `json:"skipped,omitempty"` // skip_if's result, when it was checked
	Workers     []WorkerVerdict `json:"workers"`
	Next        string          `json:"next"`
}

// WorkerVerdict says what one worker is to a step.
type WorkerVerdict struct {
	SID          string       `json:"sid"`
	FriendlyName string       `json:"friendly_name,omitempty"`
	InQueue      bool         `json:"in_queue"`
	Matches      bool         `json:"matches"`        // in the queue, the known worker if any, and the expression holds
	Free         bool         `json:"free"`           // available with Busy < Capacity
	Rank         int          `json:"rank,omitempty"` // 1 = offered first
	Verdict      string       `json:"verdict"`
	Why          []Comparison `json:"why,omitempty"`
}

// ExplainOptions tune Explain.
type ExplainOptions struct {
	QueueNames map[string]string // queue sid → friendly name, for display
	MaxWorkers int               // workers listed per step (0 = 50); a focused worker is always listed
	Focus      string            // a worker sid or friendly name to always list
	// Capacity is the one the task takes a unit of. The zero value is Voice.
	Capacity Capacity
}

// Explain walks the workflow for a task the way the engine does, using the
// index's current workers and queues.
func Explain(w *Workflow, ix *Index, task Attributes, opt ExplainOptions) *Explanation {
	if opt.MaxWorkers <= 0 {
		opt.MaxWorkers = 50
	}
	x := &Explanation{Task: task, Filters: []FilterCheck{}, Steps: []Step{}}
	if w == nil {
		x.Outcome = "there is no workflow"
		return x
	}
	filter, targets := x.checkFilters(w, task, -1, false)
	if targets == nil {
		x.Outcome = "no filter matches and there is no default_filter: the task is canceled"
		return x
	}
	ti := 0
	for guard := 0; guard < 1000; guard++ {
		t := &targets[ti]
		st := explainStep(w, ix, task, filter, ti, t, opt)
		last := ti == len(targets)-1
		skipped := st.Skipped != nil && *st.Skipped
		movesOn := skipped || t.Timeout != nil
		nextStep := ""
		switch {
		case !movesOn:
		case !last:
			nextStep = fmt.Sprintf("step %d", len(x.Steps)+2)
		case filter < 0:
			nextStep = "" // the default filter has no later step
		}
		st.Next = describeNext(st, t, skipped, last, filter, nextStep)
		x.Steps = append(x.Steps, st)
		if !movesOn {
			break
		}
		if !last {
			ti++
			continue
		}
		if filter < 0 {
			x.Outcome = x.summary("then it leaves the default filter and is canceled")
			return x
		}
		nf, nt := x.checkFilters(w, task, filter, !skipped)
		if nt == nil {
			if skipped {
				x.Outcome = x.summary("the last step is skipped and no later filter or default_filter matches: the task is canceled")
			} else {
				x.Outcome = x.summary("the last step times out and no later filter matches: the task is canceled (the default_filter is not used after a timeout)")
			}
			return x
		}
		filter, targets, ti = nf, nt, 0
	}
	last := x.Steps[len(x.Steps)-1]
	if last.Reserve != "" {
		x.Outcome = x.summary("")
	} else {
		x.Outcome = x.summary(fmt.Sprintf("nobody can take it now: it waits in step %d", len(x.Steps)))
	}
	return x
}

// checkFilters records the filters checked after index after and returns
// the next position, as Workflow.MatchAfter does.
func (x *Explanation) checkFilters(w *Workflow, task Attributes, after int, timedOut bool) (int, []Target) {
	for i := after + 1; i < len(w.Filters); i++ {
		f := &w.Filters[i]
		ok := f.Expr.Eval(task, nil)
		x.Filters = append(x.Filters, FilterCheck{Index: i, Name: f.Name, Expression: f.Expr.String(), Matched: ok, Why: f.Expr.Trace(task, nil)})
		if ok {
			return i, f.Targets
		}
	}
	if timedOut || w.Default == nil {
		return -1, nil
	}
	x.Filters = append(x.Filters, FilterCheck{Index: -1, Name: "default_filter", Matched: true})
	return -1, []Target{*w.Default}
}

// summary names the first worker the task is offered to, if any, then the
// end of the walk.
func (x *Explanation) summary(end string) string {
	for i, s := range x.Steps {
		if s.Reserve != "" {
			first := fmt.Sprintf("the task is offered to %s (step %d)", s.ReserveName, i+1)
			if end == "" || i == len(x.Steps)-1 {
				return first
			}
			return first + "; if nobody accepts, " + end
		}
	}
	if end == "" {
		return "the task is not routed"
	}
	return end
}

func displayName(w *WorkerInfo) string {
	if w.FriendlyName != "" {
		return w.FriendlyName + " (" + w.SID + ")"
	}
	return w.SID
}

func explainStep(w *Workflow, ix *Index, task Attributes, filter, ti int, t *Target, opt ExplainOptions) Step {
	st := Step{Filter: filter, Target: ti, Queue: t.Queue, QueueName: opt.QueueNames[t.Queue],
		Expression: t.ExprSrc, Priority: t.Priority, Timeout: t.Timeout, OrderBy: t.OrderBy, Eligible: []string{}, Workers: []WorkerVerdict{}}
	if st.Expression == "" && t.Expr != nil {
		st.Expression = t.Expr.String()
	}
	if filter >= 0 {
		st.FilterName = w.Filters[filter].Name
	} else {
		st.FilterName = "default_filter"
	}
	if t.SkipIf != nil {
		st.SkipIf = t.SkipIf.String()
	}
	known, bySID, hasKnown := t.KnownWorker(task)
	if hasKnown {
		key := t.KnownWorkerSID
		if !bySID {
			key = t.KnownWorkerFriendlyName
		}
		if known == "" {
			st.KnownWorker = key + " is missing from the task"
		} else {
			st.KnownWorker = fmt.Sprintf("%s = %q", key, known)
		}
	}
	qexpr, qok := ix.QueueExpr(t.Queue)
	st.QueueKnown = qok
	eligible := ix.EligibleOn(opt.Capacity, t, task, nil, 0)
	rank := map[string]int{}
	for i, e := range eligible {
		st.Eligible = append(st.Eligible, e.SID)
		rank[e.SID] = i + 1
	}
	if len(eligible) > 0 {
		st.Reserve = eligible[0].SID
		st.ReserveName = displayName(&eligible[0])
	}
	matching := ix.Matches(t, task)
	matches := make(map[string]bool, len(matching))
	for _, m := range matching {
		matches[m.SID] = true
	}
	st.Matching = len(matching)
	if stats, ok := ix.QueueStats(t.Queue); ok {
		st.Members = stats.Available + stats.Unavailable
	}
	for _, wk := range listedWorkers(ix, t.Queue, eligible, matching, opt) {
		wk := &wk
		in := qok && ix.IsMember(t.Queue, wk.SID)
		v := WorkerVerdict{SID: wk.SID, FriendlyName: wk.FriendlyName, InQueue: in, Matches: matches[wk.SID],
			Free: wk.FreeOn(opt.Capacity), Rank: rank[wk.SID]}
		switch {
		case !qok:
			v.Verdict = "the queue does not exist"
		case !in:
			v.Verdict = "not in the queue: its target_workers is false for this worker"
			if qexpr == nil {
				v.Verdict = "not in the queue: the queue has no target_workers, so it has no members"
			} else {
				v.Why = qexpr.Trace(nil, wk)
			}
		case hasKnown && (bySID && wk.SID != known || !bySID && wk.FriendlyName != known):
			v.Verdict = "not the known worker this step targets (" + st.KnownWorker + ")"
		case !v.Matches:
			v.Verdict = "in the queue, but the step's expression is false for this worker"
			v.Why = t.Expr.Trace(task, wk)
		case !wk.Available:
			act := wk.ActivityName
			if act == "" {
				act = "an unavailable activity"
			}
			v.Verdict = "matches, but is not available (" + act + ")"
		case opt.Capacity == Messages && wk.MessageBusy >= wk.MessageCapacity:
			v.Verdict = fmt.Sprintf("matches, but has no free capacity for messages (%d of %d in use)", wk.MessageBusy, wk.MessageCapacity)
		case opt.Capacity != Messages && wk.Busy >= wk.Capacity:
			v.Verdict = fmt.Sprintf("matches, but has no free capacity (%d of %d in use)", wk.Busy, wk.Capacity)
		case v.Rank == 1:
			v.Verdict = "matches and is free: offered the task first"
		default:
			v.Verdict = fmt.Sprintf("matches and is free: number %d in line", v.Rank)
		}
		st.Workers = append(st.Workers, v)
	}
	if len(eligible) == 0 && t.SkipIf != nil {
		stats, _ := ix.QueueStats(t.Queue)
		skip := t.ShouldSkip(task, stats)
		st.Skipped = &skip
	}
	return st
}

// listedWorkers picks the workers a step lists. In a small workspace that is
// everyone, by sid. Otherwise it is the eligible ones in order, then the
// other matching ones, then other members, up to MaxWorkers. The focused
// worker is always listed.
func listedWorkers(ix *Index, queue string, eligible, matching []WorkerInfo, opt ExplainOptions) []WorkerInfo {
	focus := strings.TrimSpace(opt.Focus)
	if ix.Len() <= opt.MaxWorkers {
		return ix.Workers()
	}
	var out []WorkerInfo
	seen := map[string]bool{}
	add := func(w WorkerInfo) {
		if !seen[w.SID] {
			seen[w.SID] = true
			out = append(out, w)
		}
	}
	for _, list := range [][]WorkerInfo{eligible, matching, ix.someMembers(queue, opt.MaxWorkers)} {
		for _, w := range list {
			if len(out) >= opt.MaxWorkers {
				break
			}
			add(w)
		}
	}
	if focus != "" {
		if w, ok := ix.Worker(focus); ok {
			add(w)
		}
		for _, w := range ix.WorkersNamed(focus) {
			add(w)
		}
	}
	return out
}

func describeNext(st Step, t *Target, skipped, last bool, filter int, nextStep string) string {
	var b strings.Builder
	after := "moves on to " + nextStep
	if nextStep == "" {
		if filter < 0 {
			after = "is canceled"
		} else {
			after = "moves on to the next matching filter"
			if !skipped {
				after += " (or is canceled when there is none; the default_filter is not used after a timeout)"
			} else {
				after += " (or the default_filter)"
			}
		}
	}
	switch {
	case st.Reserve != "":
		fmt.Fprintf(&b, "reserves %s", st.ReserveName)
		if len(st.Eligible) > 1 {
			more := ""
			if len(st.Eligible) > 4 {
				more = fmt.Sprintf(" (and %d more)", len(st.Eligible)-4)
			}
			fmt.Fprintf(&b, "; if they reject it or let the reservation time out, it is offered next to %s%s", strings.Join(st.Eligible[1:min(len(st.Eligible), 4)], ", then "), more)
		}
		if t.Timeout != nil {
			fmt.Fprintf(&b, ". If nobody accepts within %d s, the task %s", *t.Timeout, after)
		} else {
			b.WriteString(". There is no timeout: the task stays in this step until someone accepts")
		}
	case skipped:
		fmt.Fprintf(&b, "nobody can be reserved now and skip_if (%s) is true, so the task %s at once", st.SkipIf, after)
	default:
		b.WriteString("nobody can be reserved now")
		if st.SkipIf != "" {
			fmt.Fprintf(&b, " and skip_if (%s) is false", st.SkipIf)
		}
		if t.Timeout != nil {
			fmt.Fprintf(&b, ": the task waits up to %d s for a matching worker to become free, then %s", *t.Timeout, after)
		} else {
			b.WriteString(": the task waits in this step until a matching worker becomes free (no timeout)")
		}
	}
	return b.String()
}

// Text renders the explanation for people.
func (x *Explanation) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Outcome: %s.\n", x.Outcome)
	b.WriteString("\nFilters, checked top to bottom (the first that matches is used):\n")
	if len(x.Filters) == 0 {
		b.WriteString("  (none)\n")
	}
	for _, f := range x.Filters {
		if f.Index < 0 {
			b.WriteString("  default_filter: used because no filter matched\n")
			continue
		}
		res := "does not match"
		if f.Matched {
			res = "MATCHES"
		}
		fmt.Fprintf(&b, "  [%d] %s: %s -> %s\n", f.Index, quoteName(f.Name), f.Expression, res)
		writeWhy(&b, "        ", f.Why, !f.Matched)
	}
	for i, s := range x.Steps {
		fmt.Fprintf(&b, "\nStep %d: ", i+1)
		if s.Filter < 0 {
			b.WriteString("default_filter\n")
		} else {
			fmt.Fprintf(&b, "filter [%d] %s, targets[%d]\n", s.Filter, quoteName(s.FilterName), s.Target)
		}
		q := s.Queue
		if s.QueueName != "" {
			q = s.QueueName + " (" + s.Queue + ")"
		}
		if !s.QueueKnown {
			fmt.Fprintf(&b, "  queue:       %s: UNKNOWN QUEUE, nobody can be reserved\n", q)
		} else {
			fmt.Fprintf(&b, "  queue:       %s, %d members\n", q, s.Members)
		}
		if s.KnownWorker != "" {
			fmt.Fprintf(&b, "  known worker: %s\n", s.KnownWorker)
		}
		expr := s.Expression
		if expr == "" {
			expr = "(none: every member)"
		}
		fmt.Fprintf(&b, "  expression:  %s\n", expr)
		if s.Priority != nil {
			fmt.Fprintf(&b, "  priority:    %d\n", *s.Priority)
		}
		if s.Timeout != nil {
			fmt.Fprintf(&b, "  timeout:     %d s\n", *s.Timeout)
		} else {
			b.WriteString("  timeout:     none\n")
		}
		if s.SkipIf != "" {
			fmt.Fprintf(&b, "  skip_if:     %s", s.SkipIf)
			if s.Skipped != nil {
				fmt.Fprintf(&b, " -> %v", *s.Skipped)
			} else {
				b.WriteString(" (not checked: someone can be reserved)")
			}
			b.WriteString("\n")
		}
		if len(s.OrderBy) > 0 {
			var keys []string
			for _, k := range s.OrderBy {
				d := "ASC"
				if k.Desc {
					d = "DESC"
				}
				keys = append(keys, k.Path+" "+d)
			}
			fmt.Fprintf(&b, "  order_by:    %s, then longest idle\n", strings.Join(keys, ", "))
		}
		fmt.Fprintf(&b, "  matching:    %d, free now: %d\n", s.Matching, len(s.Eligible))
		if len(s.Workers) > 0 {
			b.WriteString("  workers:\n")
		}
		for _, v := range s.Workers {
			mark := "-"
			if v.Rank > 0 {
				mark = "+"
			}
			name := v.SID
			if v.FriendlyName != "" {
				name = v.FriendlyName + " (" + v.SID + ")"
			}
			fmt.Fprintf(&b, "    %s %s: %s\n", mark, name, v.Verdict)
			writeWhy(&b, "        ", v.Why, true)
		}
		fmt.Fprintf(&b, "  next:        %s.\n", s.Next)
	}
	return b.String()
}

func quoteName(s string) string {
	if s == "" {
		return "(unnamed)"
	}
	return fmt.Sprintf("%q", s)
}

// writeWhy lists comparisons; when onlyFalse, just the ones that failed.
func writeWhy(b *strings.Builder, indent string, why []Comparison, onlyFalse bool) {
	for _, c := range why {
		if onlyFalse && c.Result {
			continue
		}
		fmt.Fprintf(b, "%s%s is %v", indent, c.Text, c.Result)
		var vals []string
		if c.LeftExpr != c.Left {
			vals = append(vals, c.LeftExpr+" is "+c.Left)
		}
		if c.RightExpr != c.Right && c.RightExpr != c.LeftExpr {
			vals = append(vals, c.RightExpr+" is "+c.Right)
		}
		if len(vals) > 0 {
			fmt.Fprintf(b, " (%s)", strings.Join(vals, ", "))
		}
		if c.Note != "" {
			fmt.Fprintf(b, ": %s", c.Note)
		}
		b.WriteString("\n")
	}
}
