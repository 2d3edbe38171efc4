#!/usr/bin/env bash
# One command from a fresh clone: installs the dependencies, builds faceau, and runs it on a
# sample video with OpenFace's reference landmarks, then scores the result against OpenFace.
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${FACEAU_SHARED:-$(cd .. && pwd)/shared}"
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DFACEAU_SHARED="$shared" >/dev/null
cmake --build build -j"$(nproc)"
name=2015-10-15-15-14
export FACEAU_MODELS="$shared/models"
./build/faceau -f "$shared/data/videos/$name.avi" \
    -landmarks "$shared/reference/fullprec/$name.csv" -out_dir processed
echo "wrote processed/$name.csv; compared with OpenFace's own output:"
/usr/bin/python3 "$shared/tools/compare_csv.py" "$shared/reference/$name.csv" "processed/$name.csv"
