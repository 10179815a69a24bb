#!/usr/bin/env bash
# Purge fan-out: how long a purge takes to reach 2 and 3 peer edges on loopback.
#
# One edge (the one the operator talks to) is configured with --admin-peer for each peer; each
# round warms 100 objects on every edge, then POSTs `prefix=/f/` to its admin listener and reads
# `propagation_ms` (time from receiving the purge until the last peer acknowledged) from the
# JSON answer. Anchor, same run: the same purge sent by the client to each edge's admin listener
# one after the other (`local=1`, one curl, connections per host), timed by curl.
#
#   bench/edge-purge-fanout.sh [ROUNDS]
#
# Ports 18200-18299 (origin 18200, edges 18201-18204, admin listeners 18211-18214).
set -euo pipefail
rounds=${1:-31}
# shellcheck source=bench/edge-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/edge-lib.sh"

mkdir -p "$tmp/www/f"
for i in $(seq 1 100); do echo "object $i" >"$tmp/www/f/$i"; done
printf 'bench-token' >"$tmp/token"
(cd "$tmp/www" && exec python3 -m http.server 18200 --bind 127.0.0.1 >/dev/null 2>&1) &
pids+=($!)
wait_port 18200

start_edge() { # n [peers...]
    local n=$1
    shift
    local peers=()
    for p in "$@"; do peers+=(--admin-peer "http://127.0.0.1:$p"); done
    "$larder" edge --listen 127.0.0.1:$((18200 + n)) --origin http://127.0.0.1:18200 \
        --admin-listen 127.0.0.1:$((18210 + n)) --admin-token-file "$tmp/token" \
        --threads 1 "${peers[@]}" 2>/dev/null &
    pids+=($!)
    wait_port $((18210 + n))
}

auth=(-H "authorization: Bearer bench-token")
urls=()
for i in $(seq 1 100); do urls+=("http://127.0.0.1:PORT/f/$i"); done
warm() { # ports...
    for port in "$@"; do
        curl -s "${urls[@]//PORT/$port}" >/dev/null
    done
}

median() { python3 -c 'import sys,statistics; v=[float(x) for x in sys.stdin.read().split()]; print(f"{statistics.median(v):.3f}")'; }

for n in 1 2 3 4; do
    [[ $n -eq 1 ]] || start_edge "$n"
done

for peers in 2 3; do
    peer_ports=()
    for i in $(seq 2 $((peers + 1))); do peer_ports+=($((18210 + i))); done
    start_edge 1 "${peer_ports[@]}"
    main_pid=${pids[-1]}
    edge_ports=(18201)
    for i in $(seq 2 $((peers + 1))); do edge_ports+=($((18200 + i))); done
    : >"$tmp/prop" && : >"$tmp/local" && : >"$tmp/client" && : >"$tmp/anchor"
    for _ in $(seq 1 "$rounds"); do
        warm "${edge_ports[@]}"
        out=$(curl -s -w '\n%{time_total}' "${auth[@]}" -X POST --data 'prefix=/f/' \
            http://127.0.0.1:18211/purge)
        json=$(head -n1 <<<"$out")
        jq -e '.all_peers_ok == true and .purged == 100 and all(.peers[]; .purged == 100)' \
            <<<"$json" >/dev/null || { echo "bad answer: $json" >&2; exit 1; }
        jq -r '.propagation_ms' <<<"$json" >>"$tmp/prop"
        jq -r '.local_ms' <<<"$json" >>"$tmp/local"
        tail -n1 <<<"$out" | awk '{print $1 * 1000}' >>"$tmp/client"
        # Anchor: the client purges every edge itself, one after the other.
        warm "${edge_ports[@]}"
        args=()
        for p in "${edge_ports[@]}"; do
            args+=(--next -s -o /dev/null -w '%{time_total}\n' "${auth[@]}" -X POST
                --data 'prefix=/f/&local=1' "http://127.0.0.1:$((p + 10))/purge")
        done
        curl "${args[@]:1}" | awk '{s += $1} END {print s * 1000}' >>"$tmp/anchor"
    done
    printf '%d peers, %d rounds: propagation (server) median %s ms; fan-out purge seen by the client %s ms; local part %s ms; anchor (client purges the %d edges one by one) %s ms\n' \
        "$peers" "$rounds" "$(median <"$tmp/prop")" "$(median <"$tmp/client")" \
        "$(median <"$tmp/local")" $((peers + 1)) "$(median <"$tmp/anchor")"
    kill "$main_pid"
    wait "$main_pid" 2>/dev/null || true
done
