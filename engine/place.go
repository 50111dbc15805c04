package engine

import (
	"context"
	"errors"
	"slices"

	"github.com/didrouter/didrouter/routing"
)

// placeNew routes a task inside the transaction that created it, as route
// would after commit: reserve the best eligible worker at its target, or,
// when nobody is reservable and skip_if holds, move on and try again. A new
// call then costs one transaction instead of one to store it, one per skip
// and one to reserve. The task is locked by its own insert, so nobody else
// can move it meanwhile.
//
// It returns the reservation made (nil: the task waits where t now is) and
// the workers whose claim failed, whose index entries are stale. t is
// updated to the task as stored.
func (e *Engine) placeNew(ctx context.Context, tx Tx, fx *effects, wfRow Workflow, wf *routing.Workflow, t *Task, attrs routing.Attributes) (*reserved, []string, error) {
	if e.paused.Load() {
		return nil, nil, nil // ResumeRouting serves it
	}
	wi, err := e.index(ctx, t.WorkspaceSID)
	if err != nil {
		return nil, nil, err
	}
	var stale []string
	for range maxRouteSteps {
		tgt, ok := targetAt(wf, t.FilterIndex, t.TargetIndex)
		if !ok {
			return nil, stale, nil
		}
		tried := make(map[string]bool)
		skip := func(sid string) bool { return tried[sid] || slices.Contains(t.RejectedWorkers, sid) }
		for range 3 {
			wi.mu.RLock()
			cands := wi.ix.Eligible(&tgt, attrs, skip, candidatesPerRound)
			wi.mu.RUnlock()
			if len(cands) == 0 {
				break
			}
			for _, c := range cands {
				tried[c.SID] = true
				r, err := e.reserveLocked(ctx, tx, fx, wfRow, *t, c.SID)
				switch {
				case err == nil:
					*t = r.task
					return r, stale, nil
				case errors.Is(err, errWorkerTaken):
					stale = append(stale, c.SID)
				default:
					return nil, stale, err
				}
			}
		}
		if skip, err := e.shouldSkip(ctx, t.WorkspaceSID, &tgt, attrs); err != nil || !skip {
			return nil, stale, err
		}
		if _, _, ok := nextPosition(wf, t.FilterIndex, t.TargetIndex, attrs, true); !ok {
			return nil, stale, nil // nowhere to skip to: wait here
		}
		moved, err := e.moveOnTask(ctx, tx, fx, wf, *t, attrs, moveSkip)
		if err != nil {
			return nil, stale, err
		}
		*t = moved
	}
	return nil, stale, nil // a workflow this long waits; route goes on after commit
}
