#!/usr/bin/env bash
# didrouter's benchmarks with `didrouter replay`. Server, Postgres and load
# generator run on this machine; every figure is printed with the load
# average and the Postgres durability settings beside it. Usage:
#
#   replay/bench/run.sh pg [tuned]          start a throwaway Postgres
#   replay/bench/run.sh ratio|sustained|scale|profile|cpu|ceilings|all
#
# Figures are taken on durable settings by default, as users run Postgres
# (fsync, synchronous_commit and full_page_writes on): `run.sh pg` starts
# such a throwaway cluster on port 54400. `run.sh pg tuned` starts one with
# all three off on port 54401, for figures beside the durable ones (never
# instead of them): point BENCH_PG at it.
#
# Environment: BENCH_PG (default postgres://postgres@127.0.0.1:54400) is a
# Postgres server where databases rp_* may be created and dropped; BENCH_STORE
# (postgres or sqlite, default postgres); RATE and SECONDS_RUN for sustained
# (default 100 calls/s for 60 s); RATIO_WORKERS (100000) and SUSTAINED_WORKERS
# (10000) size the fleets; SCALES for scale (default "1000 100000 1000000").
set -euo pipefail
cd "$(dirname "$0")/../.."

PG=${BENCH_PG:-postgres://postgres@127.0.0.1:54400}
STORE=${BENCH_STORE:-postgres}
BIN=${BIN:-/tmp/didrouter-bench}
PORT=${PORT:-18300}
PUBLIC=https://calls.example.test
export TWILIO_AUTH_TOKEN=benchtoken DIDROUTER_API_KEY=benchkey DIDROUTER_API_SECRET=benchsecret0123456
# Routing is measured with agents keeping their activity: no presence rules.
export DIDROUTER_MISSED_CALLS_UNAVAILABLE=off DIDROUTER_AGENT_AWAY=off

say() { echo "== $* (load average $(cut -d' ' -f1-3 /proc/loadavg); $(durability))"; }

build() { go build -o "$BIN" ./cmd/didrouter; }

# start_pg [tuned]: a throwaway cluster. Durable (Postgres' defaults for
# fsync, synchronous_commit and full_page_writes) on port 54400, or with the
# three off on 54401 ("tuned": figures show the server, not the disk).
# pg_stat_statements is loaded so that a run can say where the time goes.
start_pg() {
	local mode=${1:-durable} port=54400 dir=/tmp/rpbench-pg as=() tune=""
	if [[ $mode == tuned ]]; then
		port=54401 dir=/tmp/rpbench-pg-tuned tune="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	elif [[ $mode != durable ]]; then
		echo "usage: $0 pg [tuned]" >&2
		exit 2
	fi
	[[ $(id -u) == 0 ]] && as=(runuser -u postgres --)
	rm -rf "$dir" && mkdir -p "$dir" && { [[ $(id -u) != 0 ]] || chown postgres "$dir"; }
	"${as[@]}" initdb -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log"
	"${as[@]}" pg_ctl -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "-p $port -k $dir -c listen_addresses=127.0.0.1 \
		$tune -c max_connections=200 -c shared_buffers=256MB -c shared_preload_libraries=pg_stat_statements" start
	echo "BENCH_PG=postgres://postgres@127.0.0.1:$port   # $mode"
}

# durability names the Postgres settings the figures were taken on.
durability() {
	[[ $STORE == postgres ]] || { echo "sqlite"; return; }
	psql "$PG/postgres" -Atc "SELECT 'fsync=' || current_setting('fsync') || ' synchronous_commit=' ||
		current_setting('synchronous_commit') || ' full_page_writes=' || current_setting('full_page_writes')" 2>/dev/null ||
		echo "postgres settings unknown"
}

# serve NAME [fresh]: runs the server on database rp_NAME (or SQLite file),
# waits for /readyz, prints the start-up time and the server's CPU seconds.
serve() {
	local name=$1 fresh=${2:-} t0 pid
	if [[ $STORE == postgres ]]; then
		if [[ -n $fresh ]]; then
			psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS rp_$name WITH (FORCE)" -c "CREATE DATABASE rp_$name" 2>/dev/null
		fi
		export DATABASE_URL="$PG/rp_$name?sslmode=disable" DIDROUTER_DATA=
	else
		[[ -n $fresh ]] && rm -f "/tmp/rp-$name.db"*
		export DATABASE_URL= DIDROUTER_DATA=/tmp/rp-$name.db
	fi
	t0=$(date +%s.%N)
	DIDROUTER_PUBLIC_URL=$PUBLIC DIDROUTER_ADDR=127.0.0.1:$PORT DIDROUTER_LOG_LEVEL=warn DIDROUTER_BENCH_FLOOR=true \
		DIDROUTER_PPROF_ADDR=127.0.0.1:$((PORT + 1)) "$BIN" serve >"/tmp/rp-$name.log" 2>&1 &
	pid=$!
	until curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null; do
		kill -0 $pid 2>/dev/null || { cat "/tmp/rp-$name.log"; exit 1; }
		sleep 0.02
	done
	say "server on $STORE rp_$name ready in $(echo "$(date +%s.%N) - $t0" | bc) s, server CPU $(awk '{print ($14+$15)/100}' /proc/$pid/stat) s"
	SERVER=$pid
}

stop() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; }

# memory: live heap after a forced GC, and resident set.
memory() {
	curl -s -o /dev/null "http://127.0.0.1:$((PORT + 1))/debug/pprof/heap?gc=1"
	curl -s "http://127.0.0.1:$PORT/metrics" | grep -E '^(didrouter_index_workers|go_memstats_heap_inuse_bytes|process_resident_memory_bytes) '
}

# seed N: N workers (rp0000000…, DID replay.DID(i), all available).
seed() {
	local n=$1
	if [[ $STORE == postgres ]]; then
		stop # the server created the workspace; load the workers while it is down
		psql "$DATABASE_URL" -q -v n="$n" -f replay/bench/seed-workers.sql
	else
		"$BIN" replay --target "http://127.0.0.1:$PORT" --seed-only --workers "$n" --dids "$n" --owner-available 1 2>/dev/null
		stop
	fi
}

# replay runs the load tool; a failed run is reported, and the server still stopped.
replay() { "$BIN" replay --target "http://127.0.0.1:$PORT" --public-url $PUBLIC "$@" || echo "replay exited $?"; }

ratio() {
	local n=${RATIO_WORKERS:-100000}
	serve ratio fresh; seed "$n"; serve ratio
	say "floor vs full incoming path, 32 in flight, 10 s each, $n workers"
	replay --bench ratio --workers "$n" --dids "$n" --owner-available 1 --concurrency 32 --duration 10s
	stop
	ceiling "$n"
}

# ceiling N: Postgres alone committing the writes of one routed call
# (call-writes.sql), 32 clients for 10 s on the same database: the most new
# calls per second the store allows, beside the server's figure above.
ceiling() {
	[[ $STORE == postgres ]] || return 0
	command -v pgbench >/dev/null || { echo "pgbench not found: no store ceiling"; return 0; }
	say "store ceiling: pgbench replaying one call's writes, 32 clients, 10 s"
	pgbench -n -M prepared -c 32 -j 2 -T 10 -D workers="$1" -f replay/bench/call-writes.sql "$DATABASE_URL" 2>&1 |
		grep -E '^(tps|latency average|number of failed)'
}

# cpu_ticks PID...: the CPU time (user + system, in clock ticks) of the
# given processes.
cpu_ticks() { local p t=0; for p in "$@"; do [[ -r /proc/$p/stat ]] && t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $t; }

# pg_pids: the Postgres server's processes (postmaster, backends, WAL
# writer, checkpointer), read from its data directory's postmaster.pid.
pg_pids() {
	local pm
	pm=$(head -1 "$(psql "$PG/postgres" -Atc 'SHOW data_directory')/postmaster.pid")
	echo "$pm" $(ps -o pid= --ppid "$pm")
}

# cpu: where the machine's CPU goes per request, for the floor and for the
# routing step: milliseconds of CPU per request in the server, in Postgres and
# in the load generator, each measured on its own processes. Unlike req/s,
# CPU per request hardly depends on what else the machine runs; its sum says
# how many requests per second two cores could serve at the most.
cpu() {
	local n=${RATIO_WORKERS:-100000} route out hz wall0 srv0 pg0 srv1 pg1 gen
	hz=$(getconf CLK_TCK)
	command -v /usr/bin/time >/dev/null || { echo "cpu needs /usr/bin/time (Debian package time)"; return 1; }
	serve cpu fresh; seed "$n"; serve cpu
	for route in floor incoming; do
		say "CPU per request: $route, 32 in flight, 10 s, $n workers"
		wall0=$(date +%s.%N) srv0=$(cpu_ticks "$SERVER") pg0=$(cpu_ticks $(pg_pids))
		out=$(/usr/bin/time -f 'loadgen %U %S' "$BIN" replay --target "http://127.0.0.1:$PORT" --public-url $PUBLIC \
			--bench "$route" --workers "$n" --dids "$n" --owner-available 1 --concurrency 32 --duration 10s 2>&1 | grep -E '^(/|loadgen)')
		srv1=$(cpu_ticks "$SERVER") pg1=$(cpu_ticks $(pg_pids))
		echo "$out" | head -1
		gen=$(echo "$out" | awk '/^loadgen/ {print $2 + $3}')
		echo "$out" | awk -v hz="$hz" -v srv=$((srv1 - srv0)) -v pg=$((pg1 - pg0)) -v gen="$gen" -v wall="$(echo "$(date +%s.%N) - $wall0" | bc)" '
			/^\// { n = $3 }
			END {
				if (n == 0) { print "no requests"; exit }
				s = srv / hz * 1000 / n; p = pg / hz * 1000 / n; g = gen * 1000 / n
				printf "CPU ms per request: server %.3f, postgres %.3f, load generator %.3f, sum %.3f (at most %.0f req/s on 2 cores); cores busy %.2f\n",
					s, p, g, s + p + g, 2000 / (s + p + g), (srv + pg) / hz / wall + gen / wall
			}'
	done
	stop
}

# ceilings: the store ceiling of variants of one call's writes, to show what
# each part costs Postgres: all of them, without the events, without the
# timers, and the task, reservation and worker claim alone. Uses the
# database of the last ratio or cpu run (it needs the seeded workers).
ceilings() {
	local n=${RATIO_WORKERS:-100000} dir v
	dir=$(mktemp -d)
	export DATABASE_URL="$PG/rp_${CEILING_DB:-cpu}?sslmode=disable"
	# without PATTERN FILE: FILE less the statements whose first line matches.
	without() { awk -v pat="$1" '{ if (!skip && $0 ~ pat) skip = 1; if (!skip) print; if (skip && $0 ~ /;[[:space:]]*$/) skip = 0 }' "$2"; }
	cp replay/bench/call-writes.sql "$dir/all.sql"
	without '^INSERT INTO events' "$dir/all.sql" >"$dir/no-events.sql"
	without '^INSERT INTO timers' "$dir/all.sql" >"$dir/no-timers.sql"
	without '^INSERT INTO timers' "$dir/no-events.sql" >"$dir/task-reservation-worker.sql"
	for v in all no-events no-timers task-reservation-worker; do
		say "store ceiling, $v, 32 clients, 10 s"
		pgbench -n -M prepared -c 32 -j 2 -T 10 -D workers="$n" -f "$dir/$v.sql" "$DATABASE_URL" 2>&1 | grep -E '^tps'
	done
	rm -rf "$dir"
}

# sustained: RATE whole calls a second for SECONDS_RUN seconds, every one
# answered by its owner; then the CPU each call took in the server, in
# Postgres and in the load generator, and so the most whole calls a second
# two cores could serve.
sustained() {
	local rate=${RATE:-100} secs=${SECONDS_RUN:-60} n=${SUSTAINED_WORKERS:-10000} hz srv0 pg0 gen out
	hz=$(getconf CLK_TCK)
	command -v /usr/bin/time >/dev/null || { echo "sustained needs /usr/bin/time (Debian package time)"; return 1; }
	serve sustained fresh; seed "$n"; serve sustained
	say "sustained: $rate calls/s for $secs s (incoming, answer, dial action, status callback per call)"
	srv0=$(cpu_ticks "$SERVER") pg0=$(store_ticks) out=$(mktemp)
	/usr/bin/time -o "$out" -f 'loadgen %U %S' "$BIN" replay --target "http://127.0.0.1:$PORT" --public-url $PUBLIC \
		--calls $((rate * secs)) --rate "$rate" --dids "$n" --workers "$n" --owner-available 1 \
		--answered 1 --no-answer 0 --busy 0 --hangup 0 --ring 0 --talk 0 --quiet || echo "replay exited $?"
	gen=$(awk '/^loadgen/ {print $2 + $3}' "$out") && rm -f "$out"
	awk -v hz="$hz" -v srv=$(($(cpu_ticks "$SERVER") - srv0)) -v pg=$(($(store_ticks) - pg0)) -v gen="${gen:-0}" -v n=$((rate * secs)) 'BEGIN {
		s = srv / hz * 1000 / n; p = pg / hz * 1000 / n; g = gen * 1000 / n
		printf "CPU ms per call: server %.2f, postgres %.2f, load generator %.2f, sum %.2f (at most %.0f calls/s on 2 cores)\n",
			s, p, g, s + p + g, 2000 / (s + p + g)
	}'
	memory
	stop
}

# store_ticks: the CPU ticks of Postgres' processes (0 on SQLite, which runs
# in the server).
store_ticks() { if [[ $STORE == postgres ]]; then cpu_ticks $(pg_pids); else echo 0; fi; }

# profile: what one whole call asks of Postgres, per call, from the
# server's own statistics (deterministic where wall-clock figures are not):
# statements, transactions, rows written, WAL records and bytes, and the
# statements by kind. A sustained run of RATE (20) calls/s for SECONDS_RUN
# (10) s; the statistics are reset after seeding.
profile() {
	[[ $STORE == postgres ]] || { echo "profile needs BENCH_STORE=postgres"; return 0; }
	local rate=${RATE:-20} secs=${SECONDS_RUN:-10} n=${SUSTAINED_WORKERS:-1000} calls
	calls=$((rate * secs))
	serve profile fresh; seed "$n"; serve profile
	psql "$PG/postgres" -qAt -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" \
		-c "SELECT pg_stat_statements_reset()" -c "SELECT pg_stat_reset_shared('wal')" >/dev/null
	psql "$PG/rp_profile" -qAt -c "SELECT pg_stat_reset()" >/dev/null
	say "profile: $calls calls at $rate/s (incoming, answer, dial action, status callback per call), per call"
	replay --calls "$calls" --rate "$rate" --dids "$n" --workers "$n" --owner-available 1 \
		--answered 1 --no-answer 0 --busy 0 --hangup 0 --ring 0 --talk 0 --quiet
	stop
	sleep 1 # the statistics collector's last flush
	# pg_stat_statements lives in database postgres; the rest is per database.
	psql "$PG/postgres" -q -v calls="$calls" -v db=rp_profile -f replay/bench/profile.sql
}

scale() {
	for n in ${SCALES:-1000 100000 1000000}; do
		serve "scale$n" fresh; seed "$n"; serve "scale$n"
		memory
		say "routing latency with $n workers: incoming, 4 in flight, 5 s"
		replay --bench incoming --workers "$n" --dids "$n" --owner-available 1 --concurrency 4 --duration 5s
		stop
	done
}

# NOBUILD=1 runs $BIN as it is (A/B runs of two builds).
[[ ${1:-} == pg || -n ${NOBUILD:-} ]] || build
case ${1:-all} in
pg) start_pg "${2:-durable}" ;;
ratio) ratio ;;
sustained) sustained ;;
scale) scale ;;
profile) profile ;;
cpu) cpu ;;
ceilings) ceilings ;;
all) ratio; sustained; scale ;;
*) echo "usage: $0 pg [tuned] | ratio|sustained|scale|profile|cpu|ceilings|all" >&2; exit 2 ;;
esac
