-- An event's resource is its task, worker or reservation, whose sid it also
-- carries in task_sid, worker_sid or reservation_sid. A ResourceSid filter
-- is served by that column's index (store/sqlstore/event.go), so the index
-- on resource_sid goes: one index entry fewer for each of the seven events a
-- call writes. Keep in step with the other dialect's 00006_events_indexes.sql.

-- +goose Up
DROP INDEX events_resource;

-- +goose Down
CREATE INDEX events_resource ON events (resource_sid, date, sid) WHERE resource_sid <> '';
