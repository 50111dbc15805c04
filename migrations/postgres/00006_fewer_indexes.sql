-- Fewer index entries per call.
--
-- An event's resource is its task, worker or reservation, whose sid it also
-- carries in task_sid, worker_sid or reservation_sid. A ResourceSid filter
-- is served by that column's index (store/sqlstore/event.go), so the index
-- on resource_sid goes: one index entry fewer for each of the seven events a
-- call writes.
--
-- A timer is identified by what it guards: (workspace_sid, kind, guard_sid)
-- becomes the primary key, and the index on sid goes. Three timers are
-- written per call, so this is three index entries fewer per call. sid stays
-- as a column, as the engine's Timer carries it. Keep in step with the
-- other dialect's 00006_fewer_indexes.sql.

-- +goose Up
DROP INDEX events_resource;

ALTER TABLE timers DROP CONSTRAINT timers_pkey;
ALTER TABLE timers ADD CONSTRAINT timers_pkey PRIMARY KEY USING INDEX timers_guard_key;

-- +goose Down
ALTER TABLE timers DROP CONSTRAINT timers_pkey;
CREATE UNIQUE INDEX timers_guard_key ON timers (workspace_sid, kind, guard_sid);
ALTER TABLE timers ADD PRIMARY KEY (sid);

CREATE INDEX events_resource ON events (resource_sid, date, sid) WHERE resource_sid <> '';
