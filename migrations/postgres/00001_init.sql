-- didrouter schema, Postgres dialect. Times are timestamptz (microsecond
-- precision); sids are text. Keep in step with ../sqlite/00001_init.sql.

-- +goose Up
CREATE TABLE workspaces (
    sid                  text PRIMARY KEY,
    friendly_name        text NOT NULL,
    default_activity_sid text NOT NULL DEFAULT '',
    timeout_activity_sid text NOT NULL DEFAULT '',
    default_workflow_sid text NOT NULL DEFAULT '',
    event_callback_url   text NOT NULL DEFAULT '',
    greeting             text NOT NULL DEFAULT '',
    hold_message         text NOT NULL DEFAULT '',
    date_created         timestamptz NOT NULL,
    date_updated         timestamptz NOT NULL
);
CREATE INDEX workspaces_page ON workspaces (date_created, sid);

CREATE TABLE activities (
    sid           text PRIMARY KEY,
    workspace_sid text NOT NULL REFERENCES workspaces (sid),
    friendly_name text NOT NULL,
    available     boolean NOT NULL,
    date_created  timestamptz NOT NULL,
    date_updated  timestamptz NOT NULL
);
CREATE INDEX activities_page ON activities (workspace_sid, date_created, sid);

-- activity_name and available copy the worker's activity so that the claim
-- (one conditional UPDATE) needs no join.
CREATE TABLE workers (
    sid                 text PRIMARY KEY,
    workspace_sid       text NOT NULL REFERENCES workspaces (sid),
    friendly_name       text NOT NULL,
    attributes          text NOT NULL DEFAULT '{}',
    activity_sid        text NOT NULL DEFAULT '',
    activity_name       text NOT NULL DEFAULT '',
    available           boolean NOT NULL DEFAULT false,
    capacity            integer NOT NULL DEFAULT 1 CHECK (capacity >= 0),
    busy                integer NOT NULL DEFAULT 0 CHECK (busy >= 0),
    phone_number        text NOT NULL DEFAULT '',
    date_status_changed timestamptz NOT NULL,
    date_created        timestamptz NOT NULL,
    date_updated        timestamptz NOT NULL,
    version             bigint NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX workers_phone_number_key ON workers (workspace_sid, phone_number) WHERE phone_number <> '';
CREATE INDEX workers_page ON workers (workspace_sid, date_created, sid);
CREATE INDEX workers_activity ON workers (activity_sid);

CREATE TABLE task_queues (
    sid                  text PRIMARY KEY,
    workspace_sid        text NOT NULL REFERENCES workspaces (sid),
    friendly_name        text NOT NULL,
    target_workers       text NOT NULL DEFAULT '1==1',
    task_order           text NOT NULL DEFAULT 'FIFO',
    max_reserved_workers integer NOT NULL DEFAULT 1,
    date_created         timestamptz NOT NULL,
    date_updated         timestamptz NOT NULL
);
CREATE INDEX task_queues_page ON task_queues (workspace_sid, date_created, sid);

CREATE TABLE workflows (
    sid                              text PRIMARY KEY,
    workspace_sid                    text NOT NULL REFERENCES workspaces (sid),
    friendly_name                    text NOT NULL,
    configuration                    text NOT NULL,
    task_reservation_timeout         integer NOT NULL DEFAULT 120,
    assignment_callback_url          text NOT NULL DEFAULT '',
    fallback_assignment_callback_url text NOT NULL DEFAULT '',
    date_created                     timestamptz NOT NULL,
    date_updated                     timestamptz NOT NULL
);
CREATE INDEX workflows_page ON workflows (workspace_sid, date_created, sid);

CREATE TABLE tasks (
    sid               text PRIMARY KEY,
    workspace_sid     text NOT NULL REFERENCES workspaces (sid),
    workflow_sid      text NOT NULL DEFAULT '',
    attributes        text NOT NULL DEFAULT '{}',
    assignment_status text NOT NULL,
    priority          integer NOT NULL DEFAULT 0,
    timeout           integer NOT NULL DEFAULT 0,
    task_channel      text NOT NULL DEFAULT 'voice',
    call_sid          text NOT NULL DEFAULT '',
    reason            text NOT NULL DEFAULT '',
    filter_index      integer NOT NULL DEFAULT -1,
    target_index      integer NOT NULL DEFAULT 0,
    task_queue_sid    text NOT NULL DEFAULT '',
    step_entered_at   timestamptz NOT NULL,
    rejected_workers  jsonb NOT NULL DEFAULT '[]',
    date_created      timestamptz NOT NULL,
    date_updated      timestamptz NOT NULL,
    version           bigint NOT NULL DEFAULT 1
);
-- One task per inbound call: makes a retried Twilio webhook idempotent.
CREATE UNIQUE INDEX tasks_call_sid_key ON tasks (workspace_sid, call_sid) WHERE call_sid <> '';
-- WaitingTasks: pending tasks in service order.
CREATE INDEX tasks_waiting ON tasks (workspace_sid, priority DESC, date_created, sid) WHERE assignment_status = 'pending';
CREATE INDEX tasks_page ON tasks (workspace_sid, date_created, sid);
CREATE INDEX tasks_status_page ON tasks (workspace_sid, assignment_status, date_created, sid);

CREATE TABLE reservations (
    sid           text PRIMARY KEY,
    workspace_sid text NOT NULL REFERENCES workspaces (sid),
    task_sid      text NOT NULL REFERENCES tasks (sid) ON DELETE CASCADE,
    worker_sid    text NOT NULL,
    status        text NOT NULL,
    timeout       integer NOT NULL DEFAULT 0,
    date_created  timestamptz NOT NULL,
    date_updated  timestamptz NOT NULL
);
-- A task is offered to one worker at a time.
CREATE UNIQUE INDEX reservations_active_task_sid_key ON reservations (task_sid) WHERE status IN ('pending', 'accepted');
CREATE INDEX reservations_task ON reservations (task_sid, date_created, sid);
CREATE INDEX reservations_worker ON reservations (worker_sid, date_created, sid);
CREATE INDEX reservations_page ON reservations (workspace_sid, date_created, sid);

CREATE TABLE events (
    sid             text PRIMARY KEY,
    workspace_sid   text NOT NULL REFERENCES workspaces (sid),
    event_type      text NOT NULL,
    resource_type   text NOT NULL DEFAULT '',
    resource_sid    text NOT NULL DEFAULT '',
    description     text NOT NULL DEFAULT '',
    task_sid        text NOT NULL DEFAULT '',
    worker_sid      text NOT NULL DEFAULT '',
    reservation_sid text NOT NULL DEFAULT '',
    data            text NOT NULL DEFAULT '{}',
    date            timestamptz NOT NULL
);
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
    sid             text PRIMARY KEY,
    workspace_sid   text NOT NULL REFERENCES workspaces (sid),
    kind            text NOT NULL,
    guard_sid       text NOT NULL,
    task_sid        text NOT NULL DEFAULT '',
    reservation_sid text NOT NULL DEFAULT '',
    worker_sid      text NOT NULL DEFAULT '',
    task_version    bigint NOT NULL DEFAULT 0,
    fire_at         timestamptz NOT NULL
);
CREATE UNIQUE INDEX timers_guard_key ON timers (workspace_sid, kind, guard_sid);
CREATE INDEX timers_fire_at ON timers (fire_at, sid);
CREATE INDEX timers_task ON timers (task_sid) WHERE task_sid <> '';

CREATE TABLE phone_number_bindings (
    phone_number  text PRIMARY KEY,
    workspace_sid text NOT NULL REFERENCES workspaces (sid),
    workflow_sid  text NOT NULL
);
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
