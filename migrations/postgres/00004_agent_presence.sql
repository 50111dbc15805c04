-- Agent presence (engine/presence.go, engine/missed.go). Keep in step with
-- the other dialect's 00004_agent_presence.sql.
--
-- workers.missed_calls counts a worker's reservations missed or declined in
-- a row; it is written in the transaction that ends the reservation, so
-- several instances count together. It is not part of the worker's version:
-- the routing index does not read it.
--
-- agent_pages holds the agent desktop pages open for a worker, with when
-- each was last heard of (its event stream's heartbeat), so that any
-- instance can tell when a worker's last page has gone.

-- +goose Up
ALTER TABLE workers ADD COLUMN missed_calls integer NOT NULL DEFAULT 0;

CREATE TABLE agent_pages (
    workspace_sid text NOT NULL,
    worker_sid    text NOT NULL REFERENCES workers (sid) ON DELETE CASCADE,
    page_id       text NOT NULL,
    opened_at     timestamptz NOT NULL,
    last_seen     timestamptz NOT NULL,
    PRIMARY KEY (worker_sid, page_id)
);

-- The drop of a worker's away timer that cannot fire (ClearWorkerTimers).
CREATE INDEX timers_worker ON timers (worker_sid) WHERE worker_sid <> '';

-- +goose Down
DROP INDEX timers_worker;
DROP TABLE agent_pages;
ALTER TABLE workers DROP COLUMN missed_calls;
