#!/usr/bin/env bash
# -threads and -jobs: the same bytes for any thread count and any number of inputs at once.
# Subset (every build): two videos, the image sequence and a still image (all three MTCNN
# faces) with -threads 1 (everything on the calling thread: no decode-ahead thread, FFmpeg and
# the tracker on one thread), 2 and 3, and -jobs 2 -threads 2 (one thread per job).
# All nine shared videos and the sequence (Release builds; about 2 minutes on 2 cores): -threads
# 1 (one input at a time, -jobs 1), 2 and 4, and -jobs 2 -threads 4 (two inputs at once, each
# with its decode-ahead and AU-stage threads); each -threads 1 CSV must also be byte-identical
# to OpenFace's fullprec reference. With FACEAU_NO_AVX2 set (CI's scalar rerun) only the -threads
# 1 pass and its comparison with OpenFace's references run. Under the sanitizers (about ten times slower) only
# the subset runs; the Release and the scalar (FACEAU_NO_AVX2) builds run everything.
# Bad values are refused.
. "$(dirname "$0")/testlib.sh" threads
export FACEAU_MODELS="$S/models"
ins=(-f "$S/data/videos/1815_01_008_tony_blair.avi" -f "$S/data/videos/0217_03_006_alanis_morissette.avi"
     -fdir "$S/data/images/sequence" -f "$S/data/images/24795717_1.jpg")
names="1815_01_008_tony_blair 0217_03_006_alanis_morissette sequence 24795717_1"
for t in 1 2 3; do
    "$BIN" -q "${ins[@]}" -threads $t -hogalign -out_dir "$T/t$t" && ok || bad "-threads $t failed"
done
"$BIN" -q "${ins[@]}" -threads 2 -jobs 2 -hogalign -out_dir "$T/j2" && ok || bad "-jobs 2 -threads 2 failed"
for d in t2 t3 j2; do
    for n in $names; do
        cmp -s "$T/t1/$n.csv" "$T/$d/$n.csv" && ok || bad "$n.csv: $d differs from -threads 1"
    done
    cmp -s "$T/t1/1815_01_008_tony_blair.hog" "$T/$d/1815_01_008_tony_blair.hog" && ok || bad "$d: .hog differs"
done
# and what -threads 1 writes is OpenFace's (the landmark bound of test_pipeline, on one video)
/usr/bin/python3 "$S/tools/compare_csv.py" "$S/reference/fullprec/1815_01_008_tony_blair.csv" \
    "$T/t1/1815_01_008_tony_blair.csv" --max-lm-px 0.2 > "$T/cmp.txt" 2>&1 && ok || bad "accuracy: $(tail -3 "$T/cmp.txt")"
for v in 0 -1 65 x; do
    "$BIN" -f "$S/data/videos/1815_01_008_tony_blair.avi" -threads "$v" -out_dir "$T/bad" 2> "$T/err"
    [ $? = 2 ] && grep -q -- "-threads" "$T/err" && ok || bad "-threads $v accepted"
done

case "${FACEAU_USER_CFLAGS:-}" in *sanitize*)
    echo "all nine videos: skipped under the sanitizers (the Release builds run them)"
    finish; exit ;;
esac
all=(-fdir "$S/data/images/sequence")
for v in "$S"/data/videos/*; do all+=(-f "$v"); done
[ ${#all[@]} = 20 ] && ok || bad "expected nine shared videos and the sequence, got $(( ${#all[@]} / 2 )) inputs"
run_all() { # out_dir flags...
    local out=$1; shift
    "$BIN" -q "${all[@]}" -fullprec "$@" -out_dir "$T/$out" && ok || bad "all inputs, $*: failed"
}
run_all a1 -threads 1
repeats="a2 a4 j2"
case "${FACEAU_NO_AVX2:-}" in ""|0)
    run_all a2 -threads 2
    run_all a4 -threads 4
    run_all j2 -threads 4 -jobs 2 ;;
*)  # the scalar kernels' rerun (CI): their bytes against OpenFace's below; the thread-count
    # repeats do not depend on the kernels and ran in the AVX2 pass
    repeats="" ;;
esac
for d in $repeats; do
    for f in "$T"/a1/*.csv; do
        n=$(basename "$f")
        cmp -s "$f" "$T/$d/$n" && ok || bad "$n: $d differs from -threads 1"
    done
done
[ "$(ls "$T"/a1/*.csv | wc -l)" = 10 ] && ok || bad "expected 10 CSVs with -threads 1, got $(ls "$T"/a1/*.csv | wc -l)"
# ... and every one of them is OpenFace's reference, byte for byte
for f in "$T"/a1/*.csv; do
    cmp -s "$f" "$S/reference/fullprec/$(basename "$f")" && ok || bad "$(basename "$f"): not OpenFace's fullprec reference"
done
rm -rf "$T"/a1 "$T"/a2 "$T"/a4 "$T"/j2
finish
