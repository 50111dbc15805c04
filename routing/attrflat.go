package routing

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// parseFlat decodes the common shape of attribute documents, a flat object
// of strings without escapes, numbers, booleans and nulls, exactly as
// encoding/json would, in one pass and a few allocations. It reports false
// for anything else (nested values, escapes, invalid UTF-8, malformed or
// out-of-range input), which the caller then hands to encoding/json: the
// result, or the error, is always what encoding/json gives. doc starts
// with '{' and has no surrounding white space. keys, when not nil, interns
// the keys.
func parseFlat(doc []byte, keys map[string]string) (Attributes, bool) {
	var d flatDoc
	if !d.scan(doc, keys) {
		return nil, false
	}
	m := make(Attributes, d.n)
	for i := range d.n {
		k, v, ok := d.entry(doc, i)
		if !ok {
			return nil, false
		}
		m[k] = v
	}
	return m, true
}

// parseFlatList is parseFlat giving the index's compact form, for
// documents of at most maxListAttrs keys (a repeated key keeps its last
// value, as in a map).
func parseFlatList(doc []byte, keys map[string]string) (attrList, bool) {
	var d flatDoc
	if !d.scan(doc, keys) || d.n > maxListAttrs {
		return nil, false
	}
	l := make(attrList, 0, d.n)
	for i := range d.n {
		k, v, ok := d.entry(doc, i)
		if !ok {
			return nil, false
		}
		l = l.set(k, v)
	}
	return l, true
}

// flatPair is one key and value of a flat document.
type flatPair struct {
	key     string // interned; "" with copyKey: cut from the shared string
	keySpan span
	copyKey bool
	kind    kind // kStr, kNum, kBool or kNull
	val     span
	b       bool
}

// flatDoc is a scanned flat document: its pairs, and one string holding
// the bytes of its values and of the keys not interned.
type flatDoc struct {
	stack [8]flatPair
	extra []flatPair // pairs past the eighth
	n     int
	all   string
}

func (d *flatDoc) pair(i int) *flatPair {
	if i < len(d.stack) {
		return &d.stack[i]
	}
	return &d.extra[i-len(d.stack)]
}

func (d *flatDoc) add(p flatPair) {
	if d.n < len(d.stack) {
		d.stack[d.n] = p
	} else {
		d.extra = append(d.extra, p)
	}
	d.n++
}

// entry returns the i-th pair as a key and a value; ok is false for a
// number out of range (encoding/json reports it).
func (d *flatDoc) entry(doc []byte, i int) (key string, v any, ok bool) {
	p := d.pair(i)
	key = p.key
	if p.copyKey {
		key = d.all[p.keySpan.from:p.keySpan.to]
	}
	switch p.kind {
	case kStr:
		v = d.all[p.val.from:p.val.to]
	case kBool:
		v = p.b
	case kNum:
		f, err := strconv.ParseFloat(string(doc[p.val.from:p.val.to]), 64)
		if err != nil {
			return "", nil, false
		}
		v = f
	}
	return key, v, true
}

// scan reads doc's pairs (see parseFlat) and copies their strings.
func (d *flatDoc) scan(doc []byte, keys map[string]string) bool {
	strBytes := 0 // bytes of the shared string: values, and keys not interned
	i := skipWS(doc, 1)
	if i < len(doc) && doc[i] == '}' {
		i++
	} else {
		for {
			var p flatPair
			var ok bool
			if p.keySpan, i, ok = flatString(doc, i); !ok {
				return false
			}
			if i = skipWS(doc, i); i >= len(doc) || doc[i] != ':' {
				return false
			}
			if i = skipWS(doc, i+1); i >= len(doc) {
				return false
			}
			switch c := doc[i]; {
			case c == '"':
				p.kind = kStr
				if p.val, i, ok = flatString(doc, i); !ok {
					return false
				}
				strBytes += p.val.to - p.val.from
			case c == 't' && hasWord(doc, i, "true"):
				p.kind, p.b, i = kBool, true, i+4
			case c == 'f' && hasWord(doc, i, "false"):
				p.kind, i = kBool, i+5
			case c == 'n' && hasWord(doc, i, "null"):
				p.kind, i = kNull, i+4
			case c == '-' || c >= '0' && c <= '9':
				p.kind = kNum
				p.val.from = i
				if i, ok = flatNumber(doc, i); !ok {
					return false
				}
				p.val.to = i
			default:
				return false
			}
			kb := doc[p.keySpan.from:p.keySpan.to]
			if k, interned := keys[string(kb)]; interned {
				p.key = k
			} else if keys != nil && len(keys) < maxInternedKeys {
				p.key = string(kb)
				keys[p.key] = p.key
			} else {
				p.copyKey = true
				strBytes += len(kb)
			}
			d.add(p)
			i = skipWS(doc, i)
			if i >= len(doc) {
				return false
			}
			if doc[i] == '}' {
				i++
				break
			}
			if doc[i] != ',' {
				return false
			}
			i = skipWS(doc, i+1)
		}
	}
	if skipWS(doc, i) != len(doc) {
		return false
	}
	// The strings of one document share one allocation.
	var sb strings.Builder
	sb.Grow(strBytes)
	for n := range d.n {
		p := d.pair(n)
		if p.copyKey {
			from := sb.Len()
			sb.Write(doc[p.keySpan.from:p.keySpan.to])
			p.keySpan = span{from, sb.Len()}
		}
		if p.kind == kStr {
			from := sb.Len()
			sb.Write(doc[p.val.from:p.val.to])
			p.val = span{from, sb.Len()}
		}
	}
	d.all = sb.String()
	return true
}

// span is a range of bytes.
type span struct{ from, to int }

// skipWS skips JSON white space from i.
func skipWS(doc []byte, i int) int {
	for i < len(doc) {
		switch doc[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// hasWord reports whether the literal w starts at i.
func hasWord(doc []byte, i int, w string) bool {
	return len(doc)-i >= len(w) && string(doc[i:i+len(w)]) == w
}

// flatString reads a string starting at doc[i] == '"' that encoding/json
// would decode to its bytes unchanged: no escapes, no control characters,
// valid UTF-8. It returns the span between the quotes and the index after
// the closing quote.
func flatString(doc []byte, i int) (s span, next int, ok bool) {
	if i >= len(doc) || doc[i] != '"' {
		return s, i, false
	}
	from := i + 1
	ascii := true
	for j := from; j < len(doc); j++ {
		switch c := doc[j]; {
		case c == '"':
			if !ascii && !utf8.Valid(doc[from:j]) {
				return s, j, false
			}
			return span{from, j}, j + 1, true
		case c == '\\' || c < 0x20:
			return s, j, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return s, len(doc), false
}

// flatNumber reads a JSON number starting at i and returns the index after
// it: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func flatNumber(doc []byte, i int) (int, bool) {
	if doc[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(doc) && doc[i] >= '0' && doc[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(doc) && doc[i] == '0':
		i++
	case digits() == 0:
		return i, false
	}
	if i < len(doc) && doc[i] == '.' {
		i++
		if digits() == 0 {
			return i, false
		}
	}
	if i < len(doc) && (doc[i] == 'e' || doc[i] == 'E') {
		i++
		if i < len(doc) && (doc[i] == '+' || doc[i] == '-') {
			i++
		}
		if digits() == 0 {
			return i, false
		}
	}
	return i, true
}
