#!/usr/bin/env bash
# The PostgreSQL gate (issue 7): the `larder` library's database-backed tests, built with
# `--features postgres`, against a real PostgreSQL server that this script starts and stops.
#
#   .ci/postgres.sh [-- COMMAND...]
#
# It installs Debian's `postgresql` if the machine lacks it, starts a throwaway cluster (initdb
# in a temporary directory, listening on 127.0.0.1 on a free port, trust authentication, fsync
# off: nothing in it outlives the run), creates the role and database `larder`, exports
# LARDER_PG_URL and runs COMMAND (default: `cargo test` of the `larder` crate with the
# `postgres` feature, limited to the test files that use the database, i.e. that include
# tests/common or examples/pattern_db; the other tests never touch a database and run in the
# workspace test step). The cluster is stopped (pg_ctl, then its PID) and its directory removed on exit, whatever happens.
# PostgreSQL refuses to run as root: as root the cluster runs as the `postgres` system user the
# package creates; otherwise as the calling user.
#
# E.g. to run an example on the same throwaway server:
#   .ci/postgres.sh -- cargo run -p larder --features postgres --example write_behind
#
# Environment:
#   LARDER_PG_PORT     the first port tried (default 25432; the next free one above it is used)
#   LARDER_PG_SETTINGS the server's settings (default "-c fsync=off -c synchronous_commit=off
#                      -c full_page_writes=off": a throwaway cluster needs no durability); e.g.
#                      LARDER_PG_SETTINGS="-c synchronous_commit=off" for a benchmark
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=.ci/lib.sh
source .ci/lib.sh  # after the cd to the repository root

[[ ${1:-} == -- ]] && shift
command_to_run=("$@")

# --- PostgreSQL's binaries -------------------------------------------------------------------
pg_bin() {
    local initdb
    initdb=$(printf '%s\n' /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)
    [[ -x $initdb ]] && dirname "$initdb"
}
if ! pg_bin >/dev/null; then
    install_packages postgresql
fi
bin=$(pg_bin) || die "no initdb under /usr/lib/postgresql/*/bin after installing postgresql"

# --- who runs the server ---------------------------------------------------------------------
if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "running as root and there is no postgres user to run the server"
    as_pg() { runuser -u postgres -- "$@"; }
else
    as_pg() { "$@"; }
fi

# --- a throwaway cluster ---------------------------------------------------------------------
dir=$(mktemp -d "${TMPDIR:-/tmp}/larder-pg.XXXXXX")
data=$dir/data
stop() {
    local status=$?
    if [[ -f $data/postmaster.pid ]]; then
        local pid
        pid=$(head -n 1 "$data/postmaster.pid")
        as_pg "$bin/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 ||
            kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -rf "$dir"
    exit "$status"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
[[ $(id -u) -eq 0 ]] && chown postgres: "$dir"
chmod 700 "$dir"

settings=${LARDER_PG_SETTINGS--c fsync=off -c synchronous_commit=off -c full_page_writes=off}

# A free port: nothing accepts a connection on it (bash's /dev/tcp, no other tool needed).
port=${LARDER_PG_PORT:-25432}
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    port=$((port + 1))
done

as_pg "$bin/initdb" -D "$data" --auth=trust --encoding=UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; die "initdb failed"; }
if ! as_pg "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 \
    -o "-h 127.0.0.1 -p $port -k $dir $settings" \
    start >/dev/null; then
    cat "$dir/server.log" >&2
    die "the PostgreSQL server did not start"
fi
superuser=$(as_pg id -un)
as_pg "$bin/psql" -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U "$superuser" -d postgres \
    -c "CREATE ROLE larder LOGIN" -c "CREATE DATABASE larder OWNER larder"
export LARDER_PG_URL="host=127.0.0.1 port=$port user=larder dbname=larder"
say "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (LARDER_PG_URL='$LARDER_PG_URL')"

# --- the tests -------------------------------------------------------------------------------
if [[ ${#command_to_run[@]} -eq 0 ]]; then
    tests=()
    for f in crates/larder/tests/*.rs; do
        grep -qE '^mod (common|pattern_db);' "$f" && tests+=(--test "$(basename "$f" .rs)")
    done
    [[ ${#tests[@]} -gt 0 ]] || die "no database-backed test file found under crates/larder/tests"
    # `--workspace --features larder/postgres` rather than `-p larder --features postgres`: the
    # same targets, but the dependencies' features are unified as in the workspace test step, so
    # its build is reused (only tokio, the postgres client and larder's own targets rebuild: ~40 s
    # instead of ~140 s on 2 cores).
    command_to_run=(cargo test --workspace --features larder/postgres "${tests[@]}")
fi
say "running: ${command_to_run[*]}"
"${command_to_run[@]}"

# Every test's schema was dropped when its database was.
left=$(as_pg "$bin/psql" -qAtX -h 127.0.0.1 -p "$port" -U larder -d larder \
    -c "SELECT string_agg(nspname, ' ') FROM pg_namespace WHERE nspname LIKE 'larder\_%'")
[[ -z $left ]] || die "schemas left behind on the server: $left"
say "no schema left behind"
