#!/usr/bin/env bash
# Start-up A/B: time from process start to /readyz 200,
# server CPU, live heap and resident memory of `didrouter serve` binaries
# loading the same N workers from Postgres, run in turn (so that two builds
# are compared under the same load). Usage:
#
#   replay/bench/startup.sh N BIN [BIN...]      e.g. startup.sh 1000000 /tmp/old /tmp/new /tmp/old /tmp/new
#
# The database rp_startupN on BENCH_PG (default postgres://postgres@127.0.0.1:54400,
# see `run.sh pg`) is created and seeded by the first BIN when missing (STARTUP_FRESH=1
# recreates it). PORT (default 18330) and PORT+1 (pprof) must be free.
set -euo pipefail
cd "$(dirname "$0")/../.."

PG=${BENCH_PG:-postgres://postgres@127.0.0.1:54400}
PORT=${PORT:-18330}
N=$1
shift
DB=rp_startup$N
export TWILIO_AUTH_TOKEN=benchtoken DIDROUTER_API_KEY=benchkey DIDROUTER_API_SECRET=benchsecret0123456
export DATABASE_URL="$PG/$DB?sslmode=disable" DIDROUTER_DATA= DIDROUTER_JOURNAL=/tmp/rp-$DB.journal

serve() {
	local t0
	t0=$(date +%s.%N)
	DIDROUTER_PUBLIC_URL=https://calls.example.test DIDROUTER_ADDR=127.0.0.1:$PORT DIDROUTER_LOG_LEVEL=warn \
		DIDROUTER_PPROF_ADDR=127.0.0.1:$((PORT + 1)) "$1" serve >"/tmp/rp-$DB.log" 2>&1 &
	SERVER=$!
	until curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null; do
		kill -0 $SERVER 2>/dev/null || { cat "/tmp/rp-$DB.log"; exit 1; }
		sleep 0.02
	done
	READY=$(echo "$(date +%s.%N) - $t0" | bc)
	CPU=$(awk '{print ($14+$15)/100}' /proc/$SERVER/stat)
}
stop() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; }

if [[ -n ${STARTUP_FRESH:-} ]] || ! psql "$PG/$DB" -qc 'SELECT 1' >/dev/null 2>&1; then
	psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
	serve "$1"; stop # migrates and creates the workspace
	psql "$DATABASE_URL" -q -v n="$N" -f replay/bench/seed-workers.sql
fi
for bin in "$@"; do
	serve "$bin"
	curl -s -o /dev/null "http://127.0.0.1:$((PORT + 1))/debug/pprof/heap?gc=1"
	mem=$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^go_memstats_heap_inuse_bytes /{h=$2} /^process_resident_memory_bytes /{r=$2} /^didrouter_index_workers /{n=$2} END{printf "%d workers, heap in use %.0f MB (%.0f B/worker), resident %.0f MB", n, h/1e6, h/n, r/1e6}')
	echo "== $bin: ready in ${READY} s, server CPU ${CPU} s, $mem (load average $(cut -d' ' -f1-3 /proc/loadavg))"
	stop
done
