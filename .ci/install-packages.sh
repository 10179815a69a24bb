#!/usr/bin/env bash
# Installs the Debian packages named on the command line that provide a missing command:
#
#   .ci/install-packages.sh COMMAND:PACKAGE...      e.g. redis-server:redis-server
#
# Each PACKAGE is installed only when COMMAND is not on PATH (see install_packages in lib.sh).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=.ci/lib.sh
source .ci/lib.sh  # after the cd to the repository root

missing=()
for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    install_packages "${missing[@]}"
else
    say "already installed: ${*%%:*}"
fi
