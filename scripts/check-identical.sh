#!/usr/bin/env bash
# check-identical.sh [REV] - proves a change leaves every number faceau writes unchanged.
#
# Builds REV and the working tree in temporary build directories (REV defaults to the commit
# before the change: HEAD while the working tree has uncommitted changes, else HEAD~1), runs both CLIs on every shared input and compares what
# they write byte for byte:
#   - the 9 videos with a reference, landmarks from ../shared/reference/fullprec/<name>.csv,
#     with -hogalign (CSV and .hog);
#   - the image sequence (-fdir), dynamic and -au_static;
#   - the 3 still images (FaceLandmarkImg layout);
#   - -online and -simalign (the aligned .bmp faces) on 2015-10-15-15-14;
#   - `faceau detect` boxes on the first frame of every input of mtcnn_boxes.csv, 1 and 2 threads.
# The REV build is cached under $CHECK_CACHE (default /tmp/faceau-check-identical/<commit>).
# Extra cmake arguments for both builds: CHECK_CMAKE_ARGS (e.g. -DFACEAU_NO_AVX2=ON).
# Exit 0 only when every output is identical.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
if [ $# -ge 1 ]; then
    rev="$1"
elif git diff --quiet HEAD -- && [ -z "$(git ls-files --others --exclude-standard)" ]; then
    rev=HEAD~1
else
    rev=HEAD
fi
S="${FACEAU_SHARED:-$(cd .. && pwd)/shared}"
export FACEAU_MODELS="$S/models"
sha=$(git rev-parse --verify "$rev^{commit}")
cache="${CHECK_CACHE:-/tmp/faceau-check-identical}"
work="$cache/run.$$"
jobs="${CHECK_JOBS:-2}"
mkdir -p "$cache" "$work"
trap 'rm -rf "$work"' EXIT

build() { # src dir, build dir
    cmake -S "$1" -B "$2" -DCMAKE_BUILD_TYPE=Release -DFACEAU_SHARED="$S" ${CHECK_CMAKE_ARGS:-} >/dev/null
    cmake --build "$2" -j"$jobs" --target faceau_cli >/dev/null
}

old="$cache/$sha${CHECK_CMAKE_ARGS:+-$(echo "$CHECK_CMAKE_ARGS" | tr -c 'A-Za-z0-9=\n' _)}"
if [ ! -x "$old/build/faceau" ]; then
    echo "building $rev ($sha) in $old"
    rm -rf "$old" && mkdir -p "$old/src"
    git archive "$sha" | tar -x -C "$old/src"
    build "$old/src" "$old/build"
fi
echo "building the working tree"
build "$root" "$work/build-new"

run_all() { # bin, out dir
    local bin="$1" out="$2" v name img
    mkdir -p "$out"
    for v in "$S"/data/videos/*; do
        name=$(basename "${v%.*}")
        [ -f "$S/reference/fullprec/$name.csv" ] || continue
        "$bin" -q -f "$v" -landmarks "$S/reference/fullprec/$name.csv" -hogalign -out_dir "$out" || echo "exit $?" > "$out/$name.exit"
    done
    "$bin" -q -fdir "$S/data/images/sequence" -landmarks "$S/reference/fullprec/sequence.csv" -hogalign -out_dir "$out" || echo "exit $?" > "$out/sequence.exit"
    "$bin" -q -au_static -fdir "$S/data/images/sequence" -landmarks "$S/reference/fullprec/sequence.csv" -of sequence_static -out_dir "$out" || echo "exit $?" > "$out/sequence_static.exit"
    for img in "$S"/data/images/*.jpg; do
        name=$(basename "${img%.*}")
        "$bin" -q -f "$img" -landmarks "$S/reference/images/fullprec/$name.csv" -out_dir "$out/images" || echo "exit $?" > "$out/$name.exit"
    done
    name=2015-10-15-15-14
    "$bin" -q -online -simalign -f "$S/data/videos/$name.avi" -landmarks "$S/reference/fullprec/$name.csv" -of online -out_dir "$out" || echo "exit $?" > "$out/online.exit"
    local args=() file
    while IFS=, read -r file _; do
        [ "$file" = file ] && continue
        case " ${args[*]-} " in *" $file "*) continue ;; esac
        args+=(-f "$file")
    done < "$S/reference/mtcnn_boxes.csv"
    for t in 1 2; do
        (cd "$S/data" && "$bin" detect -frames 1 -threads $t "${args[@]}") > "$out/detect_t$t.csv" 2>&1 || echo "exit $?" >> "$out/detect_t$t.csv"
    done
}

echo "running $rev"
run_all "$old/build/faceau" "$work/old"
echo "running the working tree"
run_all "$work/build-new/faceau" "$work/new"

n=$(cd "$work/old" && find . -type f | wc -l)
if diff -r -q "$work/old" "$work/new"; then
    echo "check-identical: all $n outputs byte-identical to $rev ($sha)"
else
    echo "check-identical: outputs differ from $rev ($sha)"
    exit 1
fi
