#!/usr/bin/env bash
# The library's write-behind figure (issue 7): 100 k updates over 1 k keys, write-behind against
# write-through on a file-backed SQLite database in a temporary directory, in one run. Prints
# each round, the medians, the database writes against the coalescing bound and the ratio.
# Results go into docs/library-patterns.md by hand.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec cargo bench -p larder --bench write_behind "$@"
