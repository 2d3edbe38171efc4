#!/usr/bin/env bash
# ci-arm64.sh [X86_BUILD_DIR] - faceau on aarch64, checked on an x86-64 machine (CI's last step):
#  1. cross-builds for aarch64 (cmake/aarch64-linux-gnu.cmake: Debian's gcc-aarch64-linux-gnu,
#     arm64 -dev packages; scripts/install-deps-arm64.sh installs them) with -Wall -Wextra -Werror;
#  2. runs the unit tests under qemu-aarch64 (ctest; `emulated` below lists them, and says why
#     the others are not run there);
#  3. runs a whole file through both CLIs, the x86-64 build's (X86_BUILD_DIR, default build;
#     built here if absent) and the aarch64 build's under qemu, and compares what they write.
#     The file is a short YouTube-Faces clip (182 frames, 320x240) as uncompressed BGR24
#     (made here with ffmpeg; the same pixels faceau decodes from the original on x86-64):
#     FFmpeg's own MPEG-4 decoding and YUV->BGR conversion are platform code (x86 and arm64
#     SIMD) and give other pixels on arm64, as they do for OpenFace there, so the pixels are
#     fixed first. Asserted byte-identical on x86-64 (AVX2 and FACEAU_NO_AVX2=1) and aarch64:
#     the AU stage alone (-landmarks, OpenFace's landmarks) and the whole pipeline (MTCNN, CLNF
#     tracking, pose, gaze, AUs), CSV and .hog; and aarch64's whole-pipeline CSV is OpenFace's
#     own (reference/fullprec). Pose and gaze take their float asin/atan2 from cv/libm.c
#     (x86-64 glibc's bits everywhere: arm64 glibc's differ in the last bit); test_libm
#     checks those functions under qemu too.
# Needs ../shared beside the repo (or FACEAU_SHARED). ARM_BUILD_DIR (default build-arm64).
set -euo pipefail
cd "$(dirname "$0")/.."
S="${FACEAU_SHARED:-$(cd .. && pwd)/shared}"
[ -d "$S/models" ] || { echo "ci-arm64.sh: $S/models not found (set FACEAU_SHARED)" >&2; exit 1; }
S="$(cd "$S" && pwd)"
x86="${1:-build}"
arm="${ARM_BUILD_DIR:-build-arm64}"
jobs="$(nproc)"
export FACEAU_MODELS="$S/models"
t0=$(date +%s)
stamp() { echo "   ($(( $(date +%s) - t0 )) s)"; }

bash scripts/install-deps-arm64.sh

echo "== aarch64 cross build (Release, -Wall -Wextra -Werror)"
cmake -S . -B "$arm" -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DCMAKE_BUILD_TYPE=Release \
      -DFACEAU_SHARED="$S" >/dev/null
cmake --build "$arm" -j"$jobs"
# ELF e_machine (bytes 18-19) 183 = EM_AARCH64
[ "$(od -An -tu2 -j18 -N2 "$arm/faceau" | tr -d ' ')" = 183 ] ||
    { echo "ci-arm64.sh: $arm/faceau is not an aarch64 binary" >&2; exit 1; }
stamp

# Under emulation: the unit tests below (every one of them passes there). Not run there:
#  - test_install, test_pip_install, test_python: build or load programs for the host (a cross
#    build has no host library to link or dlopen); test_layers, test_get_models: check sources
#    and scripts, nothing compiled; test_simd: x86's AVX2 kernels against the portable ones;
#  - tests that hold a video decoded by FFmpeg to OpenFace's x86-64 numbers (test_align's 150
#    aligned faces, test_api, the end-to-end scripts, ...): on arm64 FFmpeg decodes other pixels;
#    the whole-file check below fixes the pixels instead;
#  - test_batch, test_threads, test_spill: the same videos many times over for -jobs / -threads
#    / memory properties that do not depend on the architecture (x86's three builds run them);
#  - test_clnf_simd, test_clnf_track (and the rest not listed): slow under
#    emulation, or not yet seen passing there (a test added here must pass under qemu).
emulated='^test_(au|au_shared|ccnf|clnf_fit|clnf_image|clnf_load|clnf_pdm|contract|csv|hog|image|landmarker|libm|locale|median|models|openface_bits|pdm|pool|pose|post|skx_gemm|tracker_shared)$'
echo "== aarch64 unit tests under $(qemu-aarch64 --version | head -1)"
ctest --test-dir "$arm" --output-on-failure -j"$jobs" -R "$emulated" --timeout 1800
stamp

echo "== a whole file: aarch64 (qemu) vs x86-64"
if [ ! -x "$x86/faceau" ]; then
    cmake -S . -B "$x86" -DCMAKE_BUILD_TYPE=Release -DFACEAU_SHARED="$S" >/dev/null
    cmake --build "$x86" -j"$jobs" --target faceau_cli
fi
out="$(cd "$arm" && pwd)/e2e"
rm -rf "$out" && mkdir -p "$out"
arm_bin="$(cd "$arm" && pwd)/faceau-emulated" # qemu-aarch64 -L / build-arm64/faceau (tests/CMakeLists.txt)
x86_bin="$(cd "$x86" && pwd)/faceau"
name=1878_01_002_vladimir_putin # 182 frames, 320x240
clip="$out/$name.avi"
ffmpeg -nostdin -v error -i "$S/data/videos/$name.avi" -c:v rawvideo -pix_fmt bgr24 "$clip"
run() { # bin, out dir
    "$1" -q -hogalign -f "$clip" -landmarks "$S/reference/fullprec/$name.csv" -of au_only -out_dir "$2"
    "$1" -q -fullprec -hogalign -f "$clip" -of pipeline -out_dir "$2"
}
run "$x86_bin" "$out/x86-avx2"
FACEAU_NO_AVX2=1 run "$x86_bin" "$out/x86-portable"
run "$arm_bin" "$out/aarch64"
stamp
fail=0 n=0
for f in au_only.csv au_only.hog pipeline.csv pipeline.hog; do
    for other in x86-portable aarch64; do
        if cmp -s "$out/x86-avx2/$f" "$out/$other/$f"; then
            n=$((n + 1))
            echo "identical: $f ($other = x86-avx2, $(wc -c < "$out/x86-avx2/$f") bytes)"
        else
            echo "DIFFERS: $f ($other vs x86-avx2)"; cmp "$out/x86-avx2/$f" "$out/$other/$f" || true
            fail=$((fail + 1))
        fi
    done
done
if cmp -s "$S/reference/fullprec/$name.csv" "$out/aarch64/pipeline.csv"; then
    n=$((n + 1))
    echo "identical: pipeline.csv (aarch64 = OpenFace's reference/fullprec/$name.csv)"
else
    echo "DIFFERS: pipeline.csv (aarch64 vs OpenFace's reference/fullprec/$name.csv)"
    fail=$((fail + 1))
fi
# Where the whole pipeline differs, say where it starts (a wrong bit moves every later frame).
cmp -s "$out/x86-avx2/pipeline.csv" "$out/aarch64/pipeline.csv" ||
/usr/bin/python3 - "$out/x86-avx2/pipeline.csv" "$out/aarch64/pipeline.csv" <<'PY' || true
import csv, sys
a, b = (list(csv.reader(open(p))) for p in sys.argv[1:3])
names = [h.strip() for h in a[0]]
cells = [(i, names[j], abs(float(x) - float(y))) for i, (r, s) in enumerate(zip(a[1:], b[1:]))
         for j, (x, y) in enumerate(zip(r, s)) if x != y]
# AU intensities move in every frame once one frame's do (person-specific medians over the clip)
first = next((c for c in cells if not c[1].startswith("AU")), cells[0] if cells else None)
print("whole pipeline, aarch64 vs x86-64: %d of %d cells differ%s" % (
    len(cells), (len(a) - 1) * len(names),
    "; first outside the AUs in frame %d (%s), largest %.3g (%s)" % (first[0], first[1], max(c[2] for c in cells),
                                                    max(cells, key=lambda c: c[2])[1]) if cells else ""))
PY
echo "aarch64 step: $(( $(date +%s) - t0 )) s"
echo "$n passed, $fail failed"
[ "$fail" = 0 ]
