package scim

import (
	"cmp"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	filter "github.com/scim2/filter-parser/v2"
)

// maxFilter bounds a filter or a PATCH path.
const maxFilter = 4096

// parseFilter parses a SCIM filter ("" = everything).
func parseFilter(s string) (filter.Expression, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	if len(s) > maxFilter {
		return nil, bad("invalidFilter", "the filter is longer than %d characters", maxFilter)
	}
	e, err := filter.ParseFilter([]byte(s))
	if err != nil {
		return nil, bad("invalidFilter", "filter %q is not a SCIM filter (RFC 7644 §3.4.2.2), e.g. userName eq \"alice@example.com\"", s)
	}
	return e, nil
}

// lookup finds a key case-insensitively (SCIM attribute names are).
func lookup(doc map[string]any, name string) (string, any, bool) {
	if v, ok := doc[name]; ok {
		return name, v, true
	}
	for k, v := range doc {
		if strings.EqualFold(k, name) {
			return k, v, true
		}
	}
	return "", nil, false
}

// scope returns the object an attribute path with a schema URI lives in:
// the document itself for the resource's core schema, the extension's
// object otherwise (created when create is set).
func scope(doc map[string]any, uri, core string, create bool) map[string]any {
	if uri == "" || strings.EqualFold(uri, core) {
		return doc
	}
	if _, v, ok := lookup(doc, uri); ok {
		if m, ok := v.(map[string]any); ok {
			return m
		}
	}
	if !create {
		return nil
	}
	m := map[string]any{}
	doc[uri] = m
	return m
}

// matches evaluates a filter against a resource document.
func matches(e filter.Expression, doc map[string]any, core string) bool {
	switch e := e.(type) {
	case nil:
		return true
	case *filter.LogicalExpression:
		if e.Operator == filter.AND {
			return matches(e.Left, doc, core) && matches(e.Right, doc, core)
		}
		return matches(e.Left, doc, core) || matches(e.Right, doc, core)
	case *filter.NotExpression:
		return !matches(e.Expression, doc, core)
	case *filter.ValuePath:
		obj := scope(doc, e.AttributePath.URI(), core, false)
		if obj == nil {
			return false
		}
		_, v, ok := lookup(obj, e.AttributePath.AttributeName)
		if !ok {
			return false
		}
		for _, el := range asList(v) {
			if m, ok := el.(map[string]any); ok && matches(e.ValueFilter, m, "") {
				return true
			}
		}
		return false
	case *filter.AttributeExpression:
		obj := scope(doc, e.AttributePath.URI(), core, false)
		if obj == nil {
			return false
		}
		_, v, ok := lookup(obj, e.AttributePath.AttributeName)
		if !ok {
			return e.Operator == filter.NE && e.CompareValue != nil
		}
		var vals []any
		for _, el := range asList(v) {
			if sub := e.AttributePath.SubAttributeName(); sub != "" {
				if m, ok := el.(map[string]any); ok {
					if _, sv, ok := lookup(m, sub); ok {
						vals = append(vals, sv)
					}
				}
				continue
			}
			if m, ok := el.(map[string]any); ok {
				// A multi-valued attribute compares its "value".
				if _, sv, ok := lookup(m, "value"); ok {
					vals = append(vals, sv)
				}
				continue
			}
			vals = append(vals, el)
		}
		if e.Operator == filter.NE {
			for _, x := range vals {
				if compare(filter.EQ, x, e.CompareValue) {
					return false
				}
			}
			return true
		}
		for _, x := range vals {
			if compare(e.Operator, x, e.CompareValue) {
				return true
			}
		}
		return false
	}
	return false
}

func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// compare applies one operator. Strings compare without regard to case
// (caseExact is false for every attribute didrouter serves).
func compare(op filter.CompareOperator, have, want any) bool {
	if op == filter.PR {
		switch h := have.(type) {
		case nil:
			return false
		case string:
			return h != ""
		case []any:
			return len(h) > 0
		case map[string]any:
			return len(h) > 0
		}
		return true
	}
	if hb, ok := boolOf(have); ok {
		if wb, ok := want.(bool); ok {
			return op == filter.EQ && hb == wb
		}
	}
	if hn, ok := numberOf(have); ok {
		if wn, ok := numberOf(want); ok {
			return compareOrdered(op, hn, wn)
		}
	}
	hs, ok1 := have.(string)
	ws, ok2 := want.(string)
	if !ok1 || !ok2 {
		return false
	}
	hs, ws = strings.ToLower(hs), strings.ToLower(ws)
	switch op {
	case filter.CO:
		return strings.Contains(hs, ws)
	case filter.SW:
		return strings.HasPrefix(hs, ws)
	case filter.EW:
		return strings.HasSuffix(hs, ws)
	}
	return compareOrdered(op, hs, ws)
}

// compareOrdered applies the operators that numbers and strings share. Any
// other operator does not match.
func compareOrdered[T cmp.Ordered](op filter.CompareOperator, have, want T) bool {
	switch op {
	case filter.EQ:
		return have == want
	case filter.GT:
		return have > want
	case filter.GE:
		return have >= want
	case filter.LT:
		return have < want
	case filter.LE:
		return have <= want
	}
	return false
}

// boolOf reads a boolean, also in the string form Entra ID sends ("False").
func boolOf(v any) (bool, bool) {
	switch b := v.(type) {
	case bool:
		return b, true
	case string:
		switch strings.ToLower(strings.TrimSpace(b)) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return false, false
}

func numberOf(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}

// stringOf reads a string value; numbers are taken as written (an
// employee number sent as 42).
func stringOf(v any) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case json.Number:
		return s.String(), true
	case float64:
		return strconv.FormatFloat(s, 'f', -1, 64), true
	case bool:
		return fmt.Sprint(s), true
	}
	return "", false
}
