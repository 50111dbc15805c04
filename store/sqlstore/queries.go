package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/didrouter/didrouter"
)

// Queries implements didrouter.Reader on a DB. Inside a transaction its
// single-row reads lock the row they return.
type Queries struct {
	db    DB
	d     *Dialect
	lock  string // appended to single-row reads of tasks, reservations, workers
	share string // appended to single-row reads of configuration rows
}

// NewReader returns the didrouter.Reader of committed state on db (a pool).
func NewReader(db DB, d *Dialect) *Queries { return &Queries{db: db, d: d} }

var _ didrouter.Reader = (*Queries)(nil)

// get reads a row that a transaction may go on to modify (a task,
// reservation or worker), locking it exclusively inside a transaction.
// ENOTFOUND names what and sid when there is no row.
func get[T any](ctx context.Context, q *Queries, scan func(Row) (T, error), what, sid, query string, args ...any) (T, error) {
	return getRow(ctx, q, scan, what, sid, query+q.lock, args...)
}

// getShared reads a configuration row (workspace, activity, queue, workflow,
// binding) with a shared lock inside a transaction: it cannot change or
// vanish before commit, yet concurrent calls reading the same workspace or
// activity do not queue behind each other.
func getShared[T any](ctx context.Context, q *Queries, scan func(Row) (T, error), what, sid, query string, args ...any) (T, error) {
	return getRow(ctx, q, scan, what, sid, query+q.share, args...)
}

func getRow[T any](ctx context.Context, q *Queries, scan func(Row) (T, error), what, sid, query string, args ...any) (T, error) {
	v, err := scan(q.db.QueryRow(ctx, query, args...))
	if errors.Is(err, sql.ErrNoRows) {
		var zero T
		return zero, didrouter.Errorf(didrouter.ENOTFOUND, "%s %s not found", what, sid)
	}
	if err != nil {
		var zero T
		return zero, q.wrap(err, "read %s %s", what, sid)
	}
	return v, nil
}

// each calls fn for every row of a query.
func each[T any](ctx context.Context, q *Queries, scan func(Row) (T, error), fn func(T) error, what, query string, args ...any) error {
	rows, err := q.db.Query(ctx, query, args...)
	if err != nil {
		return q.wrap(err, "list %s", what)
	}
	defer rows.Close()
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return q.wrap(err, "read %s", what)
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return q.wrap(err, "list %s", what)
	}
	return nil
}

// list collects every row of a query.
func list[T any](ctx context.Context, q *Queries, scan func(Row) (T, error), what, query string, args ...any) ([]T, error) {
	var out []T
	err := each(ctx, q, scan, func(v T) error { out = append(out, v); return nil }, what, query, args...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// wrap adds the dialect and the operation to an unexpected error.
func (q *Queries) wrap(err error, format string, args ...any) error {
	return fmt.Errorf("%s: %s: %w", q.d.Name, fmt.Sprintf(format, args...), err)
}

// exec runs a write that must touch a row; ENOTFOUND names what and sid otherwise.
func (q *Queries) execOne(ctx context.Context, what, sid, query string, args ...any) error {
	n, err := q.db.Exec(ctx, query, args...)
	if err != nil {
		return q.wrap(err, "write %s %s", what, sid)
	}
	if n == 0 {
		return didrouter.Errorf(didrouter.ENOTFOUND, "%s %s not found", what, sid)
	}
	return nil
}

// insert runs an INSERT, turning a duplicate key into ECONFLICT and a
// missing parent row into ENOTFOUND.
func (q *Queries) insert(ctx context.Context, what, sid, workspaceSID, query string, args ...any) error {
	_, err := q.db.Exec(ctx, query, args...)
	return q.insertError(err, what, sid, workspaceSID)
}

func (q *Queries) insertError(err error, what, sid, workspaceSID string) error {
	if err == nil {
		return nil
	}
	if _, ok := q.d.UniqueViolation(err); ok {
		return didrouter.Errorf(didrouter.ECONFLICT, "%s %s already exists", what, sid)
	}
	if q.d.ForeignKeyViolation(err) {
		return didrouter.Errorf(didrouter.ENOTFOUND, "cannot add %s %s: workspace %s not found", what, sid, workspaceSID)
	}
	return q.wrap(err, "insert %s %s", what, sid)
}

// args builds a statement's argument list and its $N placeholders.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// in returns "($i, $j, …)" for values.
func (a *args) in(values []string) string {
	ph := make([]string, len(values))
	for i, v := range values {
		ph[i] = a.add(v)
	}
	return "(" + strings.Join(ph, ", ") + ")"
}
