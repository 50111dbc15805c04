-- A worker's capacity on the "messages" task channel, apart from voice: a
-- voicemail or call-back request offered to an agent (engine.MessageChannel)
-- takes a unit of message_capacity, not of capacity, so it never keeps a live
-- call from them. SQLite dialect; keep in step with the other dialect's
-- 00008_message_channel.sql.
--
-- message_busy counts the worker's pending reservations and accepted or
-- wrapping tasks of that channel, as busy does for voice. Every worker starts
-- with 10 (engine.DefaultMessageCapacity).

-- +goose Up
ALTER TABLE workers ADD COLUMN message_capacity INTEGER NOT NULL DEFAULT 10 CHECK (message_capacity >= 0);
ALTER TABLE workers ADD COLUMN message_busy INTEGER NOT NULL DEFAULT 0 CHECK (message_busy >= 0);

-- +goose Down
ALTER TABLE workers DROP COLUMN message_busy;
ALTER TABLE workers DROP COLUMN message_capacity;
