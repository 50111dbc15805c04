package routing

import "bytes"

// attrList is how the index keeps the attributes of a worker whose
// document has at most maxListAttrs keys, which is nearly every worker. It
// holds the top-level keys and values side by side, the values as
// encoding/json decodes them. A map of two keys costs about 330 bytes, and
// this list costs 64.
type attrList []attrKV

type attrKV struct {
	k string
	v any
}

// maxListAttrs is the most keys an attrList holds; workers with more keep
// their map (a list is searched key by key).
const maxListAttrs = 8

// listOf returns the list form of a small, non-nil map, or nil.
func listOf(a Attributes) attrList {
	if a == nil || len(a) > maxListAttrs {
		return nil
	}
	l := make(attrList, 0, len(a))
	for k, v := range a {
		l = append(l, attrKV{k, v})
	}
	return l
}

// get returns the value at key k.
func (l attrList) get(k string) (any, bool) {
	for i := range l {
		if l[i].k == k {
			return l[i].v, true
		}
	}
	return nil, false
}

// set sets k to v in place or appends it.
func (l attrList) set(k string, v any) attrList {
	for i := range l {
		if l[i].k == k {
			l[i].v = v
			return l
		}
	}
	return append(l, attrKV{k, v})
}

// toMap returns the attributes as a new map (never nil).
func (l attrList) toMap() Attributes {
	m := make(Attributes, len(l))
	for _, kv := range l {
		m[kv.k] = kv.v
	}
	return m
}

// resolveList is resolve on a list.
func resolveList(l attrList, path []seg) any {
	if len(path) == 0 || path[0].idx >= 0 {
		return nil
	}
	cur, ok := l.get(path[0].key)
	if !ok {
		return nil
	}
	return resolveRest(cur, path[1:])
}

// PreparedWorker is a worker whose attributes an AttributeParser has
// parsed into the index's own form, for Index.UpsertPrepared.
type PreparedWorker struct {
	info WorkerInfo
	list attrList
}

// Prepare parses a worker's attribute document (as ParseAttributes) for
// the index; info.Attributes is ignored.
func (p *AttributeParser) Prepare(info WorkerInfo, doc []byte) (PreparedWorker, error) {
	if p.keys == nil {
		p.keys = make(map[string]string)
	}
	info.Attributes = nil
	if t := bytes.TrimSpace(doc); len(t) > 0 && t[0] == '{' && len(t) <= MaxAttributesBytes {
		if l, ok := parseFlatList(t, p.keys); ok {
			return PreparedWorker{info: info, list: l}, nil
		}
	}
	attrs, err := parseAttributes(doc, p.keys)
	if err != nil {
		return PreparedWorker{info: info, list: attrList{}}, err
	}
	if l := listOf(attrs); l != nil {
		return PreparedWorker{info: info, list: l}, nil
	}
	info.Attributes = attrs
	return PreparedWorker{info: info}, nil
}
