# testlib.sh - sourced by the shell tests: `. "$(dirname "$0")/testlib.sh" NAME`.
# Sets S (shared/), BIN (the faceau CLI) and T (a fresh scratch dir for NAME), and counts
# checks with ok/bad; `finish` prints "N passed, N failed" and sets the exit status.
set -uo pipefail
S="${FACEAU_SHARED:?}"
BIN="${FACEAU_BIN:?}"
T="${FACEAU_TMP:-/tmp/faceau-test}/$1"
rm -rf "$T" && mkdir -p "$T"
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" = 0 ]
}
