package routing

import (
	"encoding/json"
	"strconv"
)

// Comparison is one comparison of an expression with the values it saw.
type Comparison struct {
	Text      string `json:"text"`           // e.g. "task.phone_number CONTAINS worker.phone_number"
	LeftExpr  string `json:"left_expr"`      // the left operand as written
	Left      string `json:"left"`           // its value, as JSON ("missing" when the key is absent)
	RightExpr string `json:"right_expr"`     // the right operand as written
	Right     string `json:"right"`          // its value
	Result    bool   `json:"result"`         // what the comparison gave
	Note      string `json:"note,omitempty"` // why, when the values alone do not say
}

// Trace evaluates every comparison of the expression (without stopping
// early) and reports each with its values: the explanation of a result.
// w may be nil.
func (e *Expr) Trace(task Attributes, w *WorkerInfo) []Comparison {
	if e == nil {
		return nil
	}
	c := workerCtx(task, w)
	var out []Comparison
	e.root.trace(&c, &out)
	return out
}

// TraceWorker is Trace for an expression over one worker's attributes
// (such as a queue's target_workers).
func (e *Expr) TraceWorker(attrs Attributes) []Comparison {
	return e.Trace(nil, &WorkerInfo{Attributes: attrs})
}

func (n *node) trace(c *evalCtx, out *[]Comparison) {
	if n.kind != nCmp {
		for _, k := range n.kids {
			k.trace(c, out)
		}
		return
	}
	a, b := c.value(&n.l), c.value(&n.r)
	res := compare(n.op, a, b)
	*out = append(*out, Comparison{
		Text:      n.l.text + " " + n.op.String() + " " + n.r.text,
		LeftExpr:  n.l.text,
		Left:      showValue(&n.l, a),
		RightExpr: n.r.text,
		Right:     showValue(&n.r, b),
		Result:    res,
		Note:      whyFalse(n.op, a, b, res),
	})
}

// showValue renders a resolved operand for people.
func showValue(o *operand, v any) string {
	if !o.isRef {
		return o.text
	}
	if v == nil {
		return "missing"
	}
	data, err := json.Marshal(v)
	if err != nil || len(data) > 200 {
		if len(data) > 200 {
			return string(data[:200]) + "…"
		}
		return "?"
	}
	return string(data)
}

// whyFalse explains a false comparison when the type rules, not the
// values, decided it.
func whyFalse(op cmpOp, a, b any, res bool) string {
	if res {
		return ""
	}
	ka, kb := kindOf(a), kindOf(b)
	switch op {
	case opEq, opNe, opLt, opLe, opGt, opGe:
		if ka == kNull || kb == kNull {
			return "a missing or null value never compares"
		}
		if ka == kArr || kb == kArr || ka == kObj || kb == kObj {
			return op.String() + " compares single values, not arrays or objects"
		}
		if ka != kb && op != opNe {
			return "values of different types (" + kindName(ka) + ", " + kindName(kb) + ") are never equal or ordered"
		}
	case opContains:
		if ka != kStr || kb != kStr {
			return "CONTAINS needs a string on both sides"
		}
		if s, _ := b.(string); s == "" {
			return "an empty string is not looked for"
		}
	case opHas:
		if ka != kArr {
			return "HAS needs an array on the left"
		}
	case opIn, opNotIn:
		if !isScalar(a) {
			return op.String() + " needs a single value on the left"
		}
		if kb != kArr && !(op == opNotIn && kb == kNull) {
			return op.String() + " needs an array on the right"
		}
	}
	return ""
}

func kindName(k kind) string {
	switch k {
	case kNull:
		return "null"
	case kBool:
		return "boolean"
	case kNum:
		return "number"
	case kStr:
		return "string"
	case kArr:
		return "array"
	case kObj:
		return "object"
	}
	return "kind " + strconv.Itoa(int(k))
}
