package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// maxStmts bounds the statement cache. The store's statements are a few
// hundred fixed strings; list queries built from filters add some more,
// and past the bound a statement simply runs unprepared.
const maxStmts = 1024

// stmtCache keeps every statement prepared once. Parsing and planning a
// statement took about a fifth of the server's CPU time on the routing
// step (SQLite's parser is compiled Go here, not C); database/sql prepares
// a cached statement once on each pooled connection and reuses it.
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: make(map[string]*sql.Stmt)}
}

// get returns query's prepared statement, or nil (the caller runs the
// query unprepared) when the cache is full or preparing failed: running it
// then reports the error as usual.
func (c *stmtCache) get(ctx context.Context, query string) *sql.Stmt {
	c.mu.Lock()
	st, ok := c.m[query]
	full := len(c.m) >= maxStmts
	c.mu.Unlock()
	if ok || full {
		return st
	}
	// Prepared without the lock: preparing takes a pooled connection,
	// which may be waiting for a caller that waits for this lock.
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if have, ok := c.m[query]; ok {
		_ = st.Close() // another caller prepared it meanwhile
		return have
	}
	c.m[query] = st
	return st
}

// close closes the prepared statements (before the pool is closed).
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.m {
		_ = st.Close() // closing the pool next releases whatever is left
		delete(c.m, q)
	}
}

// cached runs statements through the cache on the pool (tx nil) or on a
// transaction; it is what sqlstore.StdDB adapts.
type cached struct {
	c  *stmtCache
	tx *sql.Tx
}

// stmt is query's statement bound to the transaction, or nil.
func (q cached) stmt(ctx context.Context, query string) *sql.Stmt {
	st := q.c.get(ctx, query)
	if st == nil || q.tx == nil {
		return st
	}
	return q.tx.StmtContext(ctx, st)
}

func (q cached) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := q.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	if q.tx != nil {
		return q.tx.ExecContext(ctx, query, args...)
	}
	return q.c.db.ExecContext(ctx, query, args...)
}

func (q cached) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := q.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	if q.tx != nil {
		return q.tx.QueryContext(ctx, query, args...)
	}
	return q.c.db.QueryContext(ctx, query, args...)
}

func (q cached) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := q.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	if q.tx != nil {
		return q.tx.QueryRowContext(ctx, query, args...)
	}
	return q.c.db.QueryRowContext(ctx, query, args...)
}
