#!/usr/bin/env bash
# Throughput and latency of `larder serve` against redis-server 7.0.15, measured in the same
# run with redis-benchmark, as one markdown report on stdout.
#
#   bench/server-throughput.sh                  # full: -n 2000000, 3 rounds, both modes
#   N=300000 ROUNDS=3 bench/server-throughput.sh   # quick
#   MODES=pinned PIPELINES=16 bench/server-throughput.sh
#   RENDER_ONLY=1 bench/server-throughput.sh    # re-print the report from the last run
#   TESTS=lpush,lpop,sadd,hset,zadd,lrange_100 KEYSPACE=100000 bench/server-throughput.sh
#                                               # the data-structure commands (issue 5)
#
# Workload (issue 4): redis-benchmark -t set,get -r 1000000 -d 32 -c 50 -n N -P {1,16} --csv;
# TESTS and KEYSPACE replace -t and -r. Goals: SET/GET ≥ 1.0× redis at -P 1 and ≥ 1.2× at
# -P 16; every other test ≥ 1.0×.
# Modes:
#   pinned — each server on core 0 (taskset -c 0; larder with --threads 1), redis-benchmark on
#            core 1 (taskset -c 1);
#   both   — each server may use both cores (larder with its default threads, one per core),
#            redis-benchmark unpinned.
# Both servers run side by side for a whole mode; each round runs redis then larder for each
# pipeline depth (A B A B ...), so a burst of load from other processes hits one round rather
# than one server. Figures are medians over the rounds; a ratio is the median of the per-round
# ratios larder ÷ redis. Beside throughput, the script reads each server's CPU time
# (/proc/PID/stat utime + stime) around each redis-benchmark run: CPU µs per request (SET and
# GET together) depends much less on other processes' load than requests per second do. It
# also reports how busy each server and redis-benchmark were (CPU time ÷ wall time of each run):
# a client at 100 % of its core while the servers idle part of the time means the throughput
# ratio measures the client.
# Raw CSVs stay in $CARGO_TARGET_DIR/server-bench/throughput/.
set -euo pipefail
source "$(dirname "$0")/server-lib.sh"

n="${N:-2000000}"
rounds="${ROUNDS:-3}"
pipelines="${PIPELINES:-1 16}"
tests="${TESTS:-set,get}"
keyspace="${KEYSPACE:-1000000}"
modes="${MODES:-pinned both}"
runs="$target/server-bench/throughput"
logs="$runs/logs"
TIMEFORMAT='%R %U %S'

if [[ -z "${RENDER_ONLY:-}" ]]; then
    need redis-server redis-benchmark redis-cli taskset python3
    build
    rm -rf "$runs"
    mkdir -p "$logs"
    machine >"$runs/machine.txt"
    echo "N=$n ROUNDS=$rounds PIPELINES=$pipelines MODES=$modes TESTS=$tests KEYSPACE=$keyspace" \
        >>"$runs/machine.txt"
    getconf CLK_TCK >"$runs/clk_tck"
    echo "$n" >"$runs/n"
    for mode in $modes; do
        case "$mode" in
            pinned) server_cpus=0 client_cpus=1 larder_args=(--threads 1) ;;
            both) server_cpus=0,1 client_cpus="" larder_args=() ;;
            *) echo "unknown mode $mode (pinned or both)" >&2; exit 2 ;;
        esac
        start_redis "$server_cpus"
        redis_pid=$server_pid
        start_larder "$server_cpus" "${larder_args[@]}"
        larder_pid=$server_pid
        for round in $(seq 1 "$rounds"); do
            for p in $pipelines; do
                for server in redis larder; do
                    port=$redis_port pid=$redis_pid
                    [[ $server == larder ]] && port=$larder_port pid=$larder_pid
                    echo "$mode round $round/$rounds: -P $p $server" >&2
                    ticks=$(cpu_ticks "$pid")
                    # bash's `time`: wall, user and system seconds of redis-benchmark itself.
                    { time pinned "$client_cpus" redis-benchmark -p "$port" -t "$tests" \
                        -r "$keyspace" -d 32 -c 50 -n "$n" -P "$p" --csv \
                        >"$runs/$mode-P$p-$server-r$round.csv" 2>>"$logs/benchmark.err"; } \
                        2>"$runs/$mode-P$p-$server-r$round.time"
                    echo $(($(cpu_ticks "$pid") - ticks)) >"$runs/$mode-P$p-$server-r$round.ticks"
                done
            done
        done
        echo "$mode: redis rss $(rss "$redis_pid") larder rss $(rss "$larder_pid")" \
            >>"$runs/machine.txt"
        stop_server "$larder_pid"
        stop_server "$redis_pid"
    done
fi

python3 - "$runs" <<'PY'
import csv, glob, os, re, statistics, sys

root = sys.argv[1]
n = int(open(os.path.join(root, "n")).read())

def per_run(ext):
    """The files MODE-PP-SERVER-rROUND.EXT, by (mode, p, server, round): their text."""
    found = {}
    for path in glob.glob(os.path.join(root, f"*.{ext}")):
        m = re.match(rf"(\w+)-P(\d+)-(\w+)-r(\d+)\.{ext}$", os.path.basename(path))
        if m:
            key = (m.group(1), int(m.group(2)), m.group(3), int(m.group(4)))
            found[key] = open(path).read()
    return found

rows = {}  # (mode, p, server, round, test) -> dict
for run, text in per_run("csv").items():
    for row in csv.DictReader(text.splitlines()):
        rows[(*run, row["test"])] = {k: float(v) for k, v in row.items() if k != "test"}

def test_order(name):
    order = ["SET", "GET", "LPUSH", "RPUSH", "LPOP", "RPOP", "SADD", "HSET", "SPOP", "ZADD",
             "ZPOPMIN", "LRANGE_100", "LRANGE_300", "LRANGE_500", "LRANGE_600"]
    head = name.split()[0]
    return (order.index(head) if head in order else 99, name)

def goal_for(test, p):
    if test in ("SET", "GET"):
        return 1.0 if p == 1 else 1.2 if p == 16 else None
    if test.startswith("LPUSH (needed"):
        return None
    return 1.0

test_count = len({k[4] for k in rows}) or 1  # requests per test: n each

def med(xs):
    return statistics.median(xs) if xs else float("nan")

print(open(os.path.join(root, "machine.txt")).read().strip().replace("\n", "  \n"))
print()
print("| mode | -P | test | redis krps | larder krps | larder ÷ redis (range) "
      "| redis p50 / p99 ms | larder p50 / p99 ms | p99 larder ÷ redis |")
print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
modes = sorted({k[0] for k in rows}, key=lambda m: ["pinned", "both"].index(m) if m in ("pinned", "both") else 9)
verdicts = []
for mode in modes:
    for p in sorted({k[1] for k in rows if k[0] == mode}):
        tests = sorted({k[4] for k in rows if k[0] == mode and k[1] == p}, key=test_order)
        for test in tests:
            rounds = sorted({k[3] for k in rows if k[0] == mode and k[1] == p})
            pairs = [(rows.get((mode, p, "redis", r, test)), rows.get((mode, p, "larder", r, test)))
                     for r in rounds]
            pairs = [(a, b) for a, b in pairs if a and b]
            if not pairs:
                continue
            ratios = [b["rps"] / a["rps"] for a, b in pairs]
            p99r = [b["p99_latency_ms"] / a["p99_latency_ms"] for a, b in pairs]
            col = lambda side, key: med([pr[side][key] for pr in pairs])
            print(f"| {mode} | {p} | {test} | {col(0, 'rps') / 1e3:.1f} | {col(1, 'rps') / 1e3:.1f} "
                  f"| **{med(ratios):.2f}** ({min(ratios):.2f}–{max(ratios):.2f}, {len(pairs)}) "
                  f"| {col(0, 'p50_latency_ms'):.3f} / {col(0, 'p99_latency_ms'):.3f} "
                  f"| {col(1, 'p50_latency_ms'):.3f} / {col(1, 'p99_latency_ms'):.3f} "
                  f"| {med(p99r):.2f} |")
            if mode == "pinned":
                goal = goal_for(test, p)
                if goal is not None:
                    verdicts.append((p, test, med(ratios), goal, med(p99r)))
print()
clk = int(open(os.path.join(root, "clk_tck")).read()) if os.path.exists(os.path.join(root, "clk_tck")) else 100
ticks = {run: int(text) for run, text in per_run("ticks").items()}
if ticks:
    print("Server CPU time per request (user + system, every test together; µs):")
    print()
    print("| mode | -P | redis | larder | larder ÷ redis (range) |")
    print("|---|---:|---:|---:|---:|")
    for mode in modes:
        for p in sorted({k[1] for k in ticks if k[0] == mode}):
            rounds = sorted({k[3] for k in ticks if k[0] == mode and k[1] == p})
            us = lambda s, r: ticks[(mode, p, s, r)] * 1e6 / clk / (test_count * n)
            pairs = [(us("redis", r), us("larder", r)) for r in rounds
                     if (mode, p, "redis", r) in ticks and (mode, p, "larder", r) in ticks]
            ratios = [b / a for a, b in pairs if a > 0]
            print(f"| {mode} | {p} | {med([a for a, _ in pairs]):.2f} | {med([b for _, b in pairs]):.2f} "
                  f"| {med(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f}) |")
    print()
# How busy each side was: CPU time over wall time of each redis-benchmark run. At -P 1 the
# single-threaded client can be the one that saturates its core, and then the throughput
# ratio measures the client, not the servers.
busy = {}
for run, text in per_run("time").items():
    fields = text.split()
    if len(fields) == 3 and run in ticks and float(fields[0]) > 0:
        wall, user, system = map(float, fields)
        busy[run] = (ticks[run] / clk / wall, (user + system) / wall)
if busy:
    print("Busy share of a core during each run (CPU time ÷ wall time; medians over rounds):")
    print()
    print("| mode | -P | redis server | redis-benchmark against redis | larder server | redis-benchmark against larder |")
    print("|---|---:|---:|---:|---:|---:|")
    for mode in modes:
        for p in sorted({k[1] for k in busy if k[0] == mode}):
            cell = lambda s, i: med([v[i] for k, v in busy.items() if k[:3] == (mode, p, s)])
            print(f"| {mode} | {p} | {cell('redis', 0):.0%} | {cell('redis', 1):.0%} "
                  f"| {cell('larder', 0):.0%} | {cell('larder', 1):.0%} |")
    print()
for p, test, x, goal, p99 in verdicts:
    tv = "met" if x >= goal else "NOT met"
    lv = "met" if p99 <= 1.0 else "NOT met"
    print(f"* pinned -P {p} {test}: {x:.2f} × redis (goal ≥ {goal}) — {tv}; "
          f"p99 {p99:.2f} × redis (goal ≤ 1) — {lv}")
PY
