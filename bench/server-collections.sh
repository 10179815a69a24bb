#!/usr/bin/env bash
# Big collections in `larder serve` against redis-server 7.0.15, in the same run, as markdown:
# memory per element of a sorted set of MEMBERS members and of a hash of MEMBERS fields, and
# ZADD / ZRANGE latency on that sorted set.
#
#   bench/server-collections.sh                  # 1,000,000 members, 3 rounds
#   MEMBERS=200000 ROUNDS=1 bench/server-collections.sh
#   RENDER_ONLY=1 bench/server-collections.sh    # re-print the report from the last run
#
# Each round, for each server (redis, then larder; one at a time, the server on core 0 and the
# clients on core 1):
#   1. start it empty; read used_memory (INFO memory) and RSS;
#   2. load the sorted set `bigz`: members `member:000000000042` (19 bytes), score = the number,
#      through `redis-cli --pipe` (ZADD, 1000 members per command); read memory again;
#   3. load the hash `bigh`: fields `field:000000000042` (18 bytes), values `value:42` ...
#      (HSET, 1000 fields per command); read memory again;
#   4. redis-benchmark -c 50 -n REQUESTS --csv on
#      `ZADD bigz __rand_int__ member:__rand_int__` (-r MEMBERS: mostly score updates that move
#      members) and `ZRANGE bigz __rand_int__ +inf BYSCORE LIMIT 0 10`.
# Bytes per element = memory growth / MEMBERS, from used_memory (what each server counts as its
# data) and from RSS (what the process really holds). Latency ratios are medians of per-round
# ratios larder ÷ redis. Raw figures stay in $CARGO_TARGET_DIR/server-bench/collections/.
set -euo pipefail
source "$(dirname "$0")/server-lib.sh"

members="${MEMBERS:-1000000}"
rounds="${ROUNDS:-3}"
requests="${REQUESTS:-200000}"
runs="$target/server-bench/collections"
logs="$runs/logs"

if [[ -z "${RENDER_ONLY:-}" ]]; then
    need redis-server redis-cli redis-benchmark taskset python3
    build
    rm -rf "$runs"
    mkdir -p "$logs"
    machine >"$runs/machine.txt"
    echo "MEMBERS=$members ROUNDS=$rounds REQUESTS=$requests" >>"$runs/machine.txt"
    echo "$members" >"$runs/members"
    # The load files, in RESP (redis-cli --pipe sends them as they are).
    python3 - "$members" "$runs" <<'PY'
import sys
n, root = int(sys.argv[1]), sys.argv[2]
def command(parts):
    out = [b"*%d\r\n" % len(parts)]
    for p in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(p), p))
    return b"".join(out)
batch = 1000
with open(f"{root}/zset.resp", "wb") as z, open(f"{root}/hash.resp", "wb") as h:
    for start in range(0, n, batch):
        ids = range(start, min(n, start + batch))
        zparts = [b"ZADD", b"bigz"]
        hparts = [b"HSET", b"bigh"]
        for i in ids:
            zparts += [b"%d" % i, b"member:%012d" % i]
            hparts += [b"field:%012d" % i, b"value:%d" % i]
        z.write(command(zparts))
        h.write(command(hparts))
PY
    : >"$runs/results.txt"
    for round in $(seq 1 "$rounds"); do
        for server in redis larder; do
            case $server in
                redis) start_redis 0 ; port=$redis_port ;;
                larder) start_larder 0 --threads 1 ; port=$larder_port ;;
            esac
            sleep 1
            used0=$(used_memory "$port") rss0=$(rss "$server_pid")
            pinned 1 redis-cli -p "$port" --pipe <"$runs/zset.resp" >>"$logs/pipe.log" 2>&1
            sleep 1
            used1=$(used_memory "$port") rss1=$(rss "$server_pid")
            pinned 1 redis-cli -p "$port" --pipe <"$runs/hash.resp" >>"$logs/pipe.log" 2>&1
            sleep 1
            used2=$(used_memory "$port") rss2=$(rss "$server_pid")
            zcard=$(redis-cli -p "$port" zcard bigz) hlen=$(redis-cli -p "$port" hlen bigh)
            if [[ $zcard != "$members" || $hlen != "$members" ]]; then
                echo "$server: loaded zcard $zcard, hlen $hlen, expected $members" >&2
                exit 1
            fi
            echo "$round $server $used0 $rss0 $used1 $rss1 $used2 $rss2" >>"$runs/results.txt"
            pinned 1 redis-benchmark -p "$port" -c 50 -n "$requests" -r "$members" --csv \
                ZADD bigz __rand_int__ member:__rand_int__ \
                >"$runs/$server-r$round-zadd.csv" 2>>"$logs/benchmark.err"
            pinned 1 redis-benchmark -p "$port" -c 50 -n "$requests" -r "$members" --csv \
                ZRANGE bigz __rand_int__ +inf BYSCORE LIMIT 0 10 \
                >"$runs/$server-r$round-zrange.csv" 2>>"$logs/benchmark.err"
            stop_server "$server_pid"
        done
    done
fi

python3 - "$runs" <<'PY'
import csv, os, statistics, sys
root = sys.argv[1]
n = int(open(os.path.join(root, "members")).read())
med = statistics.median
rows = {}
for line in open(os.path.join(root, "results.txt")):
    r, server, *nums = line.split()
    u0, r0, u1, r1, u2, r2 = map(int, nums)
    rows[(int(r), server)] = {
        "zset used": (u1 - u0) / n, "zset rss": (r1 - r0) / n,
        "hash used": (u2 - u1) / n, "hash rss": (r2 - r1) / n,
    }
rounds = sorted({r for r, _ in rows})
print(open(os.path.join(root, "machine.txt")).read().strip().replace("\n", "  \n"))
print()
print("Memory per element (bytes; median over rounds; ratio = median of per-round larder ÷ redis):")
print()
print("| collection | measure | redis | larder | larder ÷ redis (range) |")
print("|---|---|---:|---:|---:|")
verdicts = []
for what in ("zset", "hash"):
    for measure in ("used", "rss"):
        k = f"{what} {measure}"
        pairs = [(rows[(r, "redis")][k], rows[(r, "larder")][k]) for r in rounds
                 if (r, "redis") in rows and (r, "larder") in rows]
        ratios = [b / a for a, b in pairs if a > 0]
        print(f"| {what} | {measure} | {med([a for a, _ in pairs]):.1f} | {med([b for _, b in pairs]):.1f} "
              f"| **{med(ratios):.2f}** ({min(ratios):.2f}–{max(ratios):.2f}) |")
        if measure == "rss":
            verdicts.append(f"{what} memory per element (RSS) {med(ratios):.2f} × redis (goal ≤ 1.3) — "
                            + ("met" if med(ratios) <= 1.3 else "NOT met"))
print()
print("Latency on the sorted set (redis-benchmark -c 50, server on core 0, client on core 1):")
print()
print("| command | redis krps | larder krps | redis p50 / p99 ms | larder p50 / p99 ms | p99 larder ÷ redis (range) |")
print("|---|---:|---:|---:|---:|---:|")
for op in ("zadd", "zrange"):
    per = {}
    for r in rounds:
        for server in ("redis", "larder"):
            path = os.path.join(root, f"{server}-r{r}-{op}.csv")
            if os.path.exists(path):
                with open(path) as f:
                    for row in csv.DictReader(f):
                        per[(r, server)] = {k: float(v) for k, v in row.items() if k != "test"}
    pairs = [(per[(r, "redis")], per[(r, "larder")]) for r in rounds
             if (r, "redis") in per and (r, "larder") in per]
    if not pairs:
        continue
    col = lambda side, key: med([p[side][key] for p in pairs])
    p99 = [b["p99_latency_ms"] / a["p99_latency_ms"] for a, b in pairs]
    print(f"| {op.upper()} | {col(0, 'rps') / 1e3:.1f} | {col(1, 'rps') / 1e3:.1f} "
          f"| {col(0, 'p50_latency_ms'):.3f} / {col(0, 'p99_latency_ms'):.3f} "
          f"| {col(1, 'p50_latency_ms'):.3f} / {col(1, 'p99_latency_ms'):.3f} "
          f"| **{med(p99):.2f}** ({min(p99):.2f}–{max(p99):.2f}) |")
    verdicts.append(f"{op.upper()} p99 {med(p99):.2f} × redis (goal ≤ 1) — " + ("met" if med(p99) <= 1.0 else "NOT met"))
print()
for v in verdicts:
    print(f"* {v}")
PY
