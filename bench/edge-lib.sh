# Shared by bench/edge-*.sh (sourced, not run): the release binary, a temporary directory, the
# processes started here (stopped by PID on exit), installing missing anchors, and waiting for a
# port to listen.

cd "$(dirname "${BASH_SOURCE[0]}")/.."
larder=${LARDER_BIN:-${CARGO_TARGET_DIR:-target}/release/larder}
[[ -x $larder ]] || cargo build --release -p larder-cli

tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

# wait_port PORT — until something listens on 127.0.0.1:PORT (10 s at most).
wait_port() {
    for _ in $(seq 1 200); do
        (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "nothing listens on $1" >&2
    return 1
}

# need COMMAND:PACKAGE ... — installs with apt-get the packages whose command is missing.
need() {
    local missing=() pair
    for pair in "$@"; do
        command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
    done
    if [[ ${#missing[@]} -gt 0 ]]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}
