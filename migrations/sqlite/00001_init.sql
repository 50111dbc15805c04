-- didrouter schema, SQLite dialect (STRICT tables). Times are INTEGER unix
-- microseconds, UTC: the same precision Postgres keeps, integers sort and
-- compare like the timestamps they stand for, and Go's zero time (year 1)
-- still fits. Booleans are INTEGER 0/1. Keep in step with
-- ../postgres/00001_init.sql.

-- +goose Up
CREATE TABLE workspaces (
    sid                  TEXT NOT NULL PRIMARY KEY,
    friendly_name        TEXT NOT NULL,
    default_activity_sid TEXT NOT NULL DEFAULT '',
    timeout_activity_sid TEXT NOT NULL DEFAULT '',
    default_workflow_sid TEXT NOT NULL DEFAULT '',
    event_callback_url   TEXT NOT NULL DEFAULT '',
    greeting             TEXT NOT NULL DEFAULT '',
    hold_message         TEXT NOT NULL DEFAULT '',
    date_created         INTEGER NOT NULL,
    date_updated         INTEGER NOT NULL
) STRICT;
CREATE INDEX workspaces_page ON workspaces (date_created, sid);

CREATE TABLE activities (
    sid           TEXT NOT NULL PRIMARY KEY,
    workspace_sid TEXT NOT NULL REFERENCES workspaces (sid),
    friendly_name TEXT NOT NULL,
    available     INTEGER NOT NULL,
    date_created  INTEGER NOT NULL,
    date_updated  INTEGER NOT NULL
) STRICT;
CREATE INDEX activities_page ON activities (workspace_sid, date_created, sid);

-- activity_name and available copy the worker's activity so that the claim
-- (one conditional UPDATE) needs no join.
CREATE TABLE workers (
    sid                 TEXT NOT NULL PRIMARY KEY,
    workspace_sid       TEXT NOT NULL REFERENCES workspaces (sid),
    friendly_name       TEXT NOT NULL,
    attributes          TEXT NOT NULL DEFAULT '{}',
    activity_sid        TEXT NOT NULL DEFAULT '',
    activity_name       TEXT NOT NULL DEFAULT '',
    available           INTEGER NOT NULL DEFAULT 0,
    capacity            INTEGER NOT NULL DEFAULT 1 CHECK (capacity >= 0),
    busy                INTEGER NOT NULL DEFAULT 0 CHECK (busy >= 0),
    phone_number        TEXT NOT NULL DEFAULT '',
    date_status_changed INTEGER NOT NULL,
    date_created        INTEGER NOT NULL,
    date_updated        INTEGER NOT NULL,
    version             INTEGER NOT NULL DEFAULT 1
) STRICT;
CREATE UNIQUE INDEX workers_phone_number_key ON workers (workspace_sid, phone_number) WHERE phone_number <> '';
CREATE INDEX workers_page ON workers (workspace_sid, date_created, sid);
CREATE INDEX workers_activity ON workers (activity_sid);

CREATE TABLE task_queues (
    sid                  TEXT NOT NULL PRIMARY KEY,
    workspace_sid        TEXT NOT NULL REFERENCES workspaces (sid),
    friendly_name        TEXT NOT NULL,
    target_workers       TEXT NOT NULL DEFAULT '1==1',
    task_order           TEXT NOT NULL DEFAULT 'FIFO',
    max_reserved_workers INTEGER NOT NULL DEFAULT 1,
    date_created         INTEGER NOT NULL,
    date_updated         INTEGER NOT NULL
) STRICT;
CREATE INDEX task_queues_page ON task_queues (workspace_sid, date_created, sid);

CREATE TABLE workflows (
    sid                              TEXT NOT NULL PRIMARY KEY,
    workspace_sid                    TEXT NOT NULL REFERENCES workspaces (sid),
    friendly_name                    TEXT NOT NULL,
    configuration                    TEXT NOT NULL,
    task_reservation_timeout         INTEGER NOT NULL DEFAULT 120,
    assignment_callback_url          TEXT NOT NULL DEFAULT '',
    fallback_assignment_callback_url TEXT NOT NULL DEFAULT '',
    date_created                     INTEGER NOT NULL,
    date_updated                     INTEGER NOT NULL
) STRICT;
CREATE INDEX workflows_page ON workflows (workspace_sid, date_created, sid);

CREATE TABLE tasks (
    sid               TEXT NOT NULL PRIMARY KEY,
    workspace_sid     TEXT NOT NULL REFERENCES workspaces (sid),
    workflow_sid      TEXT NOT NULL DEFAULT '',
    attributes        TEXT NOT NULL DEFAULT '{}',
    assignment_status TEXT NOT NULL,
    priority          INTEGER NOT NULL DEFAULT 0,
    timeout           INTEGER NOT NULL DEFAULT 0,
    task_channel      TEXT NOT NULL DEFAULT 'voice',
    call_sid          TEXT NOT NULL DEFAULT '',
    reason            TEXT NOT NULL DEFAULT '',
    filter_index      INTEGER NOT NULL DEFAULT -1,
    target_index      INTEGER NOT NULL DEFAULT 0,
    task_queue_sid    TEXT NOT NULL DEFAULT '',
    step_entered_at   INTEGER NOT NULL,
    rejected_workers  TEXT NOT NULL DEFAULT '[]',
    date_created      INTEGER NOT NULL,
    date_updated      INTEGER NOT NULL,
    version           INTEGER NOT NULL DEFAULT 1
) STRICT;
-- One task per inbound call: makes a retried Twilio webhook idempotent.
CREATE UNIQUE INDEX tasks_call_sid_key ON tasks (workspace_sid, call_sid) WHERE call_sid <> '';
-- WaitingTasks: pending tasks in service order.
CREATE INDEX tasks_waiting ON tasks (workspace_sid, priority DESC, date_created, sid) WHERE assignment_status = 'pending';
CREATE INDEX tasks_page ON tasks (workspace_sid, date_created, sid);
CREATE INDEX tasks_status_page ON tasks (workspace_sid, assignment_status, date_created, sid);

CREATE TABLE reservations (
    sid           TEXT NOT NULL PRIMARY KEY,
    workspace_sid TEXT NOT NULL REFERENCES workspaces (sid),
    task_sid      TEXT NOT NULL REFERENCES tasks (sid) ON DELETE CASCADE,
    worker_sid    TEXT NOT NULL,
    status        TEXT NOT NULL,
    timeout       INTEGER NOT NULL DEFAULT 0,
    date_created  INTEGER NOT NULL,
    date_updated  INTEGER NOT NULL
) STRICT;
-- A task is offered to one worker at a time.
CREATE UNIQUE INDEX reservations_active_task_sid_key ON reservations (task_sid) WHERE status IN ('pending', 'accepted');
CREATE INDEX reservations_task ON reservations (task_sid, date_created, sid);
CREATE INDEX reservations_worker ON reservations (worker_sid, date_created, sid);
CREATE INDEX reservations_page ON reservations (workspace_sid, date_created, sid);

CREATE TABLE events (
    sid             TEXT NOT NULL PRIMARY KEY,
    workspace_sid   TEXT NOT NULL REFERENCES workspaces (sid),
    event_type      TEXT NOT NULL,
    resource_type   TEXT NOT NULL DEFAULT '',
    resource_sid    TEXT NOT NULL DEFAULT '',
    description     TEXT NOT NULL DEFAULT '',
    task_sid        TEXT NOT NULL DEFAULT '',
    worker_sid      TEXT NOT NULL DEFAULT '',
    reservation_sid TEXT NOT NULL DEFAULT '',
    data            TEXT NOT NULL DEFAULT '{}',
    date            INTEGER NOT NULL
) STRICT;
CREATE INDEX events_page ON events (workspace_sid, date, sid);
CREATE INDEX events_type ON events (workspace_sid, event_type, date, sid);
CREATE INDEX events_resource ON events (resource_sid, date, sid) WHERE resource_sid <> '';
CREATE INDEX events_task ON events (task_sid, date, sid) WHERE task_sid <> '';
CREATE INDEX events_worker ON events (worker_sid, date, sid) WHERE worker_sid <> '';
CREATE INDEX events_reservation ON events (reservation_sid, date, sid) WHERE reservation_sid <> '';

-- guard_sid is what a timer guards: the task (step, task), the reservation
-- (reservation) or the worker (wrapup); setting a timer replaces the previous
-- one of the same kind for the same guard.
CREATE TABLE timers (
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
CREATE UNIQUE INDEX timers_guard_key ON timers (workspace_sid, kind, guard_sid);
CREATE INDEX timers_fire_at ON timers (fire_at, sid);
CREATE INDEX timers_task ON timers (task_sid) WHERE task_sid <> '';

CREATE TABLE phone_number_bindings (
    phone_number  TEXT NOT NULL PRIMARY KEY,
    workspace_sid TEXT NOT NULL REFERENCES workspaces (sid),
    workflow_sid  TEXT NOT NULL
) STRICT;
CREATE INDEX phone_number_bindings_workspace ON phone_number_bindings (workspace_sid, phone_number);

-- +goose Down
DROP TABLE phone_number_bindings;
DROP TABLE timers;
DROP TABLE events;
DROP TABLE reservations;
DROP TABLE tasks;
DROP TABLE workflows;
DROP TABLE task_queues;
DROP TABLE workers;
DROP TABLE activities;
DROP TABLE workspaces;
