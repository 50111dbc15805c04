-- Seeds :n workers straight into a didrouter Postgres database, exactly as
-- `didrouter replay --workers N --dids N --owner-available 1` generates them
-- (names rp0000000…, DIDs replay.DID(i), contact_uri client:<name>, all
-- Available), for benchmarks with fleets too large to create through the
-- API in reasonable time. Run after the server has migrated and seeded the
-- workspace:  psql "$DATABASE_URL" -v n=1000000 -f seed-workers.sql
\set ON_ERROR_STOP on
BEGIN;
CREATE TEMP TABLE rp_exchange AS
  SELECT row_number() OVER (ORDER BY x) - 1 AS k, x
  FROM generate_series(200, 999) AS x WHERE x % 100 <> 11;
CREATE TEMP TABLE rp_area (k int, area text);
INSERT INTO rp_area VALUES (0,'512'),(1,'737'),(2,'214'),(3,'469'),(4,'972'),(5,'713'),(6,'281'),(7,'832'),(8,'210'),(9,'726');
WITH ws AS (
  SELECT w.sid AS ws, a.sid AS act FROM workspaces w JOIN activities a ON a.workspace_sid = w.sid AND a.friendly_name = 'Available'
  WHERE w.friendly_name = 'Flex Task Assignment' LIMIT 1
), gen AS (
  SELECT i, 'rp' || lpad(i::text, 7, '0') AS name,
         '+1' || ar.area || ex.x::text || lpad((i % 10000)::text, 4, '0') AS did
  FROM generate_series(0, :n - 1) AS i
  JOIN rp_area ar ON ar.k = (i / 10000) % 10
  JOIN rp_exchange ex ON ex.k = (i / 100000) % 720
)
INSERT INTO workers (sid, workspace_sid, friendly_name, attributes, activity_sid, activity_name, available,
                     capacity, busy, phone_number, date_status_changed, date_created, date_updated, version)
SELECT 'WK' || md5(gen.name), ws.ws, gen.name,
       '{"contact_uri":"client:' || gen.name || '","phone_number":"' || gen.did || '"}',
       ws.act, 'Available', true, 1, 0, gen.did, now(), now(), now(), 1
FROM gen, ws;
COMMIT;
ANALYZE workers;
