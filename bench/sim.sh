#!/usr/bin/env bash
# Simulation speed: LRU replayed on OLTP through `larder sim`, one thread, pinned to one core.
# Prints requests/s per run (the `--timing` column) for REPEAT runs; report the median.
#
#   bench/sim.sh                 # 5 runs at 1000, 5000 and 10000 entries
#   REPEAT=9 bench/sim.sh
set -euo pipefail
cd "$(dirname "$0")/.."
traces="${LARDER_TRACES:-../shared/traces}"
trace="$traces/arc/OLTP.lis.zst"
[[ -f "$trace" ]] || { echo "skipped: $trace not found (set LARDER_TRACES)"; exit 0; }
cargo build --release -q -p larder-cli
for _ in $(seq "${REPEAT:-5}"); do
    taskset -c 0 target/release/larder sim --trace "$trace" --policy lru --size 1000,5000,10000 \
        --threads 1 --timing --quiet
done
