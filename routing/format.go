package routing

import (
	"strconv"
	"strings"
)

// Canonical renders the expression in a normal form: every key with its
// document prefix, strings single-quoted, operators upper case, each
// sub-expression parenthesized. Compiling the result in the same scope
// gives an expression that evaluates the same and renders the same.
func (e *Expr) Canonical() string {
	if e == nil {
		return ""
	}
	var b strings.Builder
	e.root.format(&b, e.scope)
	return b.String()
}

func (n *node) format(b *strings.Builder, scope Scope) {
	if n.kind == nCmp {
		formatOperand(b, &n.l, scope)
		b.WriteByte(' ')
		b.WriteString(n.op.String())
		b.WriteByte(' ')
		formatOperand(b, &n.r, scope)
		return
	}
	sep := " AND "
	if n.kind == nOr {
		sep = " OR "
	}
	for i, k := range n.kids {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteByte('(')
		k.format(b, scope)
		b.WriteByte(')')
	}
}

func formatOperand(b *strings.Builder, o *operand, scope Scope) {
	if o.isRef {
		switch {
		case scope == ScopeSkip && o.root == rootWorker:
			// The path already starts with "workers".
		case o.root == rootTask:
			b.WriteString("task.")
		default:
			b.WriteString("worker.")
		}
		b.WriteString(pathString(o.path))
		return
	}
	if list, ok := o.lit.([]any); ok {
		b.WriteByte('[')
		for i, v := range list {
			if i > 0 {
				b.WriteString(", ")
			}
			formatConst(b, v)
		}
		b.WriteByte(']')
		return
	}
	formatConst(b, o.lit)
}

func formatConst(b *strings.Builder, v any) {
	switch x := v.(type) {
	case string:
		b.WriteByte('\'')
		for i := 0; i < len(x); i++ {
			if c := x[i]; c == '\'' || c == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(x[i])
		}
		b.WriteByte('\'')
	case float64:
		b.WriteString(strconv.FormatFloat(x, 'f', -1, 64))
	case bool:
		b.WriteString(strconv.FormatBool(x))
	}
}
