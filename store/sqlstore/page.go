package sqlstore

import (
	"context"
	"fmt"

	"github.com/didrouter/didrouter"
)

// Page sizes (didrouter.Page).
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// pageClause returns the tail of a list query, which is the cursor
// condition, the order and the limit. The condition keeps the rows after
// the row p.After names, in the order of dateCol, then sid.
func pageClause(a *args, table, dateCol string, p didrouter.Page, desc bool) string {
	size := p.Size
	if size <= 0 {
		size = DefaultPageSize
	}
	size = min(size, MaxPageSize)
	cmp, dir := ">", "ASC"
	if desc {
		cmp, dir = "<", "DESC"
	}
	var tail string
	if p.After != "" {
		tail = fmt.Sprintf(" AND (%[1]s, sid) %[2]s (SELECT %[1]s, sid FROM %[3]s WHERE sid = %[4]s)",
			dateCol, cmp, table, a.add(p.After))
	}
	return tail + fmt.Sprintf(" ORDER BY %[1]s %[2]s, sid %[2]s LIMIT %[3]s", dateCol, dir, a.add(size))
}

// checkCursor turns an empty page after an unknown cursor into EINVALID, so
// that a bad After is not mistaken for the end of the list.
func checkCursor[T any](ctx context.Context, q *Queries, page []T, table, after string) ([]T, error) {
	if len(page) > 0 || after == "" {
		return page, nil
	}
	var one int
	err := q.db.QueryRow(ctx, "SELECT 1 FROM "+table+" WHERE sid = $1", after).Scan(&one)
	if err == nil {
		return page, nil
	}
	if isNoRows(err) {
		return nil, didrouter.Errorf(didrouter.EINVALID, "page cursor %q is not a known sid", after)
	}
	return nil, q.wrap(err, "check page cursor %s", after)
}
