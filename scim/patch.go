package scim

import (
	"net/http"
	"reflect"
	"slices"
	"strings"

	filter "github.com/scim2/filter-parser/v2"
)

// patchOp is one PATCH operation (RFC 7644 §3.5.2).
type patchOp struct {
	op    string // add, replace or remove
	path  string
	value any
	has   bool // a value was sent
}

// readPatchRequest reads the PatchOp body of a PATCH request.
func readPatchRequest(w http.ResponseWriter, r *http.Request) ([]patchOp, error) {
	doc, err := readJSON(w, r)
	if err != nil {
		return nil, err
	}
	return readPatch(doc)
}

// readPatch reads a PatchOp body. Operation names are taken in any case
// (Entra ID sends "Replace").
func readPatch(doc map[string]any) ([]patchOp, error) {
	_, raw, ok := lookup(doc, "Operations")
	list, isList := raw.([]any)
	if !ok || !isList || len(list) == 0 {
		return nil, bad("invalidSyntax", "a PATCH body needs \"Operations\": a list of {\"op\", \"path\", \"value\"}")
	}
	if len(list) > maxPatchOps {
		return nil, bad("invalidSyntax", "%d operations is more than the %d one PATCH may hold", len(list), maxPatchOps)
	}
	out := make([]patchOp, 0, len(list))
	for i, x := range list {
		m, ok := x.(map[string]any)
		if !ok {
			return nil, bad("invalidSyntax", "operation %d is not an object", i+1)
		}
		var o patchOp
		_, opv, _ := lookup(m, "op")
		op, _ := opv.(string)
		o.op = strings.ToLower(strings.TrimSpace(op))
		if o.op != "add" && o.op != "replace" && o.op != "remove" {
			return nil, bad("invalidSyntax", "operation %d: op must be add, replace or remove, not %q", i+1, op)
		}
		if _, pv, ok := lookup(m, "path"); ok && pv != nil {
			p, isStr := pv.(string)
			if !isStr {
				return nil, bad("invalidPath", "operation %d: path must be a string", i+1)
			}
			o.path = strings.TrimSpace(p)
		}
		_, o.value, o.has = lookup(m, "value")
		if o.op != "remove" && !o.has {
			return nil, bad("invalidValue", "operation %d (%s) needs a value", i+1, o.op)
		}
		if o.op == "remove" && o.path == "" {
			return nil, bad("noTarget", "operation %d: remove needs a path", i+1)
		}
		out = append(out, o)
	}
	return out, nil
}

// requestedDoc is the whole document a PUT or PATCH asks for. A PUT's body
// is the document; a PATCH's operations apply to the current document,
// which current reads.
func requestedDoc(w http.ResponseWriter, r *http.Request, core string, current func() (map[string]any, error)) (map[string]any, error) {
	if r.Method != http.MethodPatch {
		return readJSON(w, r)
	}
	ops, err := readPatchRequest(w, r)
	if err != nil {
		return nil, err
	}
	doc, err := current()
	if err != nil {
		return nil, err
	}
	if err := applyPatch(doc, ops, core); err != nil {
		return nil, err
	}
	return doc, nil
}

// applyPatch applies the operations to a resource document in order. The
// caller then writes the document as a PUT would, so a PATCH and the
// equivalent PUT do the same, and a PATCH that changes nothing writes
// nothing.
func applyPatch(doc map[string]any, ops []patchOp, core string) error {
	for i, o := range ops {
		if err := applyOp(doc, o, core); err != nil {
			var be *badRequest
			if ok := asBad(err, &be); ok {
				return bad(be.scimType, "operation %d: %s", i+1, be.msg)
			}
			return err
		}
	}
	return nil
}

func asBad(err error, be **badRequest) bool {
	b, ok := err.(*badRequest)
	if ok {
		*be = b
	}
	return ok
}

func applyOp(doc map[string]any, o patchOp, core string) error {
	if o.path == "" {
		m, ok := o.value.(map[string]any)
		if !ok {
			return bad("invalidValue", "an operation without a path needs an object value")
		}
		for k, v := range m {
			sub := patchOp{op: o.op, path: k, value: v, has: true}
			if strings.HasPrefix(strings.ToLower(k), "urn:") {
				if ext, ok := v.(map[string]any); ok {
					// A schema extension's attributes, e.g. the enterprise
					// user's {"department": …}.
					obj := scope(doc, k, core, true)
					for ek, ev := range ext {
						if err := setPath(obj, o.op, ek, ev, ""); err != nil {
							return err
						}
					}
					continue
				}
			}
			if err := applyOp(doc, sub, core); err != nil {
				return err
			}
		}
		return nil
	}
	if len(o.path) > maxFilter {
		return bad("invalidPath", "the path is longer than %d characters", maxFilter)
	}
	return setPath(doc, o.op, o.path, o.value, core)
}

// setPath applies one operation at a path such as "active",
// "name.givenName", "emails[type eq \"work\"].value" or
// "urn:…:enterprise:2.0:User:department".
func setPath(doc map[string]any, op, path string, value any, core string) error {
	p, err := filter.ParsePath([]byte(path))
	if err != nil {
		return bad("invalidPath", "path %q is not a SCIM attribute path", path)
	}
	obj := scope(doc, p.AttributePath.URI(), core, op != "remove")
	if obj == nil {
		return nil // removing from an extension that is not there
	}
	name := p.AttributePath.AttributeName
	key, cur, had := lookup(obj, name)
	if !had {
		key = name
	}
	if p.ValueExpression == nil {
		if sub := p.AttributePath.SubAttributeName(); sub != "" {
			m, _ := cur.(map[string]any)
			if m == nil {
				if op == "remove" {
					return nil
				}
				m = map[string]any{}
				obj[key] = m
			}
			return setPath(m, op, sub, value, "")
		}
		switch op {
		case "remove":
			if vals, ok := value.([]any); ok && had {
				// Entra ID removes group members this way.
				obj[key] = removeValues(asList(cur), vals)
				return nil
			}
			delete(obj, key)
		case "add":
			if list, ok := cur.([]any); ok {
				for _, v := range asList(value) {
					if !containsValue(list, v) {
						list = append(list, v)
					}
				}
				obj[key] = list
				return nil
			}
			obj[key] = value
		default:
			obj[key] = value
		}
		return nil
	}
	// A value path: the elements of a multi-valued attribute that match.
	list := asList(cur)
	if !had {
		list = nil
	}
	sub := p.SubAttributeName()
	found := false
	out := list[:0:0]
	for _, el := range list {
		m, ok := el.(map[string]any)
		if !ok || !matches(p.ValueExpression, m, "") {
			out = append(out, el)
			continue
		}
		found = true
		switch {
		case op == "remove" && sub == "":
			continue // dropped
		case op == "remove":
			if k, _, ok := lookup(m, sub); ok {
				delete(m, k)
			}
		case sub != "":
			m[sub] = value
		default:
			if vm, ok := value.(map[string]any); ok {
				for k, v := range vm {
					m[k] = v
				}
			}
		}
		out = append(out, m)
	}
	if !found && op != "remove" {
		// Entra ID sets phoneNumbers[type eq "work"].value on a user who
		// has no work number yet: the element is made from the filter.
		m := map[string]any{}
		eqAttributes(p.ValueExpression, m)
		if sub != "" {
			m[sub] = value
		} else if vm, ok := value.(map[string]any); ok {
			for k, v := range vm {
				m[k] = v
			}
		}
		out = append(out, m)
	}
	obj[key] = out
	return nil
}

// eqAttributes collects the "attr eq value" terms of an and-filter.
func eqAttributes(e filter.Expression, into map[string]any) {
	switch e := e.(type) {
	case *filter.LogicalExpression:
		if e.Operator == filter.AND {
			eqAttributes(e.Left, into)
			eqAttributes(e.Right, into)
		}
	case *filter.AttributeExpression:
		if e.Operator == filter.EQ && e.AttributePath.SubAttribute == nil {
			into[e.AttributePath.AttributeName] = e.CompareValue
		}
	}
}

// valueKey is what identifies an element of a multi-valued attribute.
func valueKey(v any) any {
	if m, ok := v.(map[string]any); ok {
		if _, x, ok := lookup(m, "value"); ok {
			if s, ok := stringOf(x); ok {
				return s
			}
			return x
		}
	}
	if s, ok := stringOf(v); ok {
		return s
	}
	return v
}

func containsValue(list []any, v any) bool {
	k := valueKey(v)
	return slices.ContainsFunc(list, func(x any) bool { return reflect.DeepEqual(valueKey(x), k) })
}

func removeValues(list, vals []any) []any {
	return slices.DeleteFunc(slices.Clone(list), func(x any) bool { return containsValue(vals, x) })
}
