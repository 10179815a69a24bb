#!/usr/bin/env bash
# Engine benchmarks: throughput (criterion) and per-entry memory overhead, as one markdown report.
#
#   bench/engine.sh            # everything (about five minutes)
#   bench/engine.sh read_2t    # only the criterion groups whose name contains the filter
#   REPEAT=3 SKIP_MEMORY=1 SKIP_PAIRED=1 bench/engine.sh
#   RENDER_ONLY=1 bench/engine.sh   # re-print the report from the last runs
#
# Single-thread groups run pinned to one core (taskset -c 0), two-thread groups to two
# (taskset -c 0,1). Each group runs REPEAT times (default 5), the groups interleaved, so that a
# burst of load from other processes hits one run rather than one cache. A figure is the median
# over the runs of criterion's median; a ratio is the median over the runs of the ratio within a
# run (the four caches of a group are measured within about fifteen seconds of one another).
# On a shared machine load still shifts between the caches of one criterion run, so the script
# also runs examples/paired.rs, which alternates the caches in rounds of about 0.1 s and reports
# the median of the per-round ratios: the steadier estimate of a ratio.
set -euo pipefail

cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
filter="${1:-}"
runs="$target/engine-bench"
log="$runs/bench.log"

if [[ -z "${RENDER_ONLY:-}" ]]; then
    cargo bench -p larder-engine --bench throughput --no-run >/dev/null 2>&1 ||
        cargo bench -p larder-engine --bench throughput --no-run
    cargo build --release -p larder-engine --example overhead --example paired >/dev/null 2>&1 ||
        cargo build --release -p larder-engine --example overhead --example paired

    rm -rf "$runs"
    mkdir -p "$runs"
    repeat="${REPEAT:-5}"
    for rep in $(seq 1 "$repeat"); do
        for group in read_1t read_2t mixed_1t mixed_2t; do
            if [[ -n "$filter" && "$group" != *"$filter"* ]]; then
                continue
            fi
            case "$group" in
                *_1t) cpus=0 ;;
                *) cpus=0,1 ;;
            esac
            rm -rf "$target/criterion/$group"
            echo "run $rep/$repeat: $group on CPUs $cpus" >&2
            taskset -c "$cpus" cargo bench -p larder-engine --bench throughput -- "^$group/" \
                >>"$log" 2>&1
            mkdir -p "$runs/run$rep"
            cp -r "$target/criterion/$group" "$runs/run$rep/"
        done
    done

    if [[ -z "${SKIP_PAIRED:-}" ]]; then
        : >"$runs/paired.md"
        for spec in "read 1 0" "read 2 0,1" "mixed 2 0,1"; do
            read -r workload threads cpus <<<"$spec"
            echo "paired: $workload, $threads thread(s) on CPUs $cpus" >&2
            taskset -c "$cpus" "$target/release/examples/paired" "$workload" "$threads" 15 \
                >>"$runs/paired.md"
            echo >>"$runs/paired.md"
        done
    fi

    if [[ -z "${SKIP_MEMORY:-}" ]]; then
        echo "running overhead" >&2
        taskset -c 0 "$target/release/examples/overhead" >"$runs/memory.md"
    fi
fi

python3 - "$runs" <<'PY'
import json, os, statistics, sys

root = sys.argv[1]
caches = ["larder-s3fifo", "larder-lru", "moka", "quick_cache"]
groups = ["read_1t", "read_2t", "mixed_1t", "mixed_2t"]
reps = sorted(d for d in os.listdir(root) if d.startswith("run"))


def mops(rep, group, cache, threads):
    """Criterion's median for one run, in million operations per second (all threads)."""
    path = os.path.join(root, rep, group, cache, "new", "estimates.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        # One criterion iteration is one operation on each thread.
        return threads * 1e3 / json.load(f)["median"]["point_estimate"]


print("## Throughput\n")
print("| workload | threads | cache | Mops/s | range (runs) | × moka | × quick_cache |")
print("|---|---:|---|---:|---:|---:|---:|")
ratios = {}
for group in groups:
    workload, threads = group.split("_")
    threads = int(threads[:-1])
    runs = [{c: mops(rep, group, c, threads) for c in caches} for rep in reps]
    runs = [r for r in runs if all(v is not None for v in r.values())]
    if not runs:
        continue
    for cache in caches:
        values = [r[cache] for r in runs]
        cells = []
        for other in ("moka", "quick_cache"):
            if other == cache:
                cells.append("–")
                continue
            x = statistics.median(r[cache] / r[other] for r in runs)
            ratios[(group, cache, other)] = x
            cells.append(f"{x:.2f}")
        print(f"| {workload} | {threads} | {cache} | {statistics.median(values):.2f} "
              f"| {min(values):.1f}–{max(values):.1f} ({len(values)}) | {cells[0]} | {cells[1]} |")
print()

print("## Targets\n")
for other, goal in (("moka", 1.5), ("quick_cache", 0.8)):
    x = ratios.get(("read_2t", "larder-s3fifo", other))
    if x is not None:
        verdict = "met" if x >= goal else "NOT met"
        print(f"* 2-thread read throughput ≥ {goal} × {other}: {x:.3f} × — {verdict}")
paired_path = os.path.join(root, "paired.md")
if os.path.exists(paired_path):
    paired = open(paired_path).read()
    for block in paired.split("\n\n"):
        if block.startswith("read, 2 thread"):
            for line in block.splitlines():
                cells = [c.strip() for c in line.strip("|").split("|")]
                if cells[0] in ("moka", "quick_cache"):
                    goal = 1.5 if cells[0] == "moka" else 0.8
                    x = float(cells[2])
                    verdict = "met" if x >= goal else "NOT met"
                    print(f"* paired rounds, 2-thread read ≥ {goal} × {cells[0]}: {x:.2f} × — {verdict}")
memory_path = os.path.join(root, "memory.md")
if os.path.exists(memory_path):
    memory = open(memory_path).read().strip()
    for line in memory.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells and cells[0] == "larder s3fifo":
            over = float(cells[4])
            verdict = "met" if over <= 48 else "NOT met"
            print(f"* engine overhead ≤ 48 B/entry (S3-FIFO, N = {cells[1]}): {over:.1f} B — {verdict}")
print()
if os.path.exists(paired_path):
    print("## Paired rounds (examples/paired.rs)\n")
    print(open(paired_path).read().strip())
    print()
if os.path.exists(memory_path):
    print("## Memory overhead per entry (live heap / resident entries − 16 B of key and value)\n")
    print(memory)
PY
