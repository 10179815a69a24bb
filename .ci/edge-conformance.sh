#!/usr/bin/env bash
# The HTTP caching conformance gate: runs the http-cache-tests suite (Mark Nottingham's, through
# ../shared/tools/cache-tests) against the release `larder edge` and fails if any required test
# listed in .ci/cache-tests-baseline no longer passes.
#
#   .ci/edge-conformance.sh [-- PROXY-COMMAND...]
#
# PROXY-COMMAND (default: the release `larder edge`) gets {origin} and {port} replaced by the
# suite's origin URL and the port to listen on; e.g. to see nginx's counts through the same tool,
# write an nginx config and pass its command line.
#
# It installs node and npm from Debian's mirrors if they are missing; the suite's npm package is
# installed once by the tool under ${LARDER_TOOLS_CACHE:-~/.cache/larder-tools}.
#
# Environment:
#   CACHE_TESTS_TOOL         the runner (default ../shared/tools/cache-tests, relative to the repo root)
#   CACHE_TESTS_ORIGIN_PORT  the suite's origin port (default 18100)
#   CACHE_TESTS_PROXY_PORT   the proxy's port (default 18102)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=.ci/lib.sh
source .ci/lib.sh  # after the cd to the repository root

[[ ${1:-} == -- ]] && shift
proxy_cmd=("$@")
tool=${CACHE_TESTS_TOOL:-../shared/tools/cache-tests}
origin_port=${CACHE_TESTS_ORIGIN_PORT:-18100}
proxy_port=${CACHE_TESTS_PROXY_PORT:-18102}
baseline=.ci/cache-tests-baseline

[[ -x $tool ]] || die "the suite runner $tool is missing (the repository's sibling ../shared/tools)"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    install_packages nodejs npm
fi

if [[ ${#proxy_cmd[@]} -eq 0 ]]; then
    binary=${CARGO_TARGET_DIR:-target}/release/larder
    [[ -x $binary ]] || cargo build --release -p larder-cli
    proxy_cmd=("$PWD/$binary" edge --listen "127.0.0.1:{port}" --origin "{origin}")
    [[ $binary == /* ]] && proxy_cmd[0]=$binary
fi

say "running the suite against: ${proxy_cmd[*]}"
results=$(mktemp)
trap 'rm -f "$results"' EXIT
if ! "$tool" --origin-port "$origin_port" --proxy-port "$proxy_port" --baseline "$baseline" \
    --out "$results" -- "${proxy_cmd[@]}"; then
    # The suite's own record of why each listed test did not pass (an assertion's message, or
    # ["Setup", ...] when a precondition such as "no retries" failed), so that a failure seen
    # once in CI can be diagnosed from its log.
    if [[ -s $results ]]; then
        say "why the listed tests that did not pass failed:"
        node -e '
const fs = require("fs")
const results = JSON.parse(fs.readFileSync(process.argv[1], "utf8"))
const listed = fs.readFileSync(process.argv[2], "utf8").split("\n").map(s => s.trim())
  .filter(s => s && !s.startsWith("#"))
for (const id of listed) {
  if (results[id] !== true) console.log(`  ${id}: ${JSON.stringify(results[id])}`)
}' "$results" "$baseline"
    fi
    exit 1
fi
