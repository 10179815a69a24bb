#!/usr/bin/env bash
# Memory per key of `larder serve`, redis-server and (when installed) memcached, in the same
# run: KEYS distinct 16-byte keys with 32-byte values, RSS before and after, as markdown.
#
#   bench/server-memory.sh                 # 1,000,000 keys, 3 rounds (a fresh server each)
#   KEYS=200000 ROUNDS=1 bench/server-memory.sh
#   RENDER_ONLY=1 bench/server-memory.sh   # re-print the report from the last run
#
# Each server starts empty (no persistence, no maxmemory); its RSS (VmRSS of /proc/PID/status)
# and, where it answers INFO, used_memory are read, then crates/server/examples/load_keys.rs
# writes KEYS distinct keys (`key:000000000042`, 16 bytes) with 32-byte values, pipelined
# 1000 at a time over one connection, checking every reply; after SETTLE seconds' rest (12 by
# default: Redis runs jemalloc's background thread, which returns the pages freed while loading
# over jemalloc's ten-second decay; larder's RSS does not change while idle) both are read
# again. Bytes per key = (after − before) / KEYS: everything the server spends on a key,
# including its 48 bytes of key and value. Servers take turns within each round (redis, larder,
# memcached), one at a time. Raw figures stay in $CARGO_TARGET_DIR/server-bench/memory/.
set -euo pipefail
source "$(dirname "$0")/server-lib.sh"

keys="${KEYS:-1000000}"
rounds="${ROUNDS:-3}"
settle="${SETTLE:-12}"
key_size=16
value_size=32
runs="$target/server-bench/memory"
logs="$runs/logs"

if [[ -z "${RENDER_ONLY:-}" ]]; then
    need redis-server redis-cli python3
    servers="redis larder"
    if command -v memcached >/dev/null 2>&1; then
        servers="$servers memcached"
    else
        echo "memcached not installed (apt-get install -y memcached): measuring redis and larder only" >&2
    fi
    build load_keys
    rm -rf "$runs"
    mkdir -p "$logs"
    machine >"$runs/machine.txt"
    echo "$keys" >"$runs/keys"
    : >"$runs/results.txt"

    for round in $(seq 1 "$rounds"); do
        for server in $servers; do
            case $server in
                redis) start_redis "" ; port=$redis_port protocol=resp ;;
                larder) start_larder "" ; port=$larder_port protocol=resp ;;
                # Memory limit well above the data; one worker thread.
                memcached) start_memcached "" -m 4096 -t 1 ; port=$memcached_port protocol=memcache ;;
            esac
            sleep 1
            rss0=$(rss "$server_pid")
            used0=""
            [[ $protocol == resp ]] && used0=$(used_memory "$port")
            echo "round $round/$rounds: $server" >&2
            "$examples/load_keys" --port "$port" --protocol "$protocol" --keys "$keys" \
                --key-size $key_size --value-size $value_size 2>>"$logs/load.txt"
            sleep "$settle"
            rss1=$(rss "$server_pid")
            used1=""
            [[ $protocol == resp ]] && used1=$(used_memory "$port")
            echo "$round $server $rss0 $rss1 ${used0:--} ${used1:--}" >>"$runs/results.txt"
            stop_server "$server_pid"
        done
    done
fi

python3 - "$runs" "$(cat "$runs/keys")" <<'PY'
import os, statistics, sys

root, keys = sys.argv[1], int(sys.argv[2])
per = {}
for line in open(os.path.join(root, "results.txt")):
    rnd, server, rss0, rss1, used0, used1 = line.split()
    d = per.setdefault(server, {"rss": [], "used": [], "rss0": [], "rss1": []})
    d["rss"].append((int(rss1) - int(rss0)) / keys)
    d["rss0"].append(int(rss0))
    d["rss1"].append(int(rss1))
    if used0 != "-" and used1 != "-":
        d["used"].append((int(used1) - int(used0)) / keys)
print(open(os.path.join(root, "machine.txt")).read().strip())
print()
print(f"{keys:,} keys of 16 B, values of 32 B; medians over {len(per.get('redis', {}).get('rss', []))} round(s)")
print()
print("| server | RSS B/key | range | used_memory B/key | RSS before → after (MiB) | × redis |")
print("|---|---:|---:|---:|---:|---:|")
redis = statistics.median(per["redis"]["rss"]) if "redis" in per else None
for server, d in per.items():
    x = statistics.median(d["rss"])
    used = f"{statistics.median(d['used']):.1f}" if d["used"] else "–"
    ratio = f"{x / redis:.2f}" if redis else "–"
    print(f"| {server} | **{x:.1f}** | {min(d['rss']):.1f}–{max(d['rss']):.1f} | {used} "
          f"| {statistics.median(d['rss0']) / 2**20:.1f} → {statistics.median(d['rss1']) / 2**20:.1f} "
          f"| {ratio} |")
print()
if "larder" in per:
    x = statistics.median(per["larder"]["rss"])
    print(f"* larder RSS per key ≤ 100 B: {x:.1f} B — {'met' if x <= 100 else 'NOT met'}")
PY
