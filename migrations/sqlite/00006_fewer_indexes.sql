-- Fewer index entries per call.
--
-- An event's resource is its task, worker or reservation, whose sid it also
-- carries in task_sid, worker_sid or reservation_sid. A ResourceSid filter
-- is served by that column's index (store/sqlstore/event.go), so the index
-- on resource_sid goes: one index entry fewer for each of the seven events a
-- call writes.
--
-- A timer is identified by what it guards: (workspace_sid, kind, guard_sid)
-- becomes the primary key, and the index on sid goes (SQLite dialect: the
-- table is rebuilt, SQLite cannot change a primary key in place). Keep in
-- step with the other dialect's 00006_fewer_indexes.sql.

-- +goose Up
DROP INDEX events_resource;

CREATE TABLE timers_new (
    sid             TEXT NOT NULL,
    workspace_sid   TEXT NOT NULL REFERENCES workspaces (sid),
    kind            TEXT NOT NULL,
    guard_sid       TEXT NOT NULL,
    task_sid        TEXT NOT NULL DEFAULT '',
    reservation_sid TEXT NOT NULL DEFAULT '',
    worker_sid      TEXT NOT NULL DEFAULT '',
    task_version    INTEGER NOT NULL DEFAULT 0,
    fire_at         INTEGER NOT NULL,
    PRIMARY KEY (workspace_sid, kind, guard_sid)
) STRICT;
INSERT INTO timers_new (sid, workspace_sid, kind, guard_sid, task_sid, reservation_sid, worker_sid, task_version, fire_at)
    SELECT sid, workspace_sid, kind, guard_sid, task_sid, reservation_sid, worker_sid, task_version, fire_at FROM timers;
DROP TABLE timers;
ALTER TABLE timers_new RENAME TO timers;
CREATE INDEX timers_fire_at ON timers (fire_at, sid);
CREATE INDEX timers_task ON timers (task_sid) WHERE task_sid <> '';
CREATE INDEX timers_worker ON timers (worker_sid) WHERE worker_sid <> '';

-- +goose Down
CREATE TABLE timers_old (
    sid             TEXT NOT NULL PRIMARY KEY,
    workspace_sid   TEXT NOT NULL REFERENCES workspaces (sid),
    kind            TEXT NOT NULL,
    guard_sid       TEXT NOT NULL,
    task_sid        TEXT NOT NULL DEFAULT '',
    reservation_sid TEXT NOT NULL DEFAULT '',
    worker_sid      TEXT NOT NULL DEFAULT '',
    task_version    INTEGER NOT NULL DEFAULT 0,
    fire_at         INTEGER NOT NULL
) STRICT;
INSERT INTO timers_old (sid, workspace_sid, kind, guard_sid, task_sid, reservation_sid, worker_sid, task_version, fire_at)
    SELECT sid, workspace_sid, kind, guard_sid, task_sid, reservation_sid, worker_sid, task_version, fire_at FROM timers;
DROP TABLE timers;
ALTER TABLE timers_old RENAME TO timers;
CREATE UNIQUE INDEX timers_guard_key ON timers (workspace_sid, kind, guard_sid);
CREATE INDEX timers_fire_at ON timers (fire_at, sid);
CREATE INDEX timers_task ON timers (task_sid) WHERE task_sid <> '';
CREATE INDEX timers_worker ON timers (worker_sid) WHERE worker_sid <> '';

CREATE INDEX events_resource ON events (resource_sid, date, sid) WHERE resource_sid <> '';
