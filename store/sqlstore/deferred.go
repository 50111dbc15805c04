package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Deferrer is implemented by a transaction's DB that can hold back writes
// whose outcome nobody reads before commit (events, timers, change
// notifications) and send them with a later statement or at commit, in
// one round trip. It must send them before any later statement that may
// see them (Pending.TakeBefore says which), so the transaction sees its own
// writes as if they had run at once.
type Deferrer interface {
	Deferred() *Pending
}

// Write is one statement held back by a Deferrer. Wrap turns its failure
// into the error its caller would have got.
type Write struct {
	Query string
	Args  []any
	Wrap  func(error) error
}

// maxRowsPerInsert bounds the rows of one multi-row INSERT, which keeps its
// arguments well under both databases' limits (65535 on Postgres, 32766 on
// SQLite) for the widest table.
const maxRowsPerInsert = 500

// Pending is a transaction's held-back writes, in order. The rows added by
// AddRow join one multi-row INSERT per table (and key), which waits for
// commit or for a statement that names its table: a routed call's
// transactions write several events and timers between their other
// statements, and one INSERT for them costs Postgres a fraction of one
// each. A held-back write that names the table (clearing timers) closes
// the INSERT: it keeps its place before that write, and later rows start
// another.
type Pending struct {
	entries []pendingEntry
}

// pendingEntry is a plain write, or (rows != nil) a multi-row INSERT.
type pendingEntry struct {
	write Write
	rows  *rowInsert
}

// Insert is the shape of a multi-row INSERT: "INSERT INTO Table (Columns)
// VALUES (…), (…)" and then Tail, an ON CONFLICT clause or "".
type Insert struct {
	Table, Columns, Tail string
}

type rowInsert struct {
	Insert
	key    string
	width  int
	args   []any
	unique []string                        // each row's, when rows replace each other
	wrap   func(err error, rows int) error // the first row's
	closed bool                            // a later held-back write names the table
}

// Add holds back a write.
func (p *Pending) Add(query string, args []any, wrap func(error) error) {
	for _, e := range p.entries {
		if e.rows != nil && namesTable(query, e.rows.Table) {
			e.rows.closed = true
		}
	}
	p.entries = append(p.entries, pendingEntry{write: Write{Query: query, Args: args, Wrap: wrap}})
}

// AddRow holds back one row of ins. Rows of the same Insert and key go in
// one statement, whose failure is reported by the first row's wrap with
// the number of rows it held. The key keeps apart rows an error message
// would name differently (the workspace of an event). A row whose unique
// ("": none) is already in the statement replaces that row, as a second
// upsert of the same key would: Postgres refuses one statement that
// touches a row twice.
func (p *Pending) AddRow(ins Insert, key, unique string, row []any, wrap func(err error, rows int) error) {
	for _, e := range p.entries {
		r := e.rows
		if r == nil || r.Insert != ins || r.key != key || r.closed {
			continue
		}
		if k := slices.Index(r.unique, unique); unique != "" && k >= 0 {
			copy(r.args[k*r.width:], row)
			return
		}
		if len(r.args) < maxRowsPerInsert*r.width {
			r.args = append(r.args, row...)
			r.unique = append(r.unique, unique)
			return
		}
	}
	p.entries = append(p.entries, pendingEntry{rows: &rowInsert{Insert: ins, key: key, width: len(row),
		args: append([]any(nil), row...), unique: []string{unique}, wrap: wrap}})
}

// Len is how many statements the pending writes make.
func (p *Pending) Len() int { return len(p.entries) }

// Take returns all pending writes as statements, in order, and forgets
// them (at commit).
func (p *Pending) Take() []Write { return p.TakeBefore("") }

// TakeBefore returns the pending writes that must run before query, in
// order, and forgets them: the plain writes, the multi-row INSERTs a plain
// write closed, and those into tables query names ("" names them all). The
// other INSERTs stay.
func (p *Pending) TakeBefore(query string) []Write {
	if len(p.entries) == 0 {
		return nil
	}
	var out []Write
	kept := p.entries[:0]
	for _, e := range p.entries {
		switch {
		case e.rows == nil:
			out = append(out, e.write)
		case query == "" || e.rows.closed || namesTable(query, e.rows.Table):
			out = append(out, e.rows.statement())
		default:
			kept = append(kept, e)
		}
	}
	clear(p.entries[len(kept):])
	p.entries = kept
	return out
}

// namesTable reports whether query has table as a whole word: it may read
// or change that table. A column such as events_filter is not the table
// events.
func namesTable(query, table string) bool {
	word := func(c byte) bool {
		return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
	}
	for i := 0; ; {
		j := strings.Index(query[i:], table)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(table)
		if (start == 0 || !word(query[start-1])) && (end == len(query) || !word(query[end])) {
			return true
		}
		i = end
	}
}

func (r *rowInsert) statement() Write {
	n := len(r.args) / r.width
	var b strings.Builder
	b.WriteString("INSERT INTO " + r.Table + " (" + r.Columns + ") VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j := range r.width {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(i*r.width + j + 1))
		}
		b.WriteByte(')')
	}
	b.WriteString(r.Tail)
	wrap := r.wrap
	return Write{Query: b.String(), Args: r.args, Wrap: func(err error) error { return wrap(err, n) }}
}

// execLater runs a write whose only possible outcome the caller acts on is
// failure of the whole transaction: deferred where the DB can, else now.
func (q *Queries) execLater(ctx context.Context, wrap func(error) error, query string, args ...any) error {
	if d, ok := q.db.(Deferrer); ok {
		d.Deferred().Add(query, args, wrap)
		return nil
	}
	if _, err := q.db.Exec(ctx, query, args...); err != nil {
		return wrap(err)
	}
	return nil
}

// insertLater is execLater for one row of ins, which joins the other rows
// of ins and key the transaction holds back in one statement (see
// Pending.AddRow).
func (q *Queries) insertLater(ctx context.Context, wrap func(err error, rows int) error, ins Insert, key, unique string, row ...any) error {
	if d, ok := q.db.(Deferrer); ok {
		d.Deferred().AddRow(ins, key, unique, row, wrap)
		return nil
	}
	p := Pending{}
	p.AddRow(ins, key, unique, row, wrap)
	w := p.Take()[0]
	if _, err := q.db.Exec(ctx, w.Query, w.Args...); err != nil {
		return w.Wrap(err)
	}
	return nil
}

// DeferringDB holds back the deferred writes of a transaction on a DB that
// cannot batch statements (SQLite's): they run just before the next
// statement that must see them, or at Flush before commit, so that rows of
// one table join one multi-row INSERT.
type DeferringDB struct {
	DB
	pending Pending
}

var _ Deferrer = (*DeferringDB)(nil)

// NewDeferringDB wraps a transaction's DB.
func NewDeferringDB(db DB) *DeferringDB { return &DeferringDB{DB: db} }

func (d *DeferringDB) Deferred() *Pending { return &d.pending }

// Flush runs all held-back writes (before commit).
func (d *DeferringDB) Flush(ctx context.Context) error { return d.run(ctx, d.pending.Take()) }

// run runs writes in order; the first failure stops it.
func (d *DeferringDB) run(ctx context.Context, writes []Write) error {
	for _, w := range writes {
		if _, err := d.DB.Exec(ctx, w.Query, w.Args...); err != nil {
			return w.Wrap(err)
		}
	}
	return nil
}

func (d *DeferringDB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	if err := d.run(ctx, d.pending.TakeBefore(query)); err != nil {
		return 0, err
	}
	return d.DB.Exec(ctx, query, args...)
}

func (d *DeferringDB) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	if err := d.run(ctx, d.pending.TakeBefore(query)); err != nil {
		return nil, err
	}
	return d.DB.Query(ctx, query, args...)
}

func (d *DeferringDB) QueryRow(ctx context.Context, query string, args ...any) Row {
	if err := d.run(ctx, d.pending.TakeBefore(query)); err != nil {
		return ErrRow{Err: err}
	}
	return d.DB.QueryRow(ctx, query, args...)
}

// ErrRow is a row whose query failed before it ran.
type ErrRow struct{ Err error }

func (r ErrRow) Scan(...any) error { return r.Err }

// rowsNamed names the first of rows written together in one statement, for
// an error message: "EV1", or "EV1 (or another of the 4 events written
// with it)".
func rowsNamed(sid string, rows int, what string) string {
	if rows <= 1 {
		return sid
	}
	return fmt.Sprintf("%s (or another of the %d %ss written with it)", sid, rows, what)
}
