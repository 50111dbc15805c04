package migrations_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/didrouter/didrouter/migrations"
	"github.com/didrouter/didrouter/store/storetest"
)

// Migration 00007 fills callback_number for the call-back requests stored
// before it, and only for them.
func TestCallbackNumberBackfill(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		dialect migrations.Dialect
		goose   goose.Dialect
		open    func(t *testing.T) *sql.DB
		now     string
	}{
		{migrations.DialectSQLite, goose.DialectSQLite3, openSQLite, "0"},
		{migrations.DialectPostgres, goose.DialectPostgres, func(t *testing.T) *sql.DB { return openPostgres(t, storetest.EmptyPostgresURL(t)) }, "now()"},
	} {
		t.Run(string(tc.dialect), func(t *testing.T) {
			db := tc.open(t)
			fsys, err := migrations.FS(tc.dialect)
			if err != nil {
				t.Fatal(err)
			}
			p, err := goose.NewProvider(tc.goose, db, fsys)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.UpTo(ctx, 6); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO workspaces (sid, friendly_name, date_created, date_updated)
				VALUES ('WS1', 'ws', `+tc.now+`, `+tc.now+`)`); err != nil {
				t.Fatal(err)
			}
			for sid, attrs := range map[string]string{
				"WTcallback": `{"type":"callback","name":"+12125550123","callback_number":"+12125550123"}`,
				"WTcall":     `{"type":"inbound","name":"+12125550123","callback_number":"+12125550123"}`,
				"WTnumber":   `{"type":"callback","callback_number":5}`,
			} {
				if _, err := db.ExecContext(ctx, `INSERT INTO tasks (sid, workspace_sid, attributes, assignment_status,
					step_entered_at, date_created, date_updated) VALUES ('`+sid+`', 'WS1', '`+attrs+`', 'pending', `+tc.now+`, `+tc.now+`, `+tc.now+`)`); err != nil {
					t.Fatal(err)
				}
			}
			if err := migrations.Up(ctx, db, tc.dialect); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			rows, err := db.QueryContext(ctx, `SELECT sid, callback_number FROM tasks`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var sid, n string
				if err := rows.Scan(&sid, &n); err != nil {
					t.Fatal(err)
				}
				got[sid] = n
			}
			want := map[string]string{"WTcallback": "+12125550123", "WTcall": "", "WTnumber": ""}
			for sid, n := range want {
				if got[sid] != n {
					t.Errorf("%s: callback_number %q, want %q", sid, got[sid], n)
				}
			}
		})
	}
}
