-- Sign-in state of the web pages (agent desktop, admin console) and the
-- revocation of agent tokens. Keep in step with ../postgres/00003_web_sessions.sql.

-- +goose Up
-- One row per signed-in browser. id is the hex SHA-256 of the cookie's
-- random token: a copy of this table does not let anyone sign in.
-- workspace_sid and worker_sid are empty for admin sessions.
CREATE TABLE web_sessions (
    id            TEXT NOT NULL PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('agent', 'admin')),
    workspace_sid TEXT NOT NULL DEFAULT '',
    worker_sid    TEXT NOT NULL DEFAULT '',
    csrf_token    TEXT NOT NULL,
    created       INTEGER NOT NULL,
    expires       INTEGER NOT NULL,
    last_seen     INTEGER NOT NULL
) STRICT;
CREATE INDEX web_sessions_worker ON web_sessions (workspace_sid, worker_sid) WHERE worker_sid <> '';
CREATE INDEX web_sessions_expires ON web_sessions (expires);

-- Sign-in links already used (single use), kept until they expire.
CREATE TABLE web_signin_links (
    id      TEXT NOT NULL PRIMARY KEY,
    expires INTEGER NOT NULL
) STRICT;
CREATE INDEX web_signin_links_expires ON web_signin_links (expires);

-- An agent's tokens and sign-in links issued before not_before are refused,
-- and so are sessions created before it ("didrouter dids revoke").
CREATE TABLE agent_token_revocations (
    worker_sid    TEXT NOT NULL PRIMARY KEY REFERENCES workers (sid) ON DELETE CASCADE,
    workspace_sid TEXT NOT NULL REFERENCES workspaces (sid),
    not_before    INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE agent_token_revocations;
DROP TABLE web_signin_links;
DROP TABLE web_sessions;
