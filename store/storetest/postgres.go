package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/didrouter/didrouter/migrations"
	"github.com/didrouter/didrouter/store/postgres"
)

// templateLockKey is the advisory lock that serializes building the template
// database across test processes (go test runs packages in parallel).
const templateLockKey = 0x6469_6472_7465_6d70 // "didrtemp"

// setupTimeout bounds creating or dropping a test database.
const setupTimeout = 2 * time.Minute

// Postgres returns a store on a fresh, migrated database of its own, closed
// and dropped when the test ends.
func Postgres(t testing.TB) *postgres.Store {
	t.Helper()
	dbURL := PostgresURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	s, err := postgres.Open(ctx, dbURL, nil)
	if err != nil {
		t.Fatalf("storetest: open test database: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// PostgresURL creates a fresh, migrated database and returns its URL (to open
// several stores on one database). The database is dropped when the test
// ends, after the cleanups registered later (such as closing stores).
func PostgresURL(t testing.TB) string {
	t.Helper()
	return newDatabase(t, true)
}

// EmptyPostgresURL is PostgresURL without the migrations (for migration tests).
func EmptyPostgresURL(t testing.TB) string {
	t.Helper()
	return newDatabase(t, false)
}

func newDatabase(t testing.TB, migrated bool) string {
	t.Helper()
	base := serverURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("storetest: connect to the test server: %v", err)
	}
	defer closeConn(admin)
	create := "CREATE DATABASE "
	name := "t_" + randomHex(8)
	if migrated {
		tmpl, err := ensureTemplate(ctx, admin, base)
		if err != nil {
			t.Fatalf("storetest: prepare the template database: %v", err)
		}
		create += name + " TEMPLATE " + tmpl
	} else {
		create += name
	}
	if _, err := admin.Exec(ctx, create); err != nil {
		t.Fatalf("storetest: %s: %v", create, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		if err := dropDatabase(ctx, base, name); err != nil {
			t.Errorf("storetest: drop test database %s: %v", name, err)
		}
	})
	dbURL, err := withDatabase(base, name)
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	return dbURL
}

func serverURL(t testing.TB) string {
	for _, key := range []string{"TEST_DATABASE_URL", "DATABASE_URL"} {
		if v := os.Getenv(key); v != "" {
			return v
		}
	}
	t.Fatalf("storetest: no Postgres for tests: set TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable) " +
		"to a server where the user may create databases, or run scripts/test.sh, which starts a throwaway cluster")
	return ""
}

// ensureTemplate returns the name of the migrated template database, building
// it under an advisory lock if this is the first test to need it.
func ensureTemplate(ctx context.Context, admin *pgx.Conn, base string) (string, error) {
	fp, err := migrations.Fingerprint(migrations.DialectPostgres)
	if err != nil {
		return "", err
	}
	tmpl := "didrouter_tmpl_" + fp[:16]
	if ok, err := databaseExists(ctx, admin, tmpl); err != nil || ok {
		return tmpl, err
	}
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(templateLockKey)); err != nil {
		return "", fmt.Errorf("lock: %w", err)
	}
	defer func() {
		_, _ = admin.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", int64(templateLockKey))
	}()
	if ok, err := databaseExists(ctx, admin, tmpl); err != nil || ok {
		return tmpl, err // another process built it while we waited
	}
	if err := dropStaleTemplates(ctx, admin, base); err != nil {
		return "", err
	}
	// Build under another name and rename when complete, so that a process
	// killed mid-migration never leaves a half-migrated template behind.
	build := tmpl + "_build"
	if err := dropDatabase(ctx, base, build); err != nil {
		return "", err
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+build); err != nil {
		return "", fmt.Errorf("create %s: %w", build, err)
	}
	buildURL, err := withDatabase(base, build)
	if err != nil {
		return "", err
	}
	if err := postgres.Migrate(ctx, buildURL, nil); err != nil {
		return "", err
	}
	if err := renameDatabase(ctx, admin, build, tmpl); err != nil {
		return "", err
	}
	// Nobody may connect to a template: CREATE DATABASE … TEMPLATE fails
	// while it has sessions.
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+tmpl+" WITH ALLOW_CONNECTIONS false"); err != nil {
		return "", fmt.Errorf("seal %s: %w", tmpl, err)
	}
	return tmpl, nil
}

func databaseExists(ctx context.Context, admin *pgx.Conn, name string) (bool, error) {
	var n int
	err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look up database %s: %w", name, err)
	}
	return n > 0, nil
}

// renameDatabase retries while the sessions that just migrated the database
// are still going away.
func renameDatabase(ctx context.Context, admin *pgx.Conn, from, to string) error {
	var err error
	for range 50 {
		if _, err = admin.Exec(ctx, "ALTER DATABASE "+from+" RENAME TO "+to); err == nil {
			return nil
		}
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "55006" { // object_in_use
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("rename %s to %s: %w", from, to, err)
}

// dropStaleTemplates removes templates of other schemas that have not been
// touched for a day. Younger ones may belong to another checkout running
// its tests on the same server at this moment (another branch, another
// schema). Where the role may not read the data directory's dates, it
// keeps them all: a left-over template costs only disk.
func dropStaleTemplates(ctx context.Context, admin *pgx.Conn, base string) error {
	rows, err := admin.Query(ctx, `SELECT datname FROM pg_database
		WHERE datname LIKE 'didrouter\_tmpl\_%'
		AND (pg_stat_file('base/' || oid)).modification < now() - interval '1 day'`)
	if err != nil {
		return nil
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil
	}
	for _, name := range names {
		if err := dropDatabase(ctx, base, name); err != nil {
			return err
		}
	}
	return nil
}

func dropDatabase(ctx context.Context, base, name string) error {
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer closeConn(admin)
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop %s: %w", name, err)
	}
	return nil
}

// withDatabase returns base pointing at database name instead.
func withDatabase(base, name string) (string, error) {
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		u, err := url.Parse(base)
		if err != nil {
			return "", fmt.Errorf("parse database URL: %w", err)
		}
		u.Path = "/" + name
		return u.String(), nil
	}
	return base + " dbname=" + name, nil // key=value form: a later key wins
}

func closeConn(c *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.Close(ctx) // nothing to do about a failed goodbye
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}
