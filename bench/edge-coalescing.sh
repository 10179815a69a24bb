#!/usr/bin/env bash
# Request coalescing: 100 concurrent requests for one uncached URL, origin answering after 1 s.
# Reports, for `larder edge`, nginx (proxy_cache_lock on) and Varnish in the same run, how many
# requests reached the origin and the slowest client's time.
#
#   bench/edge-coalescing.sh [CLIENTS]
#
# Installs nginx and varnish with apt-get if missing. Ports 18120-18123.
set -euo pipefail
clients=${1:-100}
# shellcheck source=bench/edge-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/edge-lib.sh"
need nginx:nginx varnishd:varnish

# The origin: answers every request after 1 s with max-age=60; /count/<path> tells how many
# requests <path> received.
cat >"$tmp/origin.py" <<'PY'
import http.server, socketserver, threading, time, collections
counts = collections.Counter()
lock = threading.Lock()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        if self.path.startswith("/count/"):
            with lock: body = str(counts[self.path[6:]]).encode()
        else:
            with lock: counts[self.path] += 1
            time.sleep(1.0)
            body = b"x" * 1024
        self.send_response(200)
        self.send_header("Cache-Control", "max-age=60")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 1024
S(("127.0.0.1", 18120), H).serve_forever()
PY
python3 "$tmp/origin.py" &
pids+=($!)

"$larder" edge --listen 127.0.0.1:18121 --origin http://127.0.0.1:18120 2>"$tmp/larder.log" &
pids+=($!)

mkdir -p "$tmp/nginx/cache"
cat >"$tmp/nginx/nginx.conf" <<CONF
user root;
worker_processes 1;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    proxy_cache_path $tmp/nginx/cache keys_zone=edge:10m;
    server {
        listen 127.0.0.1:18122;
        location / {
            proxy_pass http://127.0.0.1:18120;
            proxy_cache edge;
            proxy_cache_lock on;
        }
    }
}
CONF
nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -g 'daemon off;' &
pids+=($!)
varnishd -F -a 127.0.0.1:18123 -b 127.0.0.1:18120 -n "$tmp/varnish" -s malloc,64m >"$tmp/varnish.log" 2>&1 &
pids+=($!)
for port in 18120 18121 18122 18123; do wait_port "$port"; done

cat >"$tmp/burst.py" <<'PY'
import sys, threading, time, http.client
port, path, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
times, statuses = [], []
barrier = threading.Barrier(n)
lock = threading.Lock()
def one():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.connect()
    barrier.wait()
    t = time.monotonic()
    c.request("GET", path)
    r = c.getresponse(); r.read()
    with lock:
        times.append(time.monotonic() - t); statuses.append(r.status)
ts = [threading.Thread(target=one) for _ in range(n)]
[t.start() for t in ts]; [t.join() for t in ts]
c = http.client.HTTPConnection("127.0.0.1", 18120); c.request("GET", "/count" + path)
origin = c.getresponse().read().decode()
ok = sum(1 for s in statuses if s == 200)
print(f"{origin} {max(times):.3f} {sorted(times)[len(times)//2]:.3f} {ok}")
PY

printf '%-8s %16s %14s %14s %8s\n' proxy origin-requests slowest-s median-s ok
for name in larder nginx varnish; do
    case $name in larder) port=18121 ;; nginx) port=18122 ;; varnish) port=18123 ;; esac
    read -r origin slowest median ok < <(python3 "$tmp/burst.py" "$port" "/coalesce-$name" "$clients")
    printf '%-8s %16s %14s %14s %8s\n' "$name" "$origin" "$slowest" "$median" "$ok/$clients"
done
