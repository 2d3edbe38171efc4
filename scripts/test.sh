#!/usr/bin/env bash
# Builds faceau in BUILD_DIR (default: build) and runs every test with ctest.
# FACEAU_SANITIZE=ON builds with AddressSanitizer + UBSan. Needs ../shared beside the repo
# (or FACEAU_SHARED pointing at it).
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
shared="${FACEAU_SHARED:-$(cd .. && pwd)/shared}"
[ -d "$shared/models" ] || { echo "test.sh: $shared/models not found (set FACEAU_SHARED)" >&2; exit 1; }
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DFACEAU_SANITIZE="${FACEAU_SANITIZE:-OFF}" \
      -DFACEAU_SHARED="$shared" >/dev/null
cmake --build "$build" -j"$(nproc)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# FACEAU_CTEST_EXCLUDE: a ctest -E regex of tests to leave out (CI's portable-kernel rerun)
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" ${FACEAU_CTEST_EXCLUDE:+-E "$FACEAU_CTEST_EXCLUDE"}
