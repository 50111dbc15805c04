package routing

import (
	"sort"
	"strings"
	"sync"
	"time"
)

// WorkerInfo is what the index knows about a worker.
type WorkerInfo struct {
	SID, FriendlyName string
	Attributes        Attributes // shared, never modified by the index
	Available         bool       // the worker's activity is an available one
	Capacity, Busy    int        // voice capacity and tasks/reservations held
	IdleSince         time.Time  // zero = idle for ever (first in line)
	Version           int64
	// ActivitySID and ActivityName are optional; when set, expressions can
	// use worker.activity_sid / worker.activity_name and skip_if can count
	// workers.<activity>.
	ActivitySID, ActivityName string
}

// free reports whether the worker could take a reservation now.
func (w *WorkerInfo) free() bool { return w.Available && w.Busy < w.Capacity }

// wrec is the index's record of a worker.
type wrec struct {
	info WorkerInfo
	box  builtinBox
}

// queueIdx is a TaskQueue's membership.
type queueIdx struct {
	expr        *Expr
	members     map[*wrec]struct{}
	free        freeSet // members who could take a reservation now
	available   int
	unavailable int
	byActivity  map[string]int
}

// Index holds workers, queue membership and attribute indexes. It is safe
// for concurrent use.
//
// Target expressions are answered from hash indexes over the worker keys
// they compare with (built on first use of each key, then kept current),
// so a lookup such as "task.phone_number CONTAINS worker.phone_number"
// costs the same with a thousand or a million workers. Every candidate an
// index proposes is checked with the full expression, and expressions the
// indexes cannot narrow are evaluated against every queue member, so the
// answer is always exactly what evaluating each member would give.
type Index struct {
	mu      sync.RWMutex
	workers map[string]*wrec
	byName  map[string]*bucket // friendly name → workers (known_worker_friendly_name)
	queues  map[string]*queueIdx
	paths   map[string]*pathIdx // canonical worker key → value index

	scanOnly bool // tests and benchmarks: answer every query by scanning
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{
		workers: map[string]*wrec{},
		byName:  map[string]*bucket{},
		queues:  map[string]*queueIdx{},
		paths:   map[string]*pathIdx{},
	}
}

// Len returns the number of workers.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.workers)
}

// Worker returns a worker by sid.
func (ix *Index) Worker(sid string) (WorkerInfo, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	r, ok := ix.workers[sid]
	if !ok {
		return WorkerInfo{}, false
	}
	return r.info, true
}

// UpsertWorker adds or replaces a worker. A version older than the stored
// one is ignored (a late change-feed message must not undo a newer write);
// an equal version is applied again.
func (ix *Index) UpsertWorker(w WorkerInfo) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	r, ok := ix.workers[w.SID]
	if ok {
		if w.Version < r.info.Version {
			return
		}
		ix.unlink(r)
		r.info = w
	} else {
		r = &wrec{info: w}
		ix.workers[w.SID] = r
	}
	ix.link(r)
}

// RemoveWorker forgets a worker.
func (ix *Index) RemoveWorker(sid string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	r, ok := ix.workers[sid]
	if !ok {
		return
	}
	ix.unlink(r)
	delete(ix.workers, sid)
}

// SetBusy updates a worker's load and idle time without re-indexing its
// attributes.
func (ix *Index) SetBusy(sid string, busy int, idleSince time.Time) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	r, ok := ix.workers[sid]
	if !ok {
		return
	}
	// The free sets are keyed by idle time: take the worker out before
	// changing it, and put it back where it is still free.
	var in []*queueIdx
	for _, q := range ix.queues {
		if _, member := q.members[r]; member {
			in = append(in, q)
			if r.info.free() {
				q.free.delete(r)
			}
		}
	}
	r.info.Busy = busy
	r.info.IdleSince = idleSince
	if r.info.free() {
		for _, q := range in {
			q.free.insert(r)
		}
	}
}

// SetQueue creates or redefines a queue and computes its membership. A nil
// targetWorkers expression gives an empty queue (as an empty TargetWorkers
// does in TaskRouter); use "1==1" for everyone.
func (ix *Index) SetQueue(queueSID string, targetWorkers *Expr) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	q := &queueIdx{expr: targetWorkers, members: map[*wrec]struct{}{}, free: newFreeSet(), byActivity: map[string]int{}}
	ix.queues[queueSID] = q
	if targetWorkers == nil {
		return
	}
	for _, r := range ix.workers {
		if targetWorkers.evalRec(nil, r) {
			q.add(r)
		}
	}
}

// RemoveQueue forgets a queue.
func (ix *Index) RemoveQueue(queueSID string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	delete(ix.queues, queueSID)
}

// QueueStats returns the counts skip_if sees for a queue.
func (ix *Index) QueueStats(queueSID string) (QueueStats, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	q, ok := ix.queues[queueSID]
	if !ok {
		return QueueStats{}, false
	}
	s := QueueStats{Available: q.available, Unavailable: q.unavailable, ByActivity: make(map[string]int, len(q.byActivity))}
	for k, v := range q.byActivity {
		s.ByActivity[k] = v
	}
	return s, true
}

// Members returns a queue's members ordered by sid (nil for an unknown queue).
func (ix *Index) Members(queueSID string) []WorkerInfo {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	q, ok := ix.queues[queueSID]
	if !ok {
		return nil
	}
	out := make([]WorkerInfo, 0, len(q.members))
	for r := range q.members {
		out = append(out, r.info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SID < out[j].SID })
	return out
}

// HasQueue reports whether a queue is defined.
func (ix *Index) HasQueue(queueSID string) bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	_, ok := ix.queues[queueSID]
	return ok
}

func (q *queueIdx) add(r *wrec) {
	q.members[r] = struct{}{}
	if r.info.free() {
		q.free.insert(r)
	}
	q.count(r, 1)
}

func (q *queueIdx) remove(r *wrec) {
	if _, ok := q.members[r]; !ok {
		return
	}
	delete(q.members, r)
	if r.info.free() {
		q.free.delete(r)
	}
	q.count(r, -1)
}

func (q *queueIdx) count(r *wrec, d int) {
	if r.info.Available {
		q.available += d
	} else {
		q.unavailable += d
	}
	for _, a := range [...]string{r.info.ActivitySID, r.info.ActivityName} {
		if a == "" {
			continue
		}
		if n := q.byActivity[a] + d; n != 0 {
			q.byActivity[a] = n
		} else {
			delete(q.byActivity, a)
		}
	}
}

// link adds a worker's current state to every index and queue.
func (ix *Index) link(r *wrec) {
	r.box = boxFields(&r.info)
	if r.info.FriendlyName != "" {
		b := ix.byName[r.info.FriendlyName]
		if b == nil {
			b = &bucket{}
			ix.byName[r.info.FriendlyName] = b
		}
		b.add(r)
	}
	for _, p := range ix.paths {
		p.insert(r)
	}
	for _, q := range ix.queues {
		if q.expr != nil && q.expr.evalRec(nil, r) {
			q.add(r)
		}
	}
}

// unlink removes a worker's current state from every index and queue.
func (ix *Index) unlink(r *wrec) {
	if b := ix.byName[r.info.FriendlyName]; b != nil {
		b.remove(r)
		if len(b.ws) == 0 {
			delete(ix.byName, r.info.FriendlyName)
		}
	}
	for _, p := range ix.paths {
		p.delete(r)
	}
	for _, q := range ix.queues {
		q.remove(r)
	}
}

// Eligible returns the members of t.Queue for whom t's expression (and
// known worker) holds, who are available with Busy < Capacity and not
// skipped, ordered by t.OrderBy, then longest idle first, then sid; at most
// max of them (0 = all). skip runs while the index is read-locked: it must
// not call the index's writing methods. The returned workers share their
// Attributes maps with the index; do not modify them.
func (ix *Index) Eligible(t *Target, task Attributes, skip func(workerSID string) bool, max int) []WorkerInfo {
	return ix.EligibleAppend(nil, t, task, skip, max)
}

// EligibleAppend is Eligible appending to dst.
func (ix *Index) EligibleAppend(dst []WorkerInfo, t *Target, task Attributes, skip func(workerSID string) bool, max int) []WorkerInfo {
	return ix.query(dst, t, task, true, skip, max)
}

// Matches is Eligible ignoring availability, capacity and skipping: every
// queue member the target would consider.
func (ix *Index) Matches(t *Target, task Attributes) []WorkerInfo {
	return ix.query(nil, t, task, false, nil, 0)
}

func (ix *Index) query(dst []WorkerInfo, t *Target, task Attributes, needFree bool, skip func(string) bool, max int) []WorkerInfo {
	if t == nil {
		return dst
	}
	ix.ensurePaths(t.Expr)
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	q, ok := ix.queues[t.Queue]
	if !ok {
		return dst
	}
	known, bySID, hasKnown := t.KnownWorker(task)
	accept := func(r *wrec) bool {
		if needFree && !r.info.free() {
			return false
		}
		if hasKnown {
			if bySID && r.info.SID != known || !bySID && r.info.FriendlyName != known {
				return false
			}
		}
		if !t.Expr.evalRec(task, r) {
			return false
		}
		return skip == nil || !skip(r.info.SID)
	}
	var hits []*wrec
	switch {
	case hasKnown:
		var c cands
		if bySID {
			if r, ok := ix.workers[known]; ok && known != "" {
				c.addOne(r)
			}
		} else if b := ix.byName[known]; b != nil && known != "" {
			c.addList(b.ws)
		}
		hits = c.filter(q, accept)
	default:
		c := ix.plan(t.Expr, task)
		switch {
		case c.all && needFree:
			// Only free members can be eligible; without order_by keys
			// the free set's order is the answer's, so the walk stops at
			// max instead of visiting every free member.
			stopAtMax := max > 0 && len(t.OrderBy) == 0
			q.free.each(func(r *wrec) bool {
				if accept(r) {
					hits = append(hits, r)
				}
				return !stopAtMax || len(hits) < max
			})
		case c.all:
			for r := range q.members {
				if accept(r) {
					hits = append(hits, r)
				}
			}
		default:
			hits = c.filter(q, accept)
		}
	}
	hits = rank(hits, t.OrderBy, max)
	for _, r := range hits {
		dst = append(dst, r.info)
	}
	return dst
}

// Workers returns every worker ordered by sid.
func (ix *Index) Workers() []WorkerInfo {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	out := make([]WorkerInfo, 0, len(ix.workers))
	for _, r := range ix.workers {
		out = append(out, r.info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SID < out[j].SID })
	return out
}

// QueueExpr returns a queue's target_workers expression.
func (ix *Index) QueueExpr(queueSID string) (*Expr, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	q, ok := ix.queues[queueSID]
	if !ok {
		return nil, false
	}
	return q.expr, true
}

// IsMember reports whether a worker is in a queue.
func (ix *Index) IsMember(queueSID, workerSID string) bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	q, ok := ix.queues[queueSID]
	r, known := ix.workers[workerSID]
	if !ok || !known {
		return false
	}
	_, member := q.members[r]
	return member
}

// WorkersNamed returns the workers with a friendly name (compared without
// regard to case when no name matches exactly), ordered by sid.
func (ix *Index) WorkersNamed(name string) []WorkerInfo {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var out []WorkerInfo
	if b := ix.byName[name]; b != nil {
		for _, r := range b.ws {
			out = append(out, r.info)
		}
	} else {
		for n, b := range ix.byName {
			if strings.EqualFold(n, name) {
				for _, r := range b.ws {
					out = append(out, r.info)
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SID < out[j].SID })
	return out
}

// someMembers returns up to n members of a queue, ordered by sid (which n
// is unspecified when the queue has more).
func (ix *Index) someMembers(queueSID string, n int) []WorkerInfo {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	q, ok := ix.queues[queueSID]
	if !ok {
		return nil
	}
	out := make([]WorkerInfo, 0, min(n, len(q.members)))
	for r := range q.members {
		if len(out) >= n {
			break
		}
		out = append(out, r.info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SID < out[j].SID })
	return out
}
