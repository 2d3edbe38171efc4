#!/usr/bin/env bash
# The re-prediction features (the HOG of the first 3000 successful frames) kept in an unlinked
# scratch file in $TMPDIR instead of memory: the CSVs are the same bytes as with the in-memory
# fallback (TMPDIR unusable), nothing is left in $TMPDIR, peak RSS is lower, and one analyser
# running two videos in a row (a fresh scratch file per video) writes what two lone runs write.
. "$(dirname "$0")/testlib.sh" spill
export FACEAU_MODELS="$S/models"
V1="$S/data/videos/2015-10-15-15-14.avi" L1="$S/reference/fullprec/2015-10-15-15-14.csv"
V2="$S/data/videos/1815_01_008_tony_blair.avi" L2="$S/reference/fullprec/1815_01_008_tony_blair.csv"
mkdir -p "$T/tmp"
rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
spill=$(TMPDIR="$T/tmp" rss "$BIN" -q -threads 1 -f "$V1" -landmarks "$L1" -out_dir "$T/spill")
mem=$(TMPDIR=/nonexistent rss "$BIN" -q -threads 1 -f "$V1" -landmarks "$L1" -out_dir "$T/mem")
cmp -s "$T/spill/2015-10-15-15-14.csv" "$T/mem/2015-10-15-15-14.csv" && ok || bad "scratch file and memory give different CSVs"
[ -z "$(ls -A "$T/tmp")" ] && ok || bad "left in TMPDIR: $(ls -A "$T/tmp")"
echo "peak RSS: $spill KB with the scratch file, $mem KB in memory (842 frames)"
[ "$spill" -gt 0 ] && [ $((mem - spill)) -gt 10000 ] && ok || bad "RSS $spill KB vs $mem KB: the features are still in memory"
/usr/bin/python3 "$S/tools/compare_csv.py" "$S/reference/2015-10-15-15-14.csv" "$T/spill/2015-10-15-15-14.csv" \
    --min-c-agree 0.99 --min-r 0.999 > "$T/cmp" 2>&1 && ok || bad "AUs vs OpenFace: $(tail -3 "$T/cmp")"
TMPDIR="$T/tmp" "$BIN" -q -threads 1 -f "$V1" -landmarks "$L1" -f "$V2" -landmarks "$L2" -out_dir "$T/two" && ok || bad "two videos"
TMPDIR="$T/tmp" "$BIN" -q -threads 1 -f "$V2" -landmarks "$L2" -out_dir "$T/one" && ok || bad "one video"
cmp -s "$T/two/2015-10-15-15-14.csv" "$T/spill/2015-10-15-15-14.csv" && cmp -s "$T/two/1815_01_008_tony_blair.csv" "$T/one/1815_01_008_tony_blair.csv" \
    && ok || bad "the second video of a run differs from its lone run"
[ -z "$(ls -A "$T/tmp")" ] && ok || bad "left in TMPDIR after two videos: $(ls -A "$T/tmp")"
finish
