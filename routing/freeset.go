package routing

import (
	"encoding/binary"
	"slices"

	"github.com/google/btree"
)

// freeSet holds a queue's members who could take a reservation now, in the
// order TaskRouter offers tasks when a target has no order_by: longest idle
// first, then sid. A target that does not narrow its queue (the "Everyone"
// fallback: 1==1) then costs a walk of the first few free workers instead of
// a pass over every member, so it stays flat with a million agents busy.
//
// A record's IdleSince and SID are its key: remove it before changing them.
type freeSet struct {
	t *btree.BTreeG[freeItem]
}

// freeItem is a free worker with its key held inline, so comparing two
// items rarely needs to read the records. When a million workers load,
// comparisons that chase record pointers would cost a third of the start-up
// time.
type freeItem struct {
	sec  int64  // IdleSince: Unix seconds
	nsec int32  // and nanoseconds
	pre  uint64 // the sid's first 8 bytes, big-endian (zero-padded)
	r    *wrec
}

// freeSetDegree suits small items: wide nodes, few levels.
const freeSetDegree = 32

func newFreeSet() freeSet {
	return freeSet{t: btree.NewG(freeSetDegree, freeLess)}
}

// newFreeSetOf returns the free set of items (each worker once).
func newFreeSetOf(items []freeItem) freeSet {
	slices.SortFunc(items, func(a, b freeItem) int {
		switch {
		case freeLess(a, b):
			return -1
		case freeLess(b, a):
			return 1
		}
		return 0
	})
	f := newFreeSet()
	for _, it := range items {
		f.t.ReplaceOrInsert(it)
	}
	return f
}

func freeKey(r *wrec) freeItem {
	it := freeItem{sec: r.info.IdleSince.Unix(), nsec: int32(r.info.IdleSince.Nanosecond()), r: r}
	var b [8]byte
	copy(b[:], r.info.SID)
	it.pre = binary.BigEndian.Uint64(b[:])
	return it
}

// freeLess is idleOrder on items.
func freeLess(a, b freeItem) bool {
	if a.sec != b.sec {
		return a.sec < b.sec
	}
	if a.nsec != b.nsec {
		return a.nsec < b.nsec
	}
	if a.pre != b.pre {
		return a.pre < b.pre
	}
	return a.r.info.SID < b.r.info.SID
}

// idleOrder is longest idle first (the zero time, never busy, before any
// other), then sid: rank's order without order_by keys.
func idleOrder(a, b *wrec) bool {
	if !a.info.IdleSince.Equal(b.info.IdleSince) {
		return a.info.IdleSince.Before(b.info.IdleSince)
	}
	return a.info.SID < b.info.SID
}

func (f freeSet) insert(r *wrec) { f.t.ReplaceOrInsert(freeKey(r)) }
func (f freeSet) delete(r *wrec) { f.t.Delete(freeKey(r)) }
func (f freeSet) len() int       { return f.t.Len() }

// each calls fn on the free workers in order until fn returns false.
func (f freeSet) each(fn func(*wrec) bool) {
	f.t.Ascend(func(it freeItem) bool { return fn(it.r) })
}
