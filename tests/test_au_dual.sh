#!/usr/bin/env bash
# -au_dual (issue 17): AUxx_r_static after OpenFace's columns.
# - every row of a -au_dual CSV is the plain run's row, byte for byte, followed by 17 static
#   columns (standard columns unchanged, in their positions);
# - those columns equal, to the character, the AUxx_r that an independent -au_static run (the
#   static models with FeatureExtraction's -au_static post-processing) writes for the same input:
#   on a video and the image sequence, with and without -fullprec;
# - -mirror -au_dual: both mirrored CSVs are -mirror's, rows extended by the 17 columns.
. "$(dirname "$0")/testlib.sh" au_dual
command -v ffmpeg >/dev/null || { bad "ffmpeg (the CLI) is needed to make the clip"; finish; exit; }
ffmpeg -v error -i "$S/data/videos/0417_02_003_bill_clinton.avi" -frames:v 60 -c:v ffv1 "$T/clip.avi" && ok || bad "ffmpeg"

# check DUAL PLAIN STATIC: prefix and static columns
check() {
    python3 - "$1" "$2" "$3" <<'PY'
import sys
d, p, s = (open(f).read().splitlines() for f in sys.argv[1:4])
assert len(d) == len(p) == len(s) and len(d) > 1, (len(d), len(p), len(s))
names = [f"AU{n}_r" for n in "01 02 04 05 06 07 09 10 12 14 15 17 20 23 25 26 45".split()]
hd, hs = d[0].split(", "), s[0].split(", ")
assert hd[-17:] == [n + "_static" for n in names], hd[-17:]
for a, b in zip(d, p):
    assert a.startswith(b + ", ") and a.count(", ") == b.count(", ") + 17, "a standard column changed"
cols = [hs.index(n) for n in names]
for i, (a, b) in enumerate(zip(d[1:], s[1:])):
    A, S = a.split(", ")[-17:], b.split(", ")
    assert A == [S[c] for c in cols], f"row {i + 1}: {A} vs {[S[c] for c in cols]}"
print(f"{len(d) - 1} rows ok")
PY
}
for extra in "" "-fullprec"; do
    for in in "-f $T/clip.avi" "-fdir $S/data/images/sequence"; do
        tag=$(echo "$in $extra" | tr -c 'a-z0-9\n' _ | tail -c 40)
        "$BIN" -q $in $extra -au_dual -out_dir "$T/dual$tag" -of x &&
            "$BIN" -q $in $extra -out_dir "$T/plain$tag" -of x &&
            "$BIN" -q $in $extra -au_static -out_dir "$T/static$tag" -of x && ok || bad "runs $in $extra"
        check "$T/dual$tag/x.csv" "$T/plain$tag/x.csv" "$T/static$tag/x.csv" && ok || bad "$in $extra"
    done
done
# the static columns are not a copy of the dynamic ones
python3 - "$T"/dual*clip*/x.csv <<'PY' && ok || bad "static columns equal the dynamic ones"
import sys
rows = [l.split(", ") for l in open(sys.argv[1]).read().splitlines()[1:]]
h = open(sys.argv[1]).readline().strip().split(", ")
dyn = [h.index(n[:-7]) for n in h[-17:]]
assert sum(r[-17 + i] != r[c] for r in rows for i, c in enumerate(dyn)) > 100
PY
# with -mirror: the standard columns are -mirror's
"$BIN" -q -f "$T/clip.avi" -mirror -au_dual -out_dir "$T/md" && "$BIN" -q -f "$T/clip.avi" -mirror -out_dir "$T/mp" &&
    ok || bad "-mirror runs"
for side in left right; do
    f="clip_${side}_mirrored.csv"
    python3 - "$T/md/$f" "$T/mp/$f" <<'PY' && ok || bad "-mirror -au_dual $side: standard columns changed"
import sys
d, p = (open(f).read().splitlines() for f in sys.argv[1:3])
assert len(d) == len(p) > 1 and d[0].endswith("AU45_r_static")
assert all(a.startswith(b + ", ") and a.count(", ") == b.count(", ") + 17 for a, b in zip(d, p))
PY
done
help=$("$BIN" --help)
grep -q -- "-au_dual" <<< "$help" && grep -q "AUxx_r_static" <<< "$help" && ok || bad "--help lacks -au_dual"
finish
