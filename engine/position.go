package engine

import (
	"github.com/didrouter/didrouter/routing"
)

// A task's position in its workflow is a filter and a target. Filter -1 is
// the default filter, whose only target is Workflow.Default. Positions only
// move forward, to a later target, a later filter, then the default
// filter. So one task never enters a position twice.
const defaultFilter = -1

// targetsOf returns the targets of a filter of wf.
func targetsOf(wf *routing.Workflow, filter int) []routing.Target {
	switch {
	case filter == defaultFilter:
		if wf.Default == nil {
			return nil
		}
		return []routing.Target{*wf.Default}
	case filter >= 0 && filter < len(wf.Filters):
		return wf.Filters[filter].Targets
	default:
		return nil
	}
}

// targetAt returns the target at a position; false when the workflow no
// longer has it (its configuration was changed).
func targetAt(wf *routing.Workflow, filter, target int) (routing.Target, bool) {
	ts := targetsOf(wf, filter)
	if target < 0 || target >= len(ts) {
		return routing.Target{}, false
	}
	return ts[target], true
}

// firstPosition is where a new task enters wf: the first target of the first
// matching filter, else the default filter. ok is false when nothing matches
// and there is no default filter.
func firstPosition(wf *routing.Workflow, attrs routing.Attributes) (filter int, ok bool) {
	fi, targets := wf.Match(attrs)
	if len(targets) > 0 {
		return fi, true
	}
	if fi != defaultFilter {
		// A matched filter without targets cannot route: fall through as
		// TaskRouter does for a skipped filter.
		return laterFilter(wf, fi, attrs)
	}
	return 0, false
}

// laterFilter finds the first filter after `after` that matches attrs and has
// targets, else the default filter.
func laterFilter(wf *routing.Workflow, after int, attrs routing.Attributes) (int, bool) {
	for j := after + 1; j < len(wf.Filters); j++ {
		f := wf.Filters[j]
		if len(f.Targets) > 0 && (f.Expr == nil || f.Expr.Eval(attrs, nil)) {
			return j, true
		}
	}
	if wf.Default != nil {
		return defaultFilter, true
	}
	return 0, false
}

// nextPosition is where a task goes after leaving (filter, target).
//
// A step timeout moves to the next target of the same filter only. Past
// the filter's final target the task has timed out of the workflow, and
// TaskRouter cancels it. A skip happens when skip_if holds and nobody is
// reservable. Past the final target it leaves the filter as if it had not
// matched, for the next matching filter, else the default filter.
func nextPosition(wf *routing.Workflow, filter, target int, attrs routing.Attributes, skipping bool) (int, int, bool) {
	if target+1 < len(targetsOf(wf, filter)) {
		return filter, target + 1, true
	}
	if !skipping || filter == defaultFilter {
		return 0, 0, false
	}
	f, ok := laterFilter(wf, filter, attrs)
	if !ok {
		return 0, 0, false
	}
	return f, 0, true
}
