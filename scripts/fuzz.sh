#!/usr/bin/env bash
# Runs every libFuzzer target (fuzz/fuzz_*.c) for SECONDS each (default 60): builds them with
# clang, ASan and UBSan in build-fuzz/, seeds each corpus from synthetic data
# (scripts/fuzz-seeds.py) plus fuzz/regressions/<target>/, and prints per target the executions,
# coverage and corpus size. A crash, leak, timeout or out-of-memory input is written to
# build-fuzz/artifacts/<target>/ and the script exits 1: keep such inputs, once fixed, in
# fuzz/regressions/<target>/ (ctest replays them on every build).
# Usage: bash scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
build=build-fuzz
CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFACEAU_FUZZ=ON >/dev/null
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for f in fuzz/fuzz_*.c; do t=$(basename "$f" .c); targets+=("${t#fuzz_}"); done
fi
cmake --build "$build" -j"$(nproc)" --target "${targets[@]/#/fuzz_}" >/dev/null
/usr/bin/python3 scripts/fuzz-seeds.py "$build/seeds"
# FUZZ_JOBS targets at once (default: one per core)
jobs=${FUZZ_JOBS:-$(nproc)}
run_one() {
    local t=$1
    corpus=$build/corpus/$t art=$build/artifacts/$t/
    mkdir -p "$corpus" "$art" "$build/seeds/$t"
    log=$build/fuzz_$t.log
    # -rss_limit_mb and -malloc_limit_mb: an input that makes a parser take > 2 GB is a finding;
    # -timeout: one that takes > 10 s
    if TMPDIR=$build "$build/fuzz/fuzz_$t" -max_total_time="$secs" -rss_limit_mb=2048 \
            -malloc_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$art" \
            "$corpus" "$build/seeds/$t" "fuzz/regressions/$t" >"$log" 2>&1; then
        status=ok
    else
        status=FAILED
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1 || true)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2 || true)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2 || true)
    printf '%-10s %s: %s runs in %s s, coverage %s edges, %s features, corpus %s files (log %s)\n' \
        "$t" "$status" "${execs:-?}" "$secs" "${cov:-?}" "${ft:-?}" "$(ls "$corpus" | wc -l)" "$log"
    [ "$status" = ok ] || { grep -m3 -E 'ERROR|SUMMARY|Test unit written' "$log" | sed 's/^/    /'; return 1; }
}
failed=0
running=0
for t in "${targets[@]}"; do
    run_one "$t" > "$build/fuzz_$t.summary" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n || failed=1
        running=$((running - 1))
    fi
done
while [ "$running" -gt 0 ]; do
    wait -n || failed=1
    running=$((running - 1))
done
for t in "${targets[@]}"; do cat "$build/fuzz_$t.summary"; done
exit $failed
