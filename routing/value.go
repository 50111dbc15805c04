package routing

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// kind is the JSON type of a resolved value. Values that are missing, JSON
// null, or of a Go type JSON cannot produce resolve to kNull.
type kind uint8

const (
	kNull kind = iota
	kBool
	kNum
	kStr
	kArr
	kObj
)

// kindOf classifies v without allocating.
func kindOf(v any) kind {
	switch x := v.(type) {
	case nil:
		return kNull
	case string:
		return kStr
	case bool:
		return kBool
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return kNull
		}
		return kNum
	case []any:
		return kArr
	case map[string]any, Attributes:
		return kObj
	}
	if _, ok := asNum(v); ok {
		return kNum
	}
	return kNull
}

// asNum returns v as a finite float64 when it is a number. Besides float64
// (what encoding/json produces) it accepts Go integer types and json.Number
// so that hand-built attributes behave the same.
func asNum(v any) (float64, bool) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case int32:
		f = float64(x)
	case float32:
		f = float64(x)
	case json.Number:
		p, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return 0, false
		}
		f = p
	default:
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	if f == 0 {
		f = 0 // fold -0 into 0 so that keys and equality agree
	}
	return f, true
}

// asArr returns v as an array.
func asArr(v any) ([]any, bool) {
	a, ok := v.([]any)
	return a, ok
}

// isScalar reports whether v is a non-null string, number or boolean.
func isScalar(v any) bool {
	switch kindOf(v) {
	case kStr, kNum, kBool:
		return true
	}
	return false
}

// scalarEq compares two values for ==. ok is false when either side is not
// a non-null scalar, and then neither == nor != holds. Values of different
// types are never equal, because strings and numbers are not coerced.
func scalarEq(a, b any) (ok, eq bool) {
	switch x := a.(type) {
	case string:
		y, isStr := b.(string)
		if isStr {
			return true, x == y
		}
		return isScalar(b), false
	case bool:
		y, isBool := b.(bool)
		if isBool {
			return true, x == y
		}
		return isScalar(b), false
	}
	if x, isNum := asNum(a); isNum {
		if y, bothNum := asNum(b); bothNum {
			return true, x == y
		}
		return isScalar(b), false
	}
	return false, false
}

// order compares two numbers or two strings; ok is false for anything else.
func order(a, b any) (c int, ok bool) {
	if x, isStr := a.(string); isStr {
		y, bothStr := b.(string)
		if !bothStr {
			return 0, false
		}
		return strings.Compare(x, y), true
	}
	x, isNum := asNum(a)
	if !isNum {
		return 0, false
	}
	y, bothNum := asNum(b)
	if !bothNum {
		return 0, false
	}
	switch {
	case x < y:
		return -1, true
	case x > y:
		return 1, true
	}
	return 0, true
}

// inArray reports whether the scalar x equals an element of arr.
func inArray(x any, arr []any) bool {
	if !isScalar(x) {
		return false
	}
	for _, e := range arr {
		if ok, eq := scalarEq(x, e); ok && eq {
			return true
		}
	}
	return false
}

// vkey is the hashable form of a non-null scalar: two scalars are == exactly
// when their keys are equal. Strings are not copied.
type vkey struct {
	k kind
	s string
	f float64
}

// keyOf returns the key of a non-null scalar.
func keyOf(v any) (vkey, bool) {
	switch x := v.(type) {
	case string:
		return vkey{k: kStr, s: x}, true
	case bool:
		if x {
			return vkey{k: kBool, f: 1}, true
		}
		return vkey{k: kBool}, true
	}
	if f, ok := asNum(v); ok {
		return vkey{k: kNum, f: f}, true
	}
	return vkey{}, false
}
