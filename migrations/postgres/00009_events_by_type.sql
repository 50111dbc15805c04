-- One index fewer on events: seven index entries fewer per call.
--
-- events_type (workspace_sid, event_type, date, sid) served only the
-- EventType filter. The engine's reads by type are bounded without it: the
-- announcement's recent wait reads the queue's last half hour newest first
-- on events_page, skipping the other types (about six rows of seven), and
-- a worker's last activity change reads events_worker. The API's EventType
-- filter walks events_page in date order with the type as a filter: quick
-- for the types every call writes, and bounded by StartDate/EndDate or
-- Minutes when given; a type the workspace hardly has, asked for without a
-- window, walks the workspace's events (about 50 ms for 200,000 events).
-- Keep in step with the other dialect's 00009_events_by_type.sql.

-- +goose Up
DROP INDEX events_type;

-- +goose Down
CREATE INDEX events_type ON events (workspace_sid, event_type, date, sid);
