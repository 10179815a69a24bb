# Shared by bench/server-*.sh (sourced, not run): tool checks, building larder and the client
# examples, starting redis-server / larder serve / memcached on 127.0.0.1 and stopping them by
# PID, reading a server's memory.
#
# Ports: BENCH_PORT (default 16450) for redis-server, +1 for larder, +2 for memcached.

cd "$(dirname "${BASH_SOURCE[0]}")/.."
target="${CARGO_TARGET_DIR:-target}"
larder_bin="$target/release/larder"
examples="$target/release/examples"
base_port="${BENCH_PORT:-16450}"
redis_port=$base_port
larder_port=$((base_port + 1))
memcached_port=$((base_port + 2))

# need TOOL... — every tool must be on PATH; nothing is installed here.
need() {
    local missing=()
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
    done
    if ((${#missing[@]})); then
        echo "missing: ${missing[*]}" >&2
        echo "install them first, e.g. on Debian/Ubuntu:" >&2
        echo "  apt-get install -y redis-server redis-tools   # redis-server, redis-cli, redis-benchmark" >&2
        echo "  apt-get install -y memcached                  # optional, for the memory comparison" >&2
        echo "  apt-get install -y util-linux python3         # taskset, the report" >&2
        exit 1
    fi
}

# build [EXAMPLE...] — the larder binary and the named larder-server examples, release profile.
build() {
    cargo build --release -q -p larder-cli
    local ex=()
    for e in "$@"; do ex+=(--example "$e"); done
    if ((${#ex[@]})); then
        cargo build --release -q -p larder-server "${ex[@]}"
    fi
}

started_pids=()
stop_all() {
    local pid
    for pid in "${started_pids[@]}"; do
        stop "$pid"
    done
    started_pids=()
}
trap stop_all EXIT

# stop PID — SIGTERM, then SIGKILL after 5 s; only processes this script started.
stop() {
    local pid=$1
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# launch CPUS LOG COMMAND... — COMMAND in the background (under taskset when CPUS is not
# empty), output to LOG; sets server_pid to the command's own PID (taskset execs it) and
# remembers it for stop_all.
launch() {
    local cpus=$1 log=$2
    shift 2
    local cmd=("$@")
    [[ -n "$cpus" ]] && cmd=(taskset -c "$cpus" "${cmd[@]}")
    "${cmd[@]}" >"$log" 2>&1 &
    server_pid=$!
    started_pids+=("$server_pid")
}

# pinned CPUS COMMAND... — COMMAND (in the foreground) under taskset when CPUS is not empty.
pinned() {
    local cpus=$1
    shift
    if [[ -n "$cpus" ]]; then
        taskset -c "$cpus" "$@"
    else
        "$@"
    fi
}

# port_free PORT — fails (with a message) when something already listens there.
port_free() {
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
        echo "127.0.0.1:$1 is already in use: stop what listens there or set BENCH_PORT" >&2
        exit 1
    fi
}

# wait_port PORT — until server_pid accepts on 127.0.0.1:PORT (10 s at most).
wait_port() {
    local port=$1
    for _ in $(seq 100); do
        if ! kill -0 "$server_pid" 2>/dev/null; then
            echo "the server on port $port exited at start; see $logs" >&2
            exit 1
        fi
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "nothing listens on 127.0.0.1:$port after 10 s" >&2
    exit 1
}

# start_redis CPUS [ARG...] — sets server_pid. No persistence, loopback only.
start_redis() {
    local cpus=$1
    shift
    port_free "$redis_port"
    launch "$cpus" "$logs/redis-$redis_port.log" redis-server --port "$redis_port" \
        --bind 127.0.0.1 --save '' --appendonly no --daemonize no --logfile '' "$@"
    wait_port "$redis_port"
}

# start_larder CPUS [ARG...] — sets server_pid.
start_larder() {
    local cpus=$1
    shift
    port_free "$larder_port"
    launch "$cpus" "$logs/larder-$larder_port.log" "$larder_bin" serve --port "$larder_port" \
        --bind 127.0.0.1 "$@"
    wait_port "$larder_port"
}

# start_memcached CPUS [ARG...] — sets server_pid.
start_memcached() {
    local cpus=$1
    shift
    port_free "$memcached_port"
    # memcached refuses to run as root unless told which user to be.
    ((EUID == 0)) && set -- -u root "$@"
    launch "$cpus" "$logs/memcached-$memcached_port.log" memcached -l 127.0.0.1 \
        -p "$memcached_port" -U 0 "$@"
    wait_port "$memcached_port"
}

# stop_server PID — stop and forget one started server.
stop_server() {
    local pid=$1 kept=() p
    stop "$pid"
    for p in "${started_pids[@]}"; do
        [[ "$p" == "$pid" ]] || kept+=("$p")
    done
    started_pids=("${kept[@]}")
}

# rss PID — resident set size in bytes.
rss() {
    awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status"
}

# cpu_ticks PID — user + system CPU time the process has used, in clock ticks (getconf CLK_TCK).
cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# used_memory PORT — INFO memory's used_memory, or empty when the server has no INFO.
used_memory() {
    redis-cli -p "$1" info memory 2>/dev/null | tr -d '\r' | awk -F: '$1 == "used_memory" { print $2 }'
}

# machine — one line describing where this ran.
machine() {
    local cpu
    cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
    echo "$(nproc) CPUs ($cpu), load average $(cut -d' ' -f1-3 /proc/loadavg), $(uname -r)," \
        "redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')," \
        "larder $(git rev-parse --short HEAD 2>/dev/null)"
}
