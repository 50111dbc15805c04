package routing

import (
	"strconv"
	"strings"
)

// Scope says which document an expression's keys resolve against.
type Scope int

const (
	// ScopeTask: workflow filter expressions. Keys name task attributes;
	// a "task." prefix is allowed and means the same.
	ScopeTask Scope = iota
	// ScopeWorker: TaskQueue target_workers expressions. Keys name worker
	// attributes (or sid, friendly_name, activity_sid, activity_name); a
	// "worker." prefix is allowed and means the same.
	ScopeWorker
	// ScopeTarget: a workflow target's expression. Every key must start
	// with "task." or "worker.".
	ScopeTarget
	// ScopeSkip: a target's skip_if. Keys are "workers.available",
	// "workers.unavailable", "workers.<activity sid or name>" or "task.…".
	ScopeSkip
)

func (s Scope) String() string {
	switch s {
	case ScopeTask:
		return "task"
	case ScopeWorker:
		return "worker"
	case ScopeTarget:
		return "target"
	case ScopeSkip:
		return "skip_if"
	}
	return "scope(" + strconv.Itoa(int(s)) + ")"
}

// Limits on expression source.
const (
	MaxExpressionLength = 16 << 10 // bytes
	MaxExpressionDepth  = 32       // nested parentheses
)

// cmpOp is a comparison operator.
type cmpOp uint8

const (
	opEq cmpOp = iota
	opNe
	opLt
	opLe
	opGt
	opGe
	opContains
	opHas
	opIn
	opNotIn
)

func (o cmpOp) String() string {
	switch o {
	case opEq:
		return "=="
	case opNe:
		return "!="
	case opLt:
		return "<"
	case opLe:
		return "<="
	case opGt:
		return ">"
	case opGe:
		return ">="
	case opContains:
		return "CONTAINS"
	case opHas:
		return "HAS"
	case opIn:
		return "IN"
	case opNotIn:
		return "NOT IN"
	}
	return "?"
}

// root is the document a key path resolves against.
type root uint8

const (
	rootTask root = iota
	rootWorker
)

// operand is one side of a comparison: a constant (lit, lists included,
// boxed once at compile time so evaluation never allocates) or a key path.
type operand struct {
	isRef bool
	lit   any
	root  root
	path  []seg
	key   string // pathString(path): the name of its index
	text  string // as written
}

// nodeKind distinguishes logical nodes from comparisons.
type nodeKind uint8

const (
	nCmp nodeKind = iota
	nAnd
	nOr
)

// node is a compiled (sub)expression. AND/OR chains are flattened.
type node struct {
	kind nodeKind
	kids []*node
	op   cmpOp
	l, r operand
	off  int // source offset of the comparison, for explanations
}

// Expr is a compiled expression. It is immutable and safe for concurrent use.
type Expr struct {
	src   string
	scope Scope
	root  *node
}

// String returns the source the expression was compiled from.
func (e *Expr) String() string {
	if e == nil {
		return ""
	}
	return e.src
}

// Scope returns the scope the expression was compiled for.
func (e *Expr) Scope() Scope { return e.scope }

// evalCtx holds the documents of one evaluation. box, when set, holds the
// worker's own fields already boxed (the index keeps them so that
// evaluating worker.sid does not allocate).
type evalCtx struct {
	task   Attributes
	worker Attributes
	wlist  attrList // the worker's attributes when the index keeps them as a list (with box)
	info   *WorkerInfo
	box    *builtinBox
}

// Eval evaluates the expression against a task and a worker. Either may be
// nil (keys then resolve to NULL). A nil *Expr is true: "no expression"
// matches everything. Eval never panics and does not allocate.
func (e *Expr) Eval(task, worker Attributes) bool {
	if e == nil {
		return true
	}
	c := evalCtx{task: task, worker: worker}
	return e.root.eval(&c)
}

// EvalWorker is Eval with the worker's own fields available. worker.sid,
// worker.friendly_name, worker.activity_sid and worker.activity_name resolve
// to the WorkerInfo fields, when set, before the worker's attributes.
// Reading those fields costs a small allocation here. The Index keeps them
// boxed and does not allocate.
func (e *Expr) EvalWorker(task Attributes, w *WorkerInfo) bool {
	if e == nil {
		return true
	}
	c := workerCtx(task, w)
	return e.root.eval(&c)
}

// workerCtx is the evaluation context of task and w, which may be nil.
func workerCtx(task Attributes, w *WorkerInfo) evalCtx {
	c := evalCtx{task: task}
	if w != nil {
		c.worker = w.Attributes
		c.info = w
	}
	return c
}

// evalRec evaluates against an indexed worker.
func (e *Expr) evalRec(task Attributes, r *wrec) bool {
	if e == nil {
		return true
	}
	c := evalCtx{task: task, worker: r.info.Attributes, wlist: r.list, info: &r.info, box: &r.box}
	return e.root.eval(&c)
}

func (n *node) eval(c *evalCtx) bool {
	switch n.kind {
	case nAnd:
		for _, k := range n.kids {
			if !k.eval(c) {
				return false
			}
		}
		return true
	case nOr:
		for _, k := range n.kids {
			if k.eval(c) {
				return true
			}
		}
		return false
	}
	return compare(n.op, c.value(&n.l), c.value(&n.r))
}

// compare applies a comparison operator to two resolved values.
func compare(op cmpOp, a, b any) bool {
	switch op {
	case opEq:
		ok, eq := scalarEq(a, b)
		return ok && eq
	case opNe:
		ok, eq := scalarEq(a, b)
		return ok && !eq
	case opLt, opLe, opGt, opGe:
		c, ok := order(a, b)
		if !ok {
			return false
		}
		switch op {
		case opLt:
			return c < 0
		case opLe:
			return c <= 0
		case opGt:
			return c > 0
		}
		return c >= 0
	case opContains:
		x, ok1 := a.(string)
		y, ok2 := b.(string)
		return ok1 && ok2 && y != "" && strings.Contains(x, y)
	case opHas:
		arr, ok := asArr(a)
		return ok && inArray(b, arr)
	case opIn:
		arr, ok := asArr(b)
		return ok && inArray(a, arr)
	case opNotIn:
		if !isScalar(a) {
			return false
		}
		if kindOf(b) == kNull {
			return true
		}
		arr, ok := asArr(b)
		return ok && !inArray(a, arr)
	}
	return false
}

// value resolves an operand.
func (c *evalCtx) value(o *operand) any {
	if !o.isRef {
		return o.lit
	}
	if o.root == rootTask {
		return resolve(c.task, o.path)
	}
	if c.box != nil {
		return resolveBoxed(c.worker, c.wlist, c.box, o.path)
	}
	return resolveWorker(c.worker, c.info, o.path)
}

// The worker's own fields that expressions can name.
const (
	fieldSID = iota
	fieldFriendlyName
	fieldActivitySID
	fieldActivityName
	numFields
)

// builtinBox holds a worker's own fields boxed once (nil when unset).
type builtinBox [numFields]any

func fieldIndex(key string) int {
	switch key {
	case "sid":
		return fieldSID
	case "friendly_name":
		return fieldFriendlyName
	case "activity_sid":
		return fieldActivitySID
	case "activity_name":
		return fieldActivityName
	}
	return -1
}

func (w *WorkerInfo) field(i int) string {
	switch i {
	case fieldSID:
		return w.SID
	case fieldFriendlyName:
		return w.FriendlyName
	case fieldActivitySID:
		return w.ActivitySID
	case fieldActivityName:
		return w.ActivityName
	}
	return ""
}

// boxFields boxes a worker's own fields.
func boxFields(w *WorkerInfo) builtinBox {
	var b builtinBox
	for i := range b {
		if s := w.field(i); s != "" {
			b[i] = s
		}
	}
	return b
}

// resolveWorker resolves a worker path: the worker's own fields first (when
// set), then its attributes.
func resolveWorker(attrs Attributes, w *WorkerInfo, path []seg) any {
	if w != nil && len(path) > 0 && path[0].idx < 0 {
		if i := fieldIndex(path[0].key); i >= 0 {
			if s := w.field(i); s != "" {
				if len(path) == 1 {
					return s
				}
				return nil
			}
		}
	}
	return resolve(attrs, path)
}

// resolveBoxed is resolveWorker with the fields boxed in advance, and the
// attributes as a list when list is not nil.
func resolveBoxed(attrs Attributes, list attrList, b *builtinBox, path []seg) any {
	if len(path) > 0 && path[0].idx < 0 {
		if i := fieldIndex(path[0].key); i >= 0 && b[i] != nil {
			if len(path) == 1 {
				return b[i]
			}
			return nil
		}
	}
	if list != nil {
		return resolveList(list, path)
	}
	return resolve(attrs, path)
}

// resolve walks a key path through a document; anything missing is nil.
func resolve(doc Attributes, path []seg) any {
	if doc == nil || len(path) == 0 || path[0].idx >= 0 {
		return nil
	}
	cur, ok := doc[path[0].key]
	if !ok {
		return nil
	}
	return resolveRest(cur, path[1:])
}

// resolveRest walks the rest of a key path from a document's top-level value.
func resolveRest(cur any, path []seg) any {
	for _, s := range path {
		if s.idx >= 0 {
			arr, isArr := cur.([]any)
			if !isArr || s.idx >= len(arr) {
				return nil
			}
			cur = arr[s.idx]
			continue
		}
		switch m := cur.(type) {
		case map[string]any:
			cur = m[s.key]
		case Attributes:
			cur = m[s.key]
		default:
			return nil
		}
	}
	return cur
}

// pathString renders a key path.
func pathString(path []seg) string {
	var b strings.Builder
	for i, s := range path {
		if s.idx >= 0 {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.idx))
			b.WriteByte(']')
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.key)
	}
	return b.String()
}
