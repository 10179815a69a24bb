#!/usr/bin/env bash
# The memory limit holds: write FACTOR × maxmemory of data (distinct keys) and sample the
# server's memory as it goes, for `larder serve` and (for reference) redis-server.
#
#   bench/server-maxmemory.sh                          # 64mb, 10 ×, values of 32 and 1000 B
#   MAXMEMORY=32mb VALUE_SIZES=100 bench/server-maxmemory.sh
#   RENDER_ONLY=1 bench/server-maxmemory.sh            # re-print the report from the last run
#
# For each server and value size: start the server with --maxmemory MAXMEMORY and its default
# evicting policy (larder: allkeys-larder; redis: allkeys-lru, since its default noeviction
# would refuse the writes), let it idle a second and read its RSS (the idle baseline), then
# crates/server/examples/load_keys.rs writes FACTOR × MAXMEMORY bytes of 16-byte keys and
# values (pipelined, 1000 a batch) and, every SAMPLE_EVERY writes (default: 200 samples per
# run), reads used_memory (INFO memory, over a second connection) when the server answers INFO,
# and VmRSS of /proc/PID/status. The limit holds when at every sample
#   used_memory ≤ maxmemory   and   RSS − idle baseline ≤ 1.10 × maxmemory.
# Samples stay in $CARGO_TARGET_DIR/server-bench/maxmemory/.
set -euo pipefail
source "$(dirname "$0")/server-lib.sh"

maxmemory="${MAXMEMORY:-64mb}"
factor="${FACTOR:-10}"
value_sizes="${VALUE_SIZES:-32 1000}"
servers="${SERVERS:-larder redis}"
key_size=16
runs="$target/server-bench/maxmemory"
logs="$runs/logs"

bytes=$(python3 -c "
import sys, re
t = sys.argv[1].lower(); m = re.fullmatch(r'(\d+)(b|k|kb|m|mb|g|gb)?', t)
u = {None: 1, 'b': 1, 'k': 10**3, 'kb': 2**10, 'm': 10**6, 'mb': 2**20, 'g': 10**9, 'gb': 2**30}
print(int(m.group(1)) * u[m.group(2)])" "$maxmemory")

if [[ -z "${RENDER_ONLY:-}" ]]; then
    need redis-server redis-cli python3
    build load_keys
    rm -rf "$runs"
    mkdir -p "$logs"
    machine >"$runs/machine.txt"
    : >"$runs/runs.txt"

    for value_size in $value_sizes; do
        keys=$((factor * bytes / (key_size + value_size)))
        every="${SAMPLE_EVERY:-$((keys / 200))}"
        for server in $servers; do
            case $server in
                larder) start_larder "" --maxmemory "$bytes" ; port=$larder_port ;;
                redis) start_redis "" --maxmemory "$bytes" --maxmemory-policy allkeys-lru ; port=$redis_port ;;
            esac
            sleep 1
            baseline=$(rss "$server_pid")
            echo "$server, values of $value_size B: $keys keys" >&2
            "$examples/load_keys" --port "$port" --keys "$keys" --key-size $key_size \
                --value-size "$value_size" --pid "$server_pid" --sample-every "$every" \
                >"$runs/$server-$value_size.csv" 2>>"$logs/load.txt"
            echo "$server $value_size $keys $baseline" >>"$runs/runs.txt"
            stop_server "$server_pid"
        done
    done
fi

python3 - "$runs" "$bytes" "$factor" <<'PY'
import csv, os, sys

root, limit, factor = sys.argv[1], int(sys.argv[2]), sys.argv[3]
print(open(os.path.join(root, "machine.txt")).read().strip())
print()
print(f"maxmemory = {limit:,} B ({limit / 2**20:.0f} MiB); {factor} × that written as distinct 16-byte keys")
print()
print("| server | value B | keys written | samples | max used_memory ÷ maxmemory "
      "| max (RSS − idle) ÷ maxmemory | idle RSS MiB | final RSS MiB | verdict |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
for line in open(os.path.join(root, "runs.txt")):
    server, value_size, keys, baseline = line.split()
    baseline = int(baseline)
    with open(os.path.join(root, f"{server}-{value_size}.csv")) as f:
        samples = list(csv.DictReader(f))
    used = [int(s["used_memory"]) for s in samples if s["used_memory"] != "-"]
    rss = [int(s["rss"]) for s in samples]
    max_used = max(used) / limit if used else None
    max_rss = (max(rss) - baseline) / limit
    bad = []
    if max_used is not None and max_used > 1.0:
        over = max(used) - limit
        bad.append(f"used_memory by {over:,} B")
    if max_rss > 1.10:
        first = next(s["written"] for s in samples if int(s["rss"]) - baseline > 1.10 * limit)
        bad.append(f"RSS from {int(first):,} writes on")
    verdict = "holds" if not bad else "**exceeded**: " + "; ".join(bad)
    used_txt = f"{max_used:.5f}" if max_used is not None else "– (no INFO)"
    print(f"| {server} | {value_size} | {int(keys):,} | {len(samples)} | {used_txt} | {max_rss:.3f} "
          f"| {baseline / 2**20:.1f} | {rss[-1] / 2**20:.1f} | {verdict} |")
PY
