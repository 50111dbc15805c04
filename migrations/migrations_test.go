package migrations_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver

	"github.com/didrouter/didrouter/migrations"
	"github.com/didrouter/didrouter/store/storetest"
)

func openSQLite(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func openPostgres(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestUpIsIdempotent(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		dialect migrations.Dialect
		open    func(t *testing.T) *sql.DB
	}{
		{migrations.DialectSQLite, openSQLite},
		{migrations.DialectPostgres, func(t *testing.T) *sql.DB { return openPostgres(t, storetest.EmptyPostgresURL(t)) }},
	} {
		t.Run(string(tc.dialect), func(t *testing.T) {
			db := tc.open(t)
			cur, latest, err := migrations.Versions(ctx, db, tc.dialect)
			if err != nil || cur != 0 || latest < 1 {
				t.Fatalf("fresh database: version %d of %d (%v)", cur, latest, err)
			}
			for range 2 {
				if err := migrations.Up(ctx, db, tc.dialect); err != nil {
					t.Fatal(err)
				}
			}
			cur, latest, err = migrations.Versions(ctx, db, tc.dialect)
			if err != nil || cur != latest {
				t.Fatalf("after Up: version %d of %d (%v)", cur, latest, err)
			}
		})
	}
}

// Both dialects must describe the same tables and columns.
func TestDialectsAgree(t *testing.T) {
	ctx := context.Background()
	lite := openSQLite(t)
	if err := migrations.Up(ctx, lite, migrations.DialectSQLite); err != nil {
		t.Fatal(err)
	}
	pg := openPostgres(t, storetest.PostgresURL(t))
	got := map[string][]string{}
	rows, err := lite.QueryContext(ctx, `SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
		WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite%' AND m.name <> 'goose_db_version'`)
	collect(t, rows, err, got)
	want := map[string][]string{}
	rows, err = pg.QueryContext(ctx, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = 'public' AND table_name <> 'goose_db_version'`)
	collect(t, rows, err, want)
	if len(want) < 10 {
		t.Fatalf("Postgres schema has %d tables", len(want))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SQLite schema %v\ndiffers from Postgres schema %v", got, want)
	}
}

func collect(t *testing.T, rows *sql.Rows, err error, into map[string][]string) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var table, col string
		if err := rows.Scan(&table, &col); err != nil {
			t.Fatal(err)
		}
		into[table] = append(into[table], col)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, cols := range into {
		sort.Strings(cols)
	}
}

func TestFingerprint(t *testing.T) {
	pg1, err1 := migrations.Fingerprint(migrations.DialectPostgres)
	pg2, err2 := migrations.Fingerprint(migrations.DialectPostgres)
	lite, err3 := migrations.Fingerprint(migrations.DialectSQLite)
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatal(err1, err2, err3)
	}
	if pg1 != pg2 || len(pg1) != 64 || pg1 == lite {
		t.Errorf("fingerprints: %q %q %q", pg1, pg2, lite)
	}
	if _, err := migrations.Fingerprint("oracle"); err == nil {
		t.Error("unknown dialect accepted")
	}
	if err := migrations.Up(context.Background(), openSQLite(t), "oracle"); err == nil {
		t.Error("Up with an unknown dialect succeeded")
	}
}
