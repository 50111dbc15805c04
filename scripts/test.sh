#!/usr/bin/env bash
# Runs didrouter's whole test suite: formatting, vet, and `go test ./...`.
#
# The browser tests need Chromium at /usr/bin/chromium: installed with apt-get
# when missing and running as root, otherwise the script says what to install.
#
# Tests that store data need Postgres. This script uses TEST_DATABASE_URL (or
# DATABASE_URL) when set; otherwise it starts a throwaway cluster (initdb +
# pg_ctl in a temporary folder, on a free loopback port) and removes it on
# exit. Extra arguments go to `go test` (e.g. scripts/test.sh -run TestCall -v).
set -euo pipefail

cd "$(dirname "$0")/.."

die() { echo "scripts/test.sh: $*" >&2; exit 1; }

command -v go >/dev/null || die "Go is not installed (https://go.dev/dl/); this project needs Go 1.26 or newer."

find_pg_bin() {
	# initdb and pg_ctl are often outside PATH (Debian: /usr/lib/postgresql/N/bin).
	local dir
	if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
		dirname "$(command -v initdb)"
		return 0
	fi
	for dir in $(ls -d /usr/lib/postgresql/*/bin /usr/local/pgsql/bin /opt/homebrew/bin /usr/local/bin 2>/dev/null | sort -rV); do
		if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
			echo "$dir"
			return 0
		fi
	done
	return 1
}

free_port() {
	local p
	for p in $(seq 54329 54429); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

start_throwaway_postgres() {
	local bin port dir as_pg=()
	bin=$(find_pg_bin) || die "no TEST_DATABASE_URL or DATABASE_URL is set, and PostgreSQL's initdb/pg_ctl were not found.
Either point the tests at a server:   TEST_DATABASE_URL=postgres://user@127.0.0.1:5432/postgres?sslmode=disable scripts/test.sh
or install PostgreSQL (Debian/Ubuntu: apt-get install postgresql) so this script can start a throwaway cluster."
	port=$(free_port) || die "no free loopback port in 54329-54429 for a throwaway Postgres"
	dir=$(mktemp -d "${TMPDIR:-/tmp}/didrouter-pg.XXXXXX")
	PG_DIR=$dir PG_BIN=$bin
	if [[ $(id -u) == 0 ]]; then
		# The server refuses to run as root: run it as the postgres user.
		id postgres >/dev/null 2>&1 || die "running as root, but there is no 'postgres' user to run a throwaway cluster as"
		chown postgres "$dir"
		as_pg=(runuser -u postgres --)
	fi
	PG_AS=("${as_pg[@]}")
	"${as_pg[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 ||
		die "initdb failed; see $dir/initdb.log"
	"${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
		-o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
		start >/dev/null || die "the throwaway Postgres did not start; see $dir/server.log"
	trap stop_throwaway_postgres EXIT
	export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
	echo "scripts/test.sh: started a throwaway Postgres on 127.0.0.1:$port ($dir)"
}

stop_throwaway_postgres() {
	"${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$PG_DIR"
}

# The web pages' browser tests drive Debian's Chromium; under this script they
# fail (instead of skipping) when it is missing.
ensure_chromium() {
	[[ -x /usr/bin/chromium ]] && return 0
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
		echo "scripts/test.sh: /usr/bin/chromium is missing; installing it for the browser tests (apt-get install -y chromium)"
		DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null ||
			{ apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null; } ||
			die "installing chromium failed; install it yourself (apt-get install -y chromium)"
		return 0
	fi
	die "the browser tests need Chromium at /usr/bin/chromium: install it (Debian/Ubuntu: sudo apt-get install -y chromium), or run this script as root to have it installed"
}
ensure_chromium
export DIDROUTER_BROWSER_TESTS=require

if [[ -z "${TEST_DATABASE_URL:-}" && -n "${DATABASE_URL:-}" ]]; then
	export TEST_DATABASE_URL=$DATABASE_URL
fi
if [[ -z "${TEST_DATABASE_URL:-}" ]]; then
	start_throwaway_postgres
else
	echo "scripts/test.sh: using TEST_DATABASE_URL"
fi

echo "scripts/test.sh: gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
[[ -z "$unformatted" ]] || die "these files need gofmt -w: $unformatted"

echo "scripts/test.sh: go vet ./..."
go vet ./...

echo "scripts/test.sh: go test ./..."
go test -count=1 -timeout 20m "$@" ./...
