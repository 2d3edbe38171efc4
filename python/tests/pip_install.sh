#!/usr/bin/env bash
# `pip install .` as a user does it offline: a venv over Debian's packages, the C library built
# by setup.py with CMake and carried in the package. Then the installed package, away from the
# source tree and without FACEAU_LIBRARY, loads its own libfaceau.so, analyses a still image to
# the CLI's numbers and plots through its console script.
# Env: FACEAU_SOURCE_DIR, FACEAU_TMP, FACEAU_SHARED, FACEAU_BIN (set by ctest).
set -euo pipefail
src=${FACEAU_SOURCE_DIR:?}
tmp=${FACEAU_TMP:?}/pip_install
image=${FACEAU_SHARED:?}/data/images/24795717_1.jpg
rm -rf "$tmp"
mkdir -p "$tmp/cli"
/usr/bin/python3 -m venv --system-site-packages "$tmp/venv"
FACEAU_BUILD_JOBS=${FACEAU_BUILD_JOBS:-2} "$tmp/venv/bin/pip" install -q --no-build-isolation \
    --no-index --disable-pip-version-check "$src"
"${FACEAU_BIN:?}" -q -f "$image" -out_dir "$tmp/cli"
cd "$tmp"
env -u FACEAU_LIBRARY -u PYTHONPATH "$tmp/venv/bin/python" - "$tmp" "$image" <<'PY'
import os, sys
tmp, image = sys.argv[1], sys.argv[2]
import faceau
venv = os.path.join(tmp, "venv")
assert faceau.__file__.startswith(venv), faceau.__file__
with open("/proc/self/maps") as f:
    libs = {line.split()[-1] for line in f if "libfaceau" in line}
assert libs == {os.path.join(os.path.dirname(faceau.__file__), "libfaceau.so")}, libs
df = faceau.analyze(image, progress=False)
cli = faceau.read_csv(os.path.join(tmp, "cli", "24795717_1.csv"))
assert list(df.columns) == list(cli.columns) and len(df) == len(cli) == 3, (df.shape, cli.shape)
# the CLI prints each column at OpenFace's decimals: compare at those
for c in df.columns:
    a, b = df[c].to_numpy(), cli[c].to_numpy()
    assert (abs(a - b) <= 0.0051).all(), c
print("installed faceau", faceau.__version__ if hasattr(faceau, "__version__") else "", "ok")
PY
"$tmp/venv/bin/faceau-py" plot "$FACEAU_SHARED/reference/1815_01_008_tony_blair.csv" -o "$tmp/aus.png"
test "$(stat -c %s "$tmp/aus.png")" -gt 10000
echo "pip install: ok"
