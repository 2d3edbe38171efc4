#!/usr/bin/env bash
# One command from a fresh clone: installs the dependencies, builds faceau, runs the whole
# pipeline (face detection, landmark tracking, pose, gaze, AUs: no OpenFace output used) on a
# sample video, then scores the result against OpenFace's own output.
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${FACEAU_SHARED:-$(cd .. && pwd)/shared}"
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DFACEAU_SHARED="$shared" >/dev/null
cmake --build build -j"$(nproc)"
name=1815_01_008_tony_blair
export FACEAU_MODELS="$shared/models"
./build/faceau -f "$shared/data/videos/$name.avi" -out_dir processed
echo "wrote processed/$name.csv; compared with OpenFace's own output:"
/usr/bin/python3 "$shared/tools/compare_csv.py" "$shared/reference/$name.csv" "processed/$name.csv"
