#!/usr/bin/env bash
# The `larder` library's figures (docs/library.md), as one markdown report on stdout:
#
#   1. in-process read throughput, 2 threads, Zipf keys, 90 % hits: larder::Cache vs moka (sync)
#      vs quick_cache (and the bare engine store) in paired rounds over three independently built
#      instances of each cache, on 1,000,000 and 100,000 keys;
#   2. stampede: 1,000 concurrent readers of an expired key, cache-aside vs single flight;
#   3. XFetch on the real clock: 1,000 reads/s of one key for ten TTL periods, β = 1 vs β = 0.
#
#   bench/library.sh                 # everything (about three minutes)
#   ROUNDS=9 OPS=500000 bench/library.sh
#
# The throughput runs are pinned to CPUs 0 and 1 (taskset), like bench/engine.sh.
set -euo pipefail

cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
rounds="${ROUNDS:-21}"
ops="${OPS:-1000000}"

cargo bench -p larder --bench read_throughput --no-run >/dev/null 2>&1 ||
    cargo bench -p larder --bench read_throughput --no-run
cargo build --release -p larder --example stampede --example xfetch >/dev/null 2>&1 ||
    cargo build --release -p larder --example stampede --example xfetch

echo "## Read throughput"
for keys in 1000000 100000; do
    echo
    taskset -c 0,1 cargo bench -q -p larder --bench read_throughput -- "$rounds" "$ops" "$keys" 2>/dev/null
done

echo
echo "## Stampede"
echo
"$target/release/examples/stampede"

echo
echo "## XFetch"
echo
"$target/release/examples/xfetch"
