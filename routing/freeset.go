package routing

import "github.com/google/btree"

// freeSet holds a queue's members who could take a reservation now, in the
// order TaskRouter offers tasks when a target has no order_by: longest idle
// first, then sid. A target that does not narrow its queue (the "Everyone"
// fallback: 1==1) then costs a walk of the first few free workers instead of
// a pass over every member, so it stays flat with a million agents busy.
//
// A record's IdleSince and SID are its key: remove it before changing them.
type freeSet struct {
	t *btree.BTreeG[*wrec]
}

// freeSetDegree suits pointer-sized items: wide nodes, few levels.
const freeSetDegree = 32

func newFreeSet() freeSet {
	return freeSet{t: btree.NewG(freeSetDegree, idleOrder)}
}

// idleOrder is longest idle first (the zero time, never busy, before any
// other), then sid: rank's order without order_by keys.
func idleOrder(a, b *wrec) bool {
	if !a.info.IdleSince.Equal(b.info.IdleSince) {
		return a.info.IdleSince.Before(b.info.IdleSince)
	}
	return a.info.SID < b.info.SID
}

func (f freeSet) insert(r *wrec) { f.t.ReplaceOrInsert(r) }
func (f freeSet) delete(r *wrec) { f.t.Delete(r) }
func (f freeSet) len() int       { return f.t.Len() }

// each calls fn on the free workers in order until fn returns false.
func (f freeSet) each(fn func(*wrec) bool) { f.t.Ascend(fn) }
