#!/usr/bin/env bash
# scripts/get-models.sh --from: installs and verifies; names a missing or differing file.
. "$(dirname "$0")/testlib.sh" get_models
SRC="${FACEAU_SOURCE_DIR:?}"

# into the user data dir, then found there by the lookup
XDG_DATA_HOME="$T/xdg" bash "$SRC/scripts/get-models.sh" --from "$S/models" > "$T/out" 2>&1 && ok || bad "install: $(cat "$T/out")"
[ -f "$T/xdg/faceau/models/AU_predictors/main_dynamic_svms.txt" ] && ok || bad "not installed"
env -u FACEAU_MODELS XDG_DATA_HOME="$T/xdg" "$BIN" -f "$S/data/videos/1878_01_002_vladimir_putin.avi" \
    -landmarks "$S/reference/fullprec/1878_01_002_vladimir_putin.csv" -out_dir "$T/run" -q && ok || bad "lookup via XDG_DATA_HOME"

# a differing file is named, nothing installed
cp -r "$S/models" "$T/bad"
echo "x" >> "$T/bad/AU_predictors/AU_all_best.txt"
bash "$SRC/scripts/get-models.sh" --from "$T/bad" --dest "$T/dest1" > "$T/out" 2>&1
[ $? -ne 0 ] && grep -q "differs: AU_predictors/AU_all_best.txt" "$T/out" && [ ! -e "$T/dest1" ] && ok || bad "differing: $(cat "$T/out")"

# a missing file is named
rm "$T/bad/mtcnn_detector/ONet.dat"
bash "$SRC/scripts/get-models.sh" --from "$T/bad" --dest "$T/dest2" > "$T/out" 2>&1
[ $? -ne 0 ] && grep -q "missing: mtcnn_detector/ONet.dat" "$T/out" && [ ! -e "$T/dest2" ] && ok || bad "missing: $(cat "$T/out")"

finish
