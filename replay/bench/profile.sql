-- Per-call figures of a profile run (replay/bench/run.sh profile): what the
-- calls asked of database :db since the statistics were reset. Run in
-- database postgres, where pg_stat_statements is installed; :calls is the
-- number of calls replayed. WAL figures are the whole cluster's.
\pset footer off
SELECT oid AS dbid FROM pg_database WHERE datname = :'db' \gset
SELECT round(sum(calls) FILTER (WHERE query NOT ILIKE 'begin%' AND query NOT ILIKE 'commit%') / :calls::numeric, 2) AS statements,
       round((SELECT xact_commit FROM pg_stat_database WHERE datid = :dbid) / :calls::numeric, 2) AS transactions,
       round((SELECT tup_inserted + tup_updated + tup_deleted FROM pg_stat_database WHERE datid = :dbid) / :calls::numeric, 2) AS rows_written,
       round((SELECT wal_records FROM pg_stat_wal) / :calls::numeric, 1) AS wal_records,
       round((SELECT wal_bytes FROM pg_stat_wal) / :calls::numeric) AS wal_bytes,
       round((SELECT wal_fpi FROM pg_stat_wal) / :calls::numeric, 2) AS wal_full_pages
FROM pg_stat_statements WHERE dbid = :dbid;

\c :db
SELECT relname AS "table", round(n_tup_ins / :calls::numeric, 2) AS inserts, round(n_tup_upd / :calls::numeric, 2) AS updates,
       round(n_tup_hot_upd / :calls::numeric, 2) AS hot_updates, round(n_tup_del / :calls::numeric, 2) AS deletes,
       (SELECT count(*) FROM pg_index i WHERE i.indrelid = t.relid) AS indexes
FROM pg_stat_user_tables t WHERE n_tup_ins + n_tup_upd + n_tup_del > 0 ORDER BY relname;

\c postgres
SELECT round(calls / :calls::numeric, 2) AS per_call, round(total_exec_time::numeric / :calls, 3) AS ms_per_call,
       round(rows / :calls::numeric, 2) AS rows, left(regexp_replace(query, '\s+', ' ', 'g'), 110) AS statement
FROM pg_stat_statements WHERE dbid = :dbid
ORDER BY calls DESC, total_exec_time DESC LIMIT 30;
