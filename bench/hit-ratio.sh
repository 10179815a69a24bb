#!/usr/bin/env bash
# Regenerates the tables and plots of docs/hit-ratio.md: every shared trace at two sizes or more,
# every policy, Belady's optimum beside, and miss-ratio curves as SVG (docs/plots/).
#
#   bench/hit-ratio.sh > /tmp/hit-ratio-tables.md     # then paste into docs/hit-ratio.md
#   THREADS=2 bench/hit-ratio.sh
set -euo pipefail
cd "$(dirname "$0")/.."
traces="${LARDER_TRACES:-../shared/traces}"
[[ -d "$traces" ]] || { echo "skipped: $traces not found (set LARDER_TRACES)" >&2; exit 0; }
cargo build --release -q -p larder-cli
sim() { "${CARGO_TARGET_DIR:-target}/release/larder" sim --threads "${THREADS:-1}" --quiet "$@"; }
mkdir -p docs/plots
table() { # trace sizes [extra args]
    local trace=$1 sizes=$2; shift 2
    echo
    echo '```text'
    sim --trace "$traces/$trace" --size "$sizes" "$@"
    echo '```'
}
echo "## Entry-counted traces"
table arc/OLTP.lis.zst 1000,2000,5000,10000
table arc/P3.lis.zst 32768,131072
table arc/P6.lis.zst 32768,131072
table caffeine/scarab-recs.trace.xz 25000,100000
table caffeine/corda_trace_vaultservice.gz 512,5000
table cache2k/web07.trace.xz 1200,5000
for t in 2_pools backf cpp cs gli loop multi1 multi2 multi3 ps scan sprite zigzag; do
    case $t in
        gli) sizes=500,1000 ;; loop) sizes=512,1000 ;; sprite) sizes=200,1000 ;;
        multi2) sizes=1800,3000 ;; zigzag) sizes=200,1000 ;; *) sizes=10%,30% ;;
    esac
    table "lirs/$t.trace.gz" "$sizes"
done
echo
echo "## Byte-sized traces"
table sized/cloudPhysicsIO.oracleGeneral.bin 128MiB,1GiB --sized
table sized/adaptsize_request.trace.xz 10%,50% --sized
echo
echo "## Miss-ratio curves"
for t in arc/OLTP.lis.zst lirs/gli.trace.gz lirs/loop.trace.gz caffeine/corda_trace_vaultservice.gz cache2k/web07.trace.xz; do
    name=$(basename "$t"); name=${name%%.*}
    sim --trace "$traces/$t" --mrc --mrc-points 16 --plot "docs/plots/mrc-$name.svg" >/dev/null
    echo
    echo "![$name miss-ratio curve](plots/mrc-$name.svg)"
done
