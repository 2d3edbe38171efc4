#!/usr/bin/env bash
# The AVX2 kernels (HOG, PDM fit, warp, MTCNN's convolutions, CCNF responses) and the portable
# ones they twin give the same bytes: faceau's CSV and .hog on two shared videos (AU stage) and
# the whole pipeline on the image sequence (detection, tracking, AUs), once as the CPU allows
# and once with FACEAU_NO_AVX2=1, must be identical; the pipeline also with FACEAU_NO_AVX512=1
# (AVX2 without the sixteen-lane kernels, where the CPU has them).
. "$(dirname "$0")/testlib.sh" simd
for name in 2015-10-15-15-14 1878_01_002_vladimir_putin; do
    v=$(ls "$S/data/videos/$name".* | head -1)
    for mode in native scalar; do
        if [ $mode = scalar ]; then env=(env FACEAU_NO_AVX2=1); else env=(env -u FACEAU_NO_AVX2); fi
        "${env[@]}" "$BIN" -q -f "$v" -landmarks "$S/reference/fullprec/$name.csv" -hogalign \
            -out_dir "$T/$mode" || bad "$name: faceau failed ($mode)"
    done
    cmp -s "$T/native/$name.csv" "$T/scalar/$name.csv" && ok || bad "$name: CSVs differ between AVX2 and portable kernels"
    cmp -s "$T/native/$name.hog" "$T/scalar/$name.hog" && ok || bad "$name: .hog files differ between AVX2 and portable kernels"
done
for mode in native avx2 scalar; do
    case $mode in
    scalar) env=(env FACEAU_NO_AVX2=1) ;;
    avx2) env=(env -u FACEAU_NO_AVX2 FACEAU_NO_AVX512=1) ;;
    *) env=(env -u FACEAU_NO_AVX2 -u FACEAU_NO_AVX512) ;;
    esac
    "${env[@]}" "$BIN" -q -fdir "$S/data/images/sequence" -out_dir "$T/pipe_$mode" || bad "sequence: faceau failed ($mode)"
done
cmp -s "$T/pipe_native/sequence.csv" "$T/pipe_scalar/sequence.csv" && ok ||
    bad "sequence: whole-pipeline CSVs differ between the CPU's and the portable kernels"
cmp -s "$T/pipe_native/sequence.csv" "$T/pipe_avx2/sequence.csv" && ok ||
    bad "sequence: whole-pipeline CSVs differ between the CPU's (AVX-512) and the AVX2 kernels"
grep -qw avx2 /proc/cpuinfo 2>/dev/null || echo "note: this CPU has no AVX2, both runs used the portable kernels"
finish
