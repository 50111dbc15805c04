package routing

import (
	"sort"
)

// bucket is the set of workers sharing one indexed value. Small sets are a
// slice; large ones also keep positions so removal stays O(1).
type bucket struct {
	ws  []*wrec
	pos map[*wrec]int
}

const bucketMapAt = 16

func (b *bucket) add(r *wrec) {
	if b.pos != nil {
		if _, ok := b.pos[r]; ok {
			return
		}
		b.pos[r] = len(b.ws)
		b.ws = append(b.ws, r)
		return
	}
	for _, x := range b.ws {
		if x == r {
			return
		}
	}
	b.ws = append(b.ws, r)
	if len(b.ws) > bucketMapAt {
		b.pos = make(map[*wrec]int, len(b.ws)*2)
		for i, x := range b.ws {
			b.pos[x] = i
		}
	}
}

func (b *bucket) remove(r *wrec) {
	i := -1
	if b.pos != nil {
		j, ok := b.pos[r]
		if !ok {
			return
		}
		i = j
		delete(b.pos, r)
	} else {
		for j, x := range b.ws {
			if x == r {
				i = j
				break
			}
		}
		if i < 0 {
			return
		}
	}
	last := len(b.ws) - 1
	if i != last {
		b.ws[i] = b.ws[last]
		if b.pos != nil {
			b.pos[b.ws[i]] = i
		}
	}
	b.ws[last] = nil
	b.ws = b.ws[:last]
}

// keySet maps keys to the workers holding them. Most keys of a large
// fleet belong to one worker (phone numbers, names): those are a plain
// pointer in one; keys shared by several workers have a bucket in many.
type keySet[K comparable] struct {
	one  map[K]*wrec
	many map[K]*bucket
}

func newKeySet[K comparable]() keySet[K] {
	return keySet[K]{one: map[K]*wrec{}, many: map[K]*bucket{}}
}

func (s *keySet[K]) add(k K, r *wrec) {
	if len(s.many) > 0 {
		if b := s.many[k]; b != nil {
			b.add(r)
			return
		}
	}
	o, ok := s.one[k]
	switch {
	case !ok:
		s.one[k] = r
	case o != r:
		delete(s.one, k)
		s.many[k] = &bucket{ws: []*wrec{o, r}}
	}
}

func (s *keySet[K]) remove(k K, r *wrec) {
	if o, ok := s.one[k]; ok {
		if o == r {
			delete(s.one, k)
		}
		return
	}
	b := s.many[k]
	if b == nil {
		return
	}
	b.remove(r)
	switch len(b.ws) {
	case 0:
		delete(s.many, k)
	case 1:
		s.one[k] = b.ws[0]
		delete(s.many, k)
	}
}

// candidates adds the workers holding k to c.
func (s *keySet[K]) candidates(c *cands, k K) {
	if r, ok := s.one[k]; ok {
		c.addOne(r)
	} else if b := s.many[k]; b != nil {
		c.addList(b.ws)
	}
}

// each calls fn for the workers holding k.
func (s *keySet[K]) each(k K, fn func(*wrec)) {
	if r, ok := s.one[k]; ok {
		fn(r)
	} else if b := s.many[k]; b != nil {
		for _, r := range b.ws {
			fn(r)
		}
	}
}

// vals indexes scalar values: strings by themselves (the common case,
// cheaper to hash), numbers and booleans by key.
type vals struct {
	strs  keySet[string]
	other keySet[vkey]
}

func newVals() vals { return vals{strs: newKeySet[string](), other: newKeySet[vkey]()} }

func (v *vals) add(k vkey, r *wrec) {
	if k.k == kStr {
		v.strs.add(k.s, r)
	} else {
		v.other.add(k, r)
	}
}

func (v *vals) remove(k vkey, r *wrec) {
	if k.k == kStr {
		v.strs.remove(k.s, r)
	} else {
		v.other.remove(k, r)
	}
}

func (v *vals) candidates(c *cands, k vkey) {
	if k.k == kStr {
		v.strs.candidates(c, k.s)
	} else {
		v.other.candidates(c, k)
	}
}

// pathIdx indexes every worker's value at one key path. It keeps scalars
// and array elements by value. It also keeps the lengths of the non-empty
// strings, so a CONTAINS lookup probes only substrings of lengths that
// exist.
type pathIdx struct {
	path     []seg
	scalars  vals
	elems    vals
	lenCount map[int]int
	lens     []int // sorted keys of lenCount
}

func newPathIdx(path []seg) *pathIdx {
	return &pathIdx{path: path, scalars: newVals(), elems: newVals(), lenCount: map[int]int{}}
}

// insert indexes r's value (the same resolution the evaluator uses).
func (p *pathIdx) insert(r *wrec) {
	v := r.resolve(p.path)
	if k, ok := keyOf(v); ok {
		p.scalars.add(k, r)
		if k.k == kStr && k.s != "" {
			n := len(k.s)
			p.lenCount[n]++
			if p.lenCount[n] == 1 {
				i := sort.SearchInts(p.lens, n)
				p.lens = append(p.lens, 0)
				copy(p.lens[i+1:], p.lens[i:])
				p.lens[i] = n
			}
		}
		return
	}
	if arr, ok := asArr(v); ok {
		for _, e := range arr {
			if k, ok := keyOf(e); ok {
				p.elems.add(k, r)
			}
		}
	}
}

// delete removes what insert added for r's current value.
func (p *pathIdx) delete(r *wrec) {
	v := r.resolve(p.path)
	if k, ok := keyOf(v); ok {
		p.scalars.remove(k, r)
		if k.k == kStr && k.s != "" {
			n := len(k.s)
			p.lenCount[n]--
			if p.lenCount[n] <= 0 {
				delete(p.lenCount, n)
				i := sort.SearchInts(p.lens, n)
				if i < len(p.lens) && p.lens[i] == n {
					p.lens = append(p.lens[:i], p.lens[i+1:]...)
				}
			}
		}
		return
	}
	if arr, ok := asArr(v); ok {
		for _, e := range arr {
			if k, ok := keyOf(e); ok {
				p.elems.remove(k, r)
			}
		}
	}
}

// cands is a candidate set: all (no narrowing) or a union of worker lists.
// The zero value is the empty set.
type cands struct {
	all    bool
	one    *wrec // a list of one worker, held without allocating
	first  []*wrec
	more   [][]*wrec
	nlists int
	n      int
}

func (c *cands) addList(ws []*wrec) {
	if len(ws) == 0 {
		return
	}
	if c.first == nil {
		c.first = ws
	} else {
		c.more = append(c.more, ws)
	}
	c.nlists++
	c.n += len(ws)
}

func (c *cands) addOne(r *wrec) {
	if c.one == nil {
		c.one = r
		c.nlists++
		c.n++
		return
	}
	c.addList([]*wrec{r})
}

func (c *cands) merge(o cands) {
	if o.one != nil {
		c.addOne(o.one)
	}
	c.addList(o.first)
	for _, l := range o.more {
		c.addList(l)
	}
}

// filter keeps the queue members among the candidates that accept takes,
// each once.
func (c *cands) filter(q *queueIdx, accept func(*wrec) bool) []*wrec {
	var out []*wrec
	var seen map[*wrec]struct{}
	if c.nlists > 1 {
		seen = make(map[*wrec]struct{}, c.n)
	}
	visit := func(r *wrec) {
		if seen != nil {
			if _, dup := seen[r]; dup {
				return
			}
			seen[r] = struct{}{}
		}
		if q.has(r) && accept(r) {
			out = append(out, r)
		}
	}
	if c.one != nil {
		visit(c.one)
	}
	for _, r := range c.first {
		visit(r)
	}
	for _, l := range c.more {
		for _, r := range l {
			visit(r)
		}
	}
	return out
}

// maxProbes bounds the substring lookups of one CONTAINS; past it the
// queue is scanned instead.
const maxProbes = 1 << 14

// indexable reports whether a comparison can be answered from the index of
// its worker operand, and which operand that is.
func indexable(n *node) (w *operand, workerLeft bool) {
	lw := n.l.isRef && n.l.root == rootWorker
	rw := n.r.isRef && n.r.root == rootWorker
	if lw == rw {
		return nil, false
	}
	switch n.op {
	case opEq, opIn, opHas:
	case opContains:
		if lw {
			return nil, false // a substring of the worker's value: not indexable
		}
	default:
		return nil, false
	}
	if lw {
		return &n.l, true
	}
	return &n.r, false
}

// missingPaths lists the worker paths an expression can use that have no
// index yet. It runs under the read lock.
func (ix *Index) missingPaths(n *node, out [][]seg) [][]seg {
	if n == nil {
		return out
	}
	if n.kind != nCmp {
		for _, k := range n.kids {
			out = ix.missingPaths(k, out)
		}
		return out
	}
	if w, _ := indexable(n); w != nil {
		if _, ok := ix.paths[w.key]; !ok {
			out = append(out, w.path)
		}
	}
	return out
}

// ensurePaths builds the indexes an expression needs (once per key path).
func (ix *Index) ensurePaths(e *Expr) {
	if e == nil {
		return
	}
	ix.mu.RLock()
	missing := ix.missingPaths(e.root, nil)
	ix.mu.RUnlock()
	if len(missing) == 0 {
		return
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, path := range missing {
		key := pathString(path)
		if _, ok := ix.paths[key]; ok {
			continue
		}
		p := newPathIdx(path)
		for _, r := range ix.slots {
			if r != nil {
				p.insert(r)
			}
		}
		ix.paths[key] = p
	}
}

// plan narrows the workers an expression can hold for, given the task.
// It never leaves out a worker for whom the expression holds.
func (ix *Index) plan(e *Expr, task Attributes) cands {
	if e == nil || ix.scanOnly {
		return cands{all: true}
	}
	return ix.planNode(e.root, task)
}

func (ix *Index) planNode(n *node, task Attributes) cands {
	switch n.kind {
	case nAnd:
		best := cands{all: true}
		for _, k := range n.kids {
			c := ix.planNode(k, task)
			if c.all {
				continue
			}
			if c.n == 0 {
				return cands{}
			}
			if best.all || c.n < best.n {
				best = c
			}
		}
		return best
	case nOr:
		var u cands
		for _, k := range n.kids {
			c := ix.planNode(k, task)
			if c.all {
				return cands{all: true}
			}
			u.merge(c)
		}
		return u
	}
	return ix.planCmp(n, task)
}

func (ix *Index) planCmp(n *node, task Attributes) cands {
	ctx := evalCtx{task: task}
	lw := n.l.isRef && n.l.root == rootWorker
	rw := n.r.isRef && n.r.root == rootWorker
	if !lw && !rw {
		// Task-only comparison: it holds for every worker or for none.
		if compare(n.op, ctx.value(&n.l), ctx.value(&n.r)) {
			return cands{all: true}
		}
		return cands{}
	}
	w, workerLeft := indexable(n)
	if w == nil {
		return cands{all: true}
	}
	p := ix.paths[w.key]
	if p == nil {
		return cands{all: true}
	}
	var v any
	if workerLeft {
		v = ctx.value(&n.r)
	} else {
		v = ctx.value(&n.l)
	}
	var c cands
	switch {
	case n.op == opEq:
		if k, ok := keyOf(v); ok {
			p.scalars.candidates(&c, k)
		}
	case n.op == opIn && workerLeft, n.op == opHas && !workerLeft:
		// worker.P IN task.X / task.X HAS worker.P: the worker's scalar is
		// one of the task array's elements.
		arr, _ := asArr(v)
		for _, e := range arr {
			if k, ok := keyOf(e); ok {
				p.scalars.candidates(&c, k)
			}
		}
	case n.op == opIn, n.op == opHas:
		// task.X IN worker.P / worker.P HAS task.X: the worker's array
		// holds the task's scalar.
		if k, ok := keyOf(v); ok {
			p.elems.candidates(&c, k)
		}
	case n.op == opContains:
		s, _ := v.(string)
		probes := 0
		for _, l := range p.lens {
			if l > len(s) {
				break
			}
			probes += len(s) - l + 1
		}
		if probes > maxProbes {
			return cands{all: true}
		}
		for _, l := range p.lens {
			if l > len(s) {
				break
			}
			for i := 0; i+l <= len(s); i++ {
				p.scalars.strs.candidates(&c, s[i:i+l])
			}
		}
	default:
		return cands{all: true}
	}
	return c
}

// rank orders matches by the order_by keys, then longest idle, then sid.
// For each key, numeric values come first in the key's direction, and
// workers without a number at that key come after them. It keeps at most
// max matches, or all when max is 0.
func rank(hits []*wrec, keys []OrderKey, max int) []*wrec {
	paths := make([][]seg, 0, len(keys))
	desc := make([]bool, 0, len(keys))
	for _, k := range keys {
		if p, err := orderPath(k.Path); err == nil {
			paths = append(paths, p)
			desc = append(desc, k.Desc)
		}
	}
	less := func(a, b *wrec) bool {
		for i, p := range paths {
			va, oka := asNum(a.resolve(p))
			vb, okb := asNum(b.resolve(p))
			if oka != okb {
				return oka
			}
			if oka && va != vb {
				if desc[i] {
					return va > vb
				}
				return va < vb
			}
		}
		if !a.info.IdleSince.Equal(b.info.IdleSince) {
			return a.info.IdleSince.Before(b.info.IdleSince)
		}
		return a.info.SID < b.info.SID
	}
	if max > 0 && len(hits) > max && max <= 256 {
		top := make([]*wrec, 0, max)
		for _, r := range hits {
			if len(top) == max && !less(r, top[max-1]) {
				continue
			}
			i := sort.Search(len(top), func(i int) bool { return less(r, top[i]) })
			if len(top) < max {
				top = append(top, nil)
			}
			copy(top[i+1:], top[i:len(top)-1])
			top[i] = r
		}
		return top
	}
	sort.Slice(hits, func(i, j int) bool { return less(hits[i], hits[j]) })
	if max > 0 && len(hits) > max {
		hits = hits[:max]
	}
	return hits
}
