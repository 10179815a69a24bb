#!/usr/bin/env bash
# Cache-hit throughput of `larder edge` against nginx proxy_cache and Varnish, in one run.
#
#   bench/edge-throughput.sh [SECONDS-PER-RUN] [ROUNDS]
#
# A 1 KiB object with `Cache-Control: max-age=3600` is served by an nginx origin; each proxy
# (pinned to core 0, one worker) caches it, and wrk (pinned to core 1, 1 thread, 32
# connections) requests it. Runs alternate A B C A B C ...; the report gives the median
# requests/s and p99 latency of each proxy and the ratios against nginx and Varnish.
# Installs nginx, varnish and wrk with apt-get if missing. Ports 18110-18113.
set -euo pipefail
secs=${1:-8}
rounds=${2:-3}
conns=${WRK_CONNECTIONS:-32}
# shellcheck source=bench/edge-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/edge-lib.sh"
need nginx:nginx varnishd:varnish wrk:wrk

# --- the origin: nginx serving a 1 KiB file --------------------------------------------------
mkdir -p "$tmp/www" "$tmp/origin" "$tmp/nginx/cache"
head -c 1024 /dev/zero | tr '\0' 'x' >"$tmp/www/obj"
cat >"$tmp/origin/nginx.conf" <<CONF
user root;
worker_processes 1;
pid $tmp/origin/nginx.pid;
error_log $tmp/origin/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    server {
        listen 127.0.0.1:18110;
        root $tmp/www;
        location / { add_header Cache-Control "max-age=3600"; }
    }
}
CONF
nginx -p "$tmp/origin" -c "$tmp/origin/nginx.conf" -g 'daemon off;' &
pids+=($!)

# --- larder edge -----------------------------------------------------------------------------
taskset -c 0 "$larder" edge --listen 127.0.0.1:18111 --origin http://127.0.0.1:18110 --threads 1 \
    2>"$tmp/larder.log" &
pids+=($!)

# --- nginx proxy_cache ----------------------------------------------------------------------
cat >"$tmp/nginx/nginx.conf" <<CONF
user root;
worker_processes 1;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    proxy_cache_path $tmp/nginx/cache keys_zone=edge:10m max_size=256m;
    upstream origin { server 127.0.0.1:18110; keepalive 32; }
    server {
        listen 127.0.0.1:18112;
        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache edge;
            proxy_cache_lock on;
        }
    }
}
CONF
taskset -c 0 nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -g 'daemon off;' &
pids+=($!)

# --- Varnish --------------------------------------------------------------------------------
taskset -c 0 varnishd -F -a 127.0.0.1:18113 -b 127.0.0.1:18110 -n "$tmp/varnish" -s malloc,256m \
    -p thread_pools=1 >"$tmp/varnish.log" 2>&1 &
pids+=($!)

for port in 18110 18111 18112 18113; do wait_port "$port"; done
for port in 18111 18112 18113; do curl -s -o /dev/null "http://127.0.0.1:$port/obj"; done

declare -A rps p99
names=(larder nginx varnish)
declare -A port_of=([larder]=18111 [nginx]=18112 [varnish]=18113)

# "2.34ms" / "850.00us" / "1.2s" -> microseconds
to_us() {
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000; else if (v ~ /s$/) print n * 1000000; else print n
    }'
}

for r in $(seq 1 "$rounds"); do
    for name in "${names[@]}"; do
        out=$(taskset -c 1 wrk -t1 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:${port_of[$name]}/obj")
        rps[$name]+="$(awk '/Requests\/sec/ {print $2}' <<<"$out") "
        p99[$name]+="$(to_us "$(awk '$1 == "99%" {print $2}' <<<"$out")") "
        echo "round $r $name: $(awk '/Requests\/sec/ {print $2}' <<<"$out") req/s, p99 $(awk '$1 == "99%" {print $2}' <<<"$out")"
    done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

echo
echo "median of $rounds rounds, ${secs} s each, wrk -t1 -c$conns on core 1, proxies on core 0, 1 KiB cached object:"
printf '%-8s %12s %12s\n' proxy req/s p99-us
declare -A mr mp
for name in "${names[@]}"; do
    mr[$name]=$(median <<<"${rps[$name]}")
    mp[$name]=$(median <<<"${p99[$name]}")
    printf '%-8s %12s %12s\n' "$name" "${mr[$name]}" "${mp[$name]}"
done
awk -v l="${mr[larder]}" -v n="${mr[nginx]}" -v v="${mr[varnish]}" -v lp="${mp[larder]}" -v np="${mp[nginx]}" -v vp="${mp[varnish]}" 'BEGIN {
    printf "throughput: larder/nginx %.2fx, larder/varnish %.2fx\n", l / n, l / v
    printf "p99: larder %.0f us, nginx %.0f us, varnish %.0f us\n", lp, np, vp
}'
