# testlib.sh - sourced by the shell tests: `. "$(dirname "$0")/testlib.sh" NAME`.
# Sets S (shared/), BIN (the faceau CLI) and T (a fresh scratch dir for NAME), and counts
# checks with ok/bad; `finish` prints "N passed, N failed" and sets the exit status.
set -uo pipefail
# All three absolute, so a test may cd anywhere (and runs from any working directory).
S="$(cd "${FACEAU_SHARED:?}" && pwd)" || exit 1
BIN="${FACEAU_BIN:?}"
case "$BIN" in */*) BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")" || exit 1 ;; esac
T="${FACEAU_TMP:-/tmp/faceau-test}/$1"
rm -rf "$T" && mkdir -p "$T" && T="$(cd "$T" && pwd)" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" = 0 ]
}
