-- When nobody can answer (webhooks/voicemail.go, package hours), SQLite
-- dialect (times are INTEGER unix microseconds, as in 00001). Keep in step
-- with the other dialect's 00005_call_settings.sql.
--
-- call_settings holds a workspace's business hours and voicemail timing
-- (phone_number '') and the overrides of single numbers. An empty field
-- inherits: a number's from its workspace, a workspace's from the server's
-- defaults (always open; DIDROUTER_VOICEMAIL_AFTER).

-- +goose Up
CREATE TABLE call_settings (
    workspace_sid   TEXT NOT NULL REFERENCES workspaces (sid),
    phone_number    TEXT NOT NULL DEFAULT '',
    hours           TEXT NOT NULL DEFAULT '',
    voicemail_after TEXT NOT NULL DEFAULT '',
    date_updated    INTEGER NOT NULL,
    PRIMARY KEY (workspace_sid, phone_number)
) STRICT;

-- +goose Down
DROP TABLE call_settings;
