package routing

import (
	"strconv"
	"strings"
)

// Compile parses an expression for the given scope. Errors are *SyntaxError
// and carry the column of the problem.
func Compile(src string, scope Scope) (*Expr, error) {
	if len(src) > MaxExpressionLength {
		return nil, &SyntaxError{Col: 1, Msg: "expression is " + strconv.Itoa(len(src)) + " bytes long; the limit is " + strconv.Itoa(MaxExpressionLength)}
	}
	if strings.TrimSpace(src) == "" {
		return nil, &SyntaxError{Col: 1, Msg: "expression is empty"}
	}
	p := &parser{lex: lexer{src: src}, scope: scope}
	if err := p.advance(); err != nil {
		return nil, err
	}
	n, err := p.parseOr(0)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		return nil, p.errf("unexpected %s after a complete expression", describe(p.tok))
	}
	return &Expr{src: src, scope: scope, root: n}, nil
}

// MustCompile is Compile that panics on error, for constants in tests and
// programs.
func MustCompile(src string, scope Scope) *Expr {
	e, err := Compile(src, scope)
	if err != nil {
		panic("routing: MustCompile(" + strconv.Quote(src) + "): " + err.Error())
	}
	return e
}

type parser struct {
	lex   lexer
	tok   token
	scope Scope
}

func (p *parser) advance() error {
	t, err := p.lex.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) errf(format string, args ...any) error {
	return errAt(p.lex.src, p.tok.off, format, args...)
}

// describe names a token for error messages.
func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tString:
		return "string " + t.text
	case tNumber:
		return "number " + t.text
	case tPath:
		return "key " + t.text
	}
	return strconv.Quote(t.text)
}

func (p *parser) parseOr(depth int) (*node, error) {
	return p.parseChain(depth, tOr, nOr, p.parseAnd)
}

func (p *parser) parseAnd(depth int) (*node, error) {
	return p.parseChain(depth, tAnd, nAnd, p.parsePrimary)
}

// parseChain parses operands joined by the operator op into one node of
// kind, or returns the operand alone when there is no operator.
func (p *parser) parseChain(depth int, op tokKind, kind nodeKind, operand func(depth int) (*node, error)) (*node, error) {
	first, err := operand(depth)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != op {
		return first, nil
	}
	n := &node{kind: kind, kids: []*node{first}}
	for p.tok.kind == op {
		if err := p.advance(); err != nil {
			return nil, err
		}
		k, err := operand(depth)
		if err != nil {
			return nil, err
		}
		n.kids = append(n.kids, k)
	}
	return n, nil
}

func (p *parser) parsePrimary(depth int) (*node, error) {
	if p.tok.kind == tLParen {
		if depth >= MaxExpressionDepth {
			return nil, p.errf("parentheses are nested more than %d deep", MaxExpressionDepth)
		}
		open := p.tok
		if err := p.advance(); err != nil {
			return nil, err
		}
		n, err := p.parseOr(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tRParen {
			if p.tok.kind == tEOF {
				return nil, errAt(p.lex.src, open.off, "this ( is never closed")
			}
			return nil, p.errf("expected ) or AND/OR, found %s", describe(p.tok))
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		return n, nil
	}
	return p.parseComparison()
}

func (p *parser) parseComparison() (*node, error) {
	start := p.tok.off
	if p.tok.kind == tEOF {
		return nil, p.errf("expected a comparison, found end of expression")
	}
	l, err := p.parseOperand("")
	if err != nil {
		return nil, err
	}
	opTok := p.tok
	var op cmpOp
	switch opTok.kind {
	case tEq:
		op = opEq
	case tNe:
		op = opNe
	case tLt:
		op = opLt
	case tLe:
		op = opLe
	case tGt:
		op = opGt
	case tGe:
		op = opGe
	case tContains:
		op = opContains
	case tHas:
		op = opHas
	case tIn:
		op = opIn
	case tNot:
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tIn {
			return nil, p.errf("expected IN after NOT (NOT is only used as NOT IN)")
		}
		op = opNotIn
	case tEOF:
		return nil, p.errf("expected a comparison operator after %s", l.text)
	default:
		return nil, p.errf("expected a comparison operator (==, !=, <, <=, >, >=, CONTAINS, HAS, IN, NOT IN), found %s", describe(opTok))
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	r, err := p.parseOperand(op.String())
	if err != nil {
		return nil, err
	}
	if _, isList := l.lit.([]any); isList && op != opHas {
		return nil, errAt(p.lex.src, start, "a list on the left can only be used with HAS")
	}
	if _, isList := r.lit.([]any); isList && op != opIn && op != opNotIn {
		return nil, errAt(p.lex.src, opTok.off, "a list on the right can only be used with IN or NOT IN")
	}
	switch p.tok.kind {
	case tEq, tNe, tLt, tLe, tGt, tGe, tContains, tHas, tIn, tNot:
		return nil, p.errf("comparisons cannot be chained; use AND between them")
	}
	return &node{kind: nCmp, op: op, l: l, r: r, off: start}, nil
}

// parseOperand reads a constant, a list of constants or a key path. after
// names the operator before it, for errors.
func (p *parser) parseOperand(after string) (operand, error) {
	t := p.tok
	var o operand
	switch t.kind {
	case tString:
		o = operand{lit: t.str, text: t.text}
	case tNumber:
		o = operand{lit: t.num, text: t.text}
	case tTrue:
		o = operand{lit: true, text: "true"}
	case tFalse:
		o = operand{lit: false, text: "false"}
	case tLBrack:
		return p.parseList()
	case tPath:
		r, path, err := p.resolveScope(t)
		if err != nil {
			return operand{}, err
		}
		o = operand{isRef: true, root: r, path: path, key: pathString(path), text: t.text}
	default:
		if after != "" {
			return operand{}, p.errf("expected a value after %s", after)
		}
		return operand{}, p.errf("expected a value (a key, string, number, true or false), found %s", describe(t))
	}
	if err := p.advance(); err != nil {
		return operand{}, err
	}
	return o, nil
}

func (p *parser) parseList() (operand, error) {
	start := p.tok.off
	if err := p.advance(); err != nil {
		return operand{}, err
	}
	list := []any{}
	for p.tok.kind != tRBrack {
		if len(list) > 0 {
			if p.tok.kind != tComma {
				if p.tok.kind == tEOF {
					return operand{}, errAt(p.lex.src, start, "this [ is never closed")
				}
				return operand{}, p.errf("expected , or ] in the list, found %s", describe(p.tok))
			}
			if err := p.advance(); err != nil {
				return operand{}, err
			}
		}
		switch p.tok.kind {
		case tString:
			list = append(list, p.tok.str)
		case tNumber:
			list = append(list, p.tok.num)
		case tTrue:
			list = append(list, true)
		case tFalse:
			list = append(list, false)
		case tEOF:
			return operand{}, errAt(p.lex.src, start, "this [ is never closed")
		default:
			return operand{}, p.errf("a list may only hold strings, numbers, true or false; found %s", describe(p.tok))
		}
		if err := p.advance(); err != nil {
			return operand{}, err
		}
	}
	end := p.tok.off + 1
	if err := p.advance(); err != nil {
		return operand{}, err
	}
	return operand{lit: any(list), text: p.lex.src[start:end]}, nil
}

// resolveScope decides which document a key path belongs to.
func (p *parser) resolveScope(t token) (root, []seg, error) {
	path := t.path
	prefix := ""
	if len(path) > 1 && path[1].idx < 0 {
		prefix = path[0].key
	}
	src := p.lex.src
	switch p.scope {
	case ScopeTask:
		return oneDocument(src, t, prefix, rootTask, "task", "worker")
	case ScopeWorker:
		return oneDocument(src, t, prefix, rootWorker, "worker", "task")
	case ScopeTarget:
		switch prefix {
		case "task":
			return rootTask, path[1:], nil
		case "worker":
			return rootWorker, path[1:], nil
		}
		return 0, nil, errAt(src, t.off, "key %s must start with task. or worker. in a target expression", t.text)
	case ScopeSkip:
		switch prefix {
		case "task":
			return rootTask, path[1:], nil
		case "workers":
			return rootWorker, path, nil
		}
		return 0, nil, errAt(src, t.off, "key %s: skip_if may use workers.available, workers.unavailable, workers.<activity> or task.<key>", t.text)
	}
	return 0, nil, errAt(src, t.off, "unknown scope %d", int(p.scope))
}

// oneDocument resolves key t in a scope that sees one document, r, named
// own. The key may start with own; one that starts with other is refused.
func oneDocument(src string, t token, prefix string, r root, own, other string) (root, []seg, error) {
	switch prefix {
	case own:
		return r, t.path[1:], nil
	case other:
		return 0, nil, errAt(src, t.off, "%s: %s attributes cannot be used here; this expression only sees the %s", t.text, other, own)
	}
	return r, t.path, nil
}

// parseFloat parses a number literal.
func parseFloat(s string) (float64, error) { return strconv.ParseFloat(s, 64) }
