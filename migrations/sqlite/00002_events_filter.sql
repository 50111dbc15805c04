-- The workspace's EventsFilter: the event types (comma-separated) POSTed to
-- its event_callback_url; empty = every event. Keep in step with the other
-- dialect's 00002_events_filter.sql.

-- +goose Up
ALTER TABLE workspaces ADD COLUMN events_filter TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE workspaces DROP COLUMN events_filter;
