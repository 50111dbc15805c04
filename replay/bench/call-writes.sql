-- pgbench script: the writes one answered inbound call makes in Postgres,
-- as didrouter makes them since the call's routing is one transaction
-- (three events, step and task timers, worker claim, the task inserted
-- reserved, reservation, reservation event and timer, one notification).
-- It measures the store's ceiling for the incoming-call path on this
-- machine: the server cannot answer more new calls per second than
-- Postgres can commit these. Run by replay/bench/run.sh ratio against the
-- benchmark's database (workers rp0000000… from seed-workers.sql);
-- :workers is the fleet size.
\set w random(0, :workers - 1)
BEGIN;
SELECT set_config('bench.task', 'WT' || md5(random()::text), true), set_config('bench.ws', (SELECT sid FROM workspaces ORDER BY date_created LIMIT 1), true) \gset
INSERT INTO events VALUES ('EV' || md5(random()::text), current_setting('bench.ws'), 'task.created', 'task',
  current_setting('bench.task'), 'Task created', current_setting('bench.task'), '', '', '{"workflow_sid":"WWbench"}', now());
INSERT INTO events VALUES ('EV' || md5(random()::text), current_setting('bench.ws'), 'workflow.target-matched', 'task',
  current_setting('bench.task'), 'Task matched target 0', current_setting('bench.task'), '', '', '{"filter":0}', now());
INSERT INTO events VALUES ('EV' || md5(random()::text), current_setting('bench.ws'), 'task-queue.entered', 'task',
  current_setting('bench.task'), 'Task entered queue', current_setting('bench.task'), '', '', '{"task_queue_sid":"WQbench"}', now());
INSERT INTO timers (sid, workspace_sid, kind, task_sid, reservation_sid, worker_sid, task_version, fire_at, guard_sid)
VALUES ('TM' || md5(random()::text), current_setting('bench.ws'), 'step', current_setting('bench.task'), '', '', 1,
        now() + interval '60 s', current_setting('bench.task'))
ON CONFLICT (workspace_sid, kind, guard_sid) DO UPDATE SET fire_at = excluded.fire_at;
INSERT INTO timers (sid, workspace_sid, kind, task_sid, reservation_sid, worker_sid, task_version, fire_at, guard_sid)
VALUES ('TM' || md5(random()::text), current_setting('bench.ws'), 'task', current_setting('bench.task'), '', '', 1,
        now() + interval '1 day', current_setting('bench.task'))
ON CONFLICT (workspace_sid, kind, guard_sid) DO UPDATE SET fire_at = excluded.fire_at;
UPDATE workers SET busy = busy + 1, date_updated = now(), version = version + 1
WHERE sid = 'WK' || md5('rp' || lpad(:w::text, 7, '0')) RETURNING sid;
INSERT INTO tasks (sid, workspace_sid, workflow_sid, attributes, assignment_status, priority, timeout, task_channel,
                   call_sid, reason, filter_index, target_index, task_queue_sid, step_entered_at, rejected_workers,
                   date_created, date_updated, version)
VALUES (current_setting('bench.task'), current_setting('bench.ws'), 'WWbench',
        '{"name":"+16175551212","phone_number":"+15122000049","type":"inbound","direction":"inbound","call_sid":"CAbench"}',
        'reserved', 0, 86400, 'voice', 'CA' || md5(random()::text), '', 0, 0, 'WQbench', now(), '[]', now(), now(), 1)
RETURNING sid;
INSERT INTO reservations (sid, workspace_sid, task_sid, worker_sid, status, timeout, date_created, date_updated)
VALUES ('WR' || md5(random()::text), current_setting('bench.ws'), current_setting('bench.task'),
        'WK' || md5('rp' || lpad(:w::text, 7, '0')), 'pending', 120, now(), now());
INSERT INTO events VALUES ('EV' || md5(random()::text), current_setting('bench.ws'), 'reservation.created', 'reservation',
  'WRbench', 'Reservation created', current_setting('bench.task'), 'WKbench', 'WRbench', '{}', now());
INSERT INTO timers (sid, workspace_sid, kind, task_sid, reservation_sid, worker_sid, task_version, fire_at, guard_sid)
VALUES ('TM' || md5(random()::text), current_setting('bench.ws'), 'reservation', current_setting('bench.task'),
        'WRbench', 'WKbench', 2, now() + interval '120 s', 'WR' || md5(random()::text))
ON CONFLICT (workspace_sid, kind, guard_sid) DO UPDATE SET fire_at = excluded.fire_at;
SELECT pg_notify('didrouter_bench', current_setting('bench.task'));
COMMIT;
