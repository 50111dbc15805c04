-- A caller's call-back requests, found by their number (webhooks/voicemail.go,
-- replaceCallback): a caller who calls again while a request waits is queued
-- once. Keep in step with the other dialect's 00007_callback_requests.sql.
--
-- callback_number is the task's "callback_number" attribute when its "type"
-- is "callback", else ''. The store writes it with the attributes
-- (engine.CallbackNumber), so the lookup is one index probe however many
-- tasks wait. The index holds only call-back requests.

-- +goose Up
ALTER TABLE tasks ADD COLUMN callback_number text NOT NULL DEFAULT '';
UPDATE tasks SET callback_number = attributes::jsonb ->> 'callback_number'
    WHERE attributes LIKE '%"callback"%' AND attributes::jsonb ->> 'type' = 'callback'
      AND jsonb_typeof(attributes::jsonb -> 'callback_number') = 'string';
CREATE INDEX tasks_callback_number ON tasks (workspace_sid, callback_number) WHERE callback_number <> '';

-- +goose Down
DROP INDEX tasks_callback_number;
ALTER TABLE tasks DROP COLUMN callback_number;
