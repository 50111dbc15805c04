package routing

import (
	"math/bits"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// WorkerInfo is what the index knows about a worker.
type WorkerInfo struct {
	SID, FriendlyName string
	Attributes        Attributes // shared, never modified by the index
	Available         bool       // the worker's activity is an available one
	Capacity, Busy    int        // voice capacity and tasks/reservations held
	// MessageCapacity and MessageBusy are the same for Messages, a capacity
	// of its own.
	MessageCapacity, MessageBusy int
	IdleSince                    time.Time // zero = idle for ever (first in line)
	Version                      int64
	// ActivitySID and ActivityName are optional; when set, expressions can
	// use worker.activity_sid / worker.activity_name and skip_if can count
	// workers.<activity>.
	ActivitySID, ActivityName string
}

// Capacity names one of a worker's capacities. The engine maps a task's
// channel onto one. The voicemail and call-back tasks didrouter makes when
// nobody answers take Messages, and every other task takes Voice.
type Capacity int

const (
	Voice    Capacity = iota // WorkerInfo.Capacity and Busy
	Messages                 // WorkerInfo.MessageCapacity and MessageBusy
)

// free reports whether the worker could take a voice reservation now.
func (w *WorkerInfo) free() bool { return w.Available && w.Busy < w.Capacity }

// freeMsg reports whether the worker could take a message reservation now.
func (w *WorkerInfo) freeMsg() bool { return w.Available && w.MessageBusy < w.MessageCapacity }

// FreeOn reports whether the worker could take a reservation needing a
// unit of capacity c now.
func (w *WorkerInfo) FreeOn(c Capacity) bool {
	if c == Messages {
		return w.freeMsg()
	}
	return w.free()
}

// Hold changes by d what the worker holds of capacity c. Degraded mode
// counts its claims in the index this way.
func (w *WorkerInfo) Hold(c Capacity, d int) {
	if c == Messages {
		w.MessageBusy = max(w.MessageBusy+d, 0)
		return
	}
	w.Busy = max(w.Busy+d, 0)
}

// wrec is the index's record of a worker.
type wrec struct {
	info WorkerInfo // Attributes nil when list holds them
	list attrList   // the attributes of most workers (see attrList); nil: info.Attributes
	// asMap is list as a map, made the first time the worker is handed
	// out (the engine routes a worker again and again; the map then costs
	// nothing more) and dropped when the worker changes.
	asMap atomic.Pointer[Attributes]
	box   builtinBox
	slot  int32 // position in Index.slots, the worker's bit in queue sets
}

// resolve resolves a worker path (as resolveWorker) on an indexed worker.
func (r *wrec) resolve(path []seg) any {
	return resolveBoxed(r.info.Attributes, r.list, &r.box, path)
}

// out is the worker as the index's callers see it, attributes as a map,
// kept for the next time (routing hands the same workers out again and
// again). It may run under the read lock.
func (r *wrec) out() WorkerInfo {
	info := r.info
	if r.list != nil {
		if p := r.asMap.Load(); p != nil {
			info.Attributes = *p
		} else {
			m := r.list.toMap()
			if !r.asMap.CompareAndSwap(nil, &m) {
				m = *r.asMap.Load() // another reader made it first
			}
			info.Attributes = m
		}
	}
	return info
}

// outOnce is out for lists of many workers (queue members, every match):
// a map not kept yet is made for this answer only, so that one listing of
// a large queue does not keep a map for each of its workers.
func (r *wrec) outOnce() WorkerInfo {
	info := r.info
	if r.list != nil {
		if p := r.asMap.Load(); p != nil {
			info.Attributes = *p
		} else {
			info.Attributes = r.list.toMap()
		}
	}
	return info
}

// keepMapsUpTo is the longest answer whose workers keep their maps.
const keepMapsUpTo = 64

// queueIdx is a TaskQueue's membership: a bit per worker slot.
type queueIdx struct {
	expr    *Expr
	members []uint64
	n       int
	free    freeSet // members who could take a voice reservation now
	// msgFree is free for the Messages capacity. Messages are rare, so it
	// is nil until the first one is routed to the queue. It is built then
	// and kept current afterwards.
	msgFree     *freeSet
	deferFree   bool // loading: free is left to EndLoad
	available   int
	unavailable int
	byActivity  map[string]int
}

func (q *queueIdx) has(r *wrec) bool {
	w := int(r.slot >> 6)
	return w < len(q.members) && q.members[w]&(1<<(uint(r.slot)&63)) != 0
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
	slots   []*wrec        // every worker at its slot; nil = free
	free    []int32        // free slots
	byName  keySet[string] // friendly name → workers (known_worker_friendly_name)
	queues  map[string]*queueIdx
	paths   map[string]*pathIdx // canonical worker key → value index
	shared  map[string]any      // activity sids and names, boxed once for every worker
	loading bool                // between BeginLoad and EndLoad

	scanOnly bool // tests and benchmarks: answer every query by scanning
}

// maxShared bounds Index.shared.
const maxShared = 4096

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{
		workers: map[string]*wrec{},
		byName:  newKeySet[string](),
		queues:  map[string]*queueIdx{},
		paths:   map[string]*pathIdx{},
		shared:  map[string]any{},
	}
}

// Reserve makes room for n workers in an index about to be loaded, so
// that its tables do not grow step by step.
func (ix *Index) Reserve(n int) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if n <= len(ix.workers) {
		return
	}
	workers := make(map[string]*wrec, n)
	for k, r := range ix.workers {
		workers[k] = r
	}
	ix.workers = workers
	if len(ix.byName.one) == 0 {
		ix.byName.one = make(map[string]*wrec, n)
	}
	for _, p := range ix.paths {
		if len(p.scalars.strs.one) == 0 {
			p.scalars.strs.one = make(map[string]*wrec, n)
		}
	}
	if cap(ix.slots) < n {
		slots := make([]*wrec, len(ix.slots), n)
		copy(slots, ix.slots)
		ix.slots = slots
	}
	words := (n + 63) / 64
	for _, q := range ix.queues {
		if cap(q.members) < words {
			m := make([]uint64, len(q.members), words)
			copy(m, q.members)
			q.members = m
		}
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
	return r.out(), true
}

// UpsertWorker adds or replaces a worker. A version older than the stored
// one is ignored (a late change-feed message must not undo a newer write);
// an equal version is applied again.
func (ix *Index) UpsertWorker(w WorkerInfo) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	list := listOf(w.Attributes)
	if list != nil {
		w.Attributes = nil
	}
	ix.upsert(w, list, nil)
}

// UpsertPrepared is UpsertWorker for many workers under one lock (loading
// an index), their attributes parsed by AttributeParser.Prepare. The
// records of new workers are allocated together.
func (ix *Index) UpsertPrepared(ws []PreparedWorker) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	slab := make([]wrec, len(ws))
	for i := range ws {
		ix.upsert(ws[i].info, ws[i].list, &slab[i])
	}
}

// upsert is UpsertWorker under the lock, the attributes in list when it is
// not nil; spare, when not nil, is the record to use for a new worker.
func (ix *Index) upsert(w WorkerInfo, list attrList, spare *wrec) {
	r, ok := ix.workers[w.SID]
	if ok {
		if w.Version < r.info.Version {
			return
		}
		ix.unlink(r)
		r.info, r.list = w, list
		r.asMap.Store(nil)
	} else {
		r = spare
		if r == nil {
			r = &wrec{}
		}
		r.info, r.list = w, list
		if n := len(ix.free); n > 0 {
			r.slot = ix.free[n-1]
			ix.free = ix.free[:n-1]
			ix.slots[r.slot] = r
		} else {
			r.slot = int32(len(ix.slots))
			ix.slots = append(ix.slots, r)
		}
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
	ix.slots[r.slot] = nil
	ix.free = append(ix.free, r.slot)
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
		if q.has(r) {
			in = append(in, q)
			q.unfree(r)
		}
	}
	r.info.Busy = busy
	r.info.IdleSince = idleSince
	for _, q := range in {
		q.refree(r)
	}
}

// unfree takes r out of q's free sets. Call it before r's state changes.
func (q *queueIdx) unfree(r *wrec) {
	if q.deferFree {
		return
	}
	if r.info.free() {
		q.free.delete(r)
	}
	if q.msgFree != nil && r.info.freeMsg() {
		q.msgFree.delete(r)
	}
}

// refree puts r into the free sets of q it belongs in now.
func (q *queueIdx) refree(r *wrec) {
	if q.deferFree {
		return
	}
	if r.info.free() {
		q.free.insert(r)
	}
	if q.msgFree != nil && r.info.freeMsg() {
		q.msgFree.insert(r)
	}
}

// ensureMsgFree builds the message free set of a queue that has none yet.
func (ix *Index) ensureMsgFree(queueSID string) {
	ix.mu.RLock()
	q, ok := ix.queues[queueSID]
	built := !ok || q.msgFree != nil || q.deferFree
	ix.mu.RUnlock()
	if built {
		return
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if q, ok = ix.queues[queueSID]; !ok || q.msgFree != nil || q.deferFree {
		return
	}
	items := make([]freeItem, 0, 64)
	ix.eachMember(q, func(r *wrec) bool {
		if r.info.freeMsg() {
			items = append(items, freeKey(r))
		}
		return true
	})
	f := newFreeSetOf(items)
	q.msgFree = &f
}

// BeginLoad and EndLoad bracket the loading of a fresh index that nobody
// queries meanwhile, because the engine publishes an index only once it is
// loaded. In between, the queues' free sets are not kept. EndLoad builds
// them in one ordered pass, which is much cheaper than a million scattered
// inserts.
func (ix *Index) BeginLoad() {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.loading = true
	for _, q := range ix.queues {
		q.deferFree = true
		q.msgFree = nil // built again on first use
	}
}

// EndLoad: see BeginLoad.
func (ix *Index) EndLoad() {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.loading = false
	for _, q := range ix.queues {
		if !q.deferFree {
			continue
		}
		items := make([]freeItem, 0, q.n)
		ix.eachMember(q, func(r *wrec) bool {
			if r.info.free() {
				items = append(items, freeKey(r))
			}
			return true
		})
		q.free = newFreeSetOf(items)
		q.deferFree = false
	}
}

// SetQueue creates or redefines a queue and computes its membership. A nil
// targetWorkers expression gives an empty queue (as an empty TargetWorkers
// does in TaskRouter); use "1==1" for everyone.
func (ix *Index) SetQueue(queueSID string, targetWorkers *Expr) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	q := &queueIdx{expr: targetWorkers, free: newFreeSet(), deferFree: ix.loading, byActivity: map[string]int{}}
	ix.queues[queueSID] = q
	if targetWorkers == nil {
		return
	}
	for _, r := range ix.slots {
		if r != nil && targetWorkers.evalRec(nil, r) {
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
	out := make([]WorkerInfo, 0, q.n)
	ix.eachMember(q, func(r *wrec) bool {
		out = append(out, r.outOnce())
		return true
	})
	sort.Slice(out, func(i, j int) bool { return out[i].SID < out[j].SID })
	return out
}

// eachMember calls fn for every member of q, in slot order, until fn
// returns false.
func (ix *Index) eachMember(q *queueIdx, fn func(*wrec) bool) {
	for w, word := range q.members {
		for word != 0 {
			b := bits.TrailingZeros64(word)
			word &= word - 1
			if !fn(ix.slots[w<<6+b]) {
				return
			}
		}
	}
}

// HasQueue reports whether a queue is defined.
func (ix *Index) HasQueue(queueSID string) bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	_, ok := ix.queues[queueSID]
	return ok
}

func (q *queueIdx) add(r *wrec) {
	if q.has(r) {
		return
	}
	w := int(r.slot >> 6)
	for w >= len(q.members) {
		q.members = append(q.members, 0)
	}
	q.members[w] |= 1 << (uint(r.slot) & 63)
	q.n++
	q.refree(r)
	q.count(r, 1)
}

func (q *queueIdx) remove(r *wrec) {
	if !q.has(r) {
		return
	}
	q.members[r.slot>>6] &^= 1 << (uint(r.slot) & 63)
	q.n--
	q.unfree(r)
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
	ix.boxFields(r)
	if r.info.FriendlyName != "" {
		ix.byName.add(r.info.FriendlyName, r)
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
	if r.info.FriendlyName != "" {
		ix.byName.remove(r.info.FriendlyName, r)
	}
	for _, p := range ix.paths {
		p.delete(r)
	}
	for _, q := range ix.queues {
		q.remove(r)
	}
}

// Eligible returns the members of t.Queue who match t's expression and
// known worker, are available with Busy < Capacity, and are not skipped.
// They come ordered by t.OrderBy, then longest idle first, then sid. It
// returns at most max of them, or all when max is 0.
//
// skip runs while the index is read-locked, so it must not call the index's
// writing methods. The returned workers share their Attributes maps with
// the index, so do not modify them. It asks for a voice task, and
// EligibleOn for a task that needs another capacity.
func (ix *Index) Eligible(t *Target, task Attributes, skip func(workerSID string) bool, max int) []WorkerInfo {
	return ix.EligibleAppend(nil, t, task, skip, max)
}

// EligibleAppend is Eligible appending to dst.
func (ix *Index) EligibleAppend(dst []WorkerInfo, t *Target, task Attributes, skip func(workerSID string) bool, max int) []WorkerInfo {
	return ix.query(dst, t, task, Voice, true, skip, max)
}

// EligibleOn is Eligible for a task that needs a unit of capacity c. Only
// workers with room there are eligible.
func (ix *Index) EligibleOn(c Capacity, t *Target, task Attributes, skip func(workerSID string) bool, max int) []WorkerInfo {
	return ix.query(nil, t, task, c, true, skip, max)
}

// Matches is Eligible ignoring availability, capacity and skipping: every
// queue member the target would consider.
func (ix *Index) Matches(t *Target, task Attributes) []WorkerInfo {
	return ix.query(nil, t, task, Voice, false, nil, 0)
}

func (ix *Index) query(dst []WorkerInfo, t *Target, task Attributes, capacity Capacity, needFree bool, skip func(string) bool, max int) []WorkerInfo {
	if t == nil {
		return dst
	}
	ix.ensurePaths(t.Expr)
	msg := capacity == Messages
	if msg && needFree {
		ix.ensureMsgFree(t.Queue)
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	q, ok := ix.queues[t.Queue]
	if !ok {
		return dst
	}
	known, bySID, hasKnown := t.KnownWorker(task)
	accept := func(r *wrec) bool {
		if needFree && !r.info.FreeOn(capacity) {
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
		} else if known != "" {
			ix.byName.candidates(&c, known)
		}
		hits = c.filter(q, accept)
	default:
		c := ix.plan(t.Expr, task)
		switch {
		case c.all && needFree && (!msg || q.msgFree != nil):
			// Only free members can be eligible; without order_by keys
			// the free set's order is the answer's, so the walk stops at
			// max instead of visiting every free member.
			stopAtMax := max > 0 && len(t.OrderBy) == 0
			set := q.free
			if msg {
				set = *q.msgFree
			}
			set.each(func(r *wrec) bool {
				if accept(r) {
					hits = append(hits, r)
				}
				return !stopAtMax || len(hits) < max
			})
		case c.all:
			ix.eachMember(q, func(r *wrec) bool {
				if accept(r) {
					hits = append(hits, r)
				}
				return true
			})
		default:
			hits = c.filter(q, accept)
		}
	}
	hits = rank(hits, t.OrderBy, max)
	for _, r := range hits {
		if len(hits) <= keepMapsUpTo {
			dst = append(dst, r.out())
		} else {
			dst = append(dst, r.outOnce())
		}
	}
	return dst
}

// Workers returns every worker ordered by sid.
func (ix *Index) Workers() []WorkerInfo {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	out := make([]WorkerInfo, 0, len(ix.workers))
	for _, r := range ix.slots {
		if r != nil {
			out = append(out, r.outOnce())
		}
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
	return q.has(r)
}

// WorkersNamed returns the workers with a friendly name (compared without
// regard to case when no name matches exactly), ordered by sid.
func (ix *Index) WorkersNamed(name string) []WorkerInfo {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var out []WorkerInfo
	add := func(r *wrec) { out = append(out, r.outOnce()) }
	ix.byName.each(name, add)
	if len(out) == 0 {
		for n, r := range ix.byName.one {
			if strings.EqualFold(n, name) {
				add(r)
			}
		}
		for n, b := range ix.byName.many {
			if strings.EqualFold(n, name) {
				for _, r := range b.ws {
					add(r)
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
	out := make([]WorkerInfo, 0, min(n, q.n))
	ix.eachMember(q, func(r *wrec) bool {
		if len(out) >= n {
			return false
		}
		out = append(out, r.outOnce())
		return true
	})
	sort.Slice(out, func(i, j int) bool { return out[i].SID < out[j].SID })
	return out
}

// boxFields boxes a worker's own fields for the evaluator (see
// builtinBox). Activity sids and names, shared by many workers, are kept
// once for all of them; boxes still holding the same string are reused.
func (ix *Index) boxFields(r *wrec) {
	for i := range r.box {
		s := r.info.field(i)
		if s == "" {
			r.box[i] = nil
			continue
		}
		if old, ok := r.box[i].(string); ok && old == s {
			continue
		}
		if i != fieldActivitySID && i != fieldActivityName {
			r.box[i] = s
			continue
		}
		v, ok := ix.shared[s]
		if !ok {
			v = s
			if len(ix.shared) < maxShared {
				ix.shared[s] = v
			}
		}
		r.box[i] = v
		if i == fieldActivitySID {
			r.info.ActivitySID = v.(string)
		} else {
			r.info.ActivityName = v.(string)
		}
	}
}
