#!/usr/bin/env bash
# -au_static on a sequence (FeatureExtraction's static-model mode) against faceau's still-image
# path (FaceLandmarkImg's static predictions, checked byte for byte against OpenFace elsewhere)
# run on each frame alone: the sequence's AUs must be those per-frame values, clamped to [0,5],
# smoothed over 3 frames (intensities) and by 7-frame majority (presences), as OpenFace's
# post-processing does without person calibration.
. "$(dirname "$0")/testlib.sh" au_static
mkdir -p "$T/frames"
L="$S/reference/fullprec/sequence.csv"
"$BIN" -q -au_static -fdir "$S/data/images/sequence" -landmarks "$L" -out_dir "$T" || { echo "0 passed, 1 failed"; exit 1; }
i=0
for img in "$S"/data/images/sequence/*.jpg; do
    i=$((i + 1))
    name=$(basename "${img%.*}")
    { head -1 "$L"; sed -n "$((i + 1))p" "$L"; } > "$T/frames/$name.lm.csv"
    "$BIN" -q -f "$img" -landmarks "$T/frames/$name.lm.csv" -out_dir "$T/frames" || { echo "0 passed, 1 failed"; exit 1; }
done
/usr/bin/python3 - "$T/sequence.csv" "$T/frames" <<'PY'
import csv, glob, os, sys
def rows(p):
    r = list(csv.reader(open(p)))
    head = [h.strip() for h in r[0]]
    return head, [[v.strip() for v in x] for x in r[1:]]
head, seq = rows(sys.argv[1])
frames = [rows(p)[1][0] for p in sorted(glob.glob(os.path.join(sys.argv[2], "*.csv"))) if not p.endswith(".lm.csv")]
fhead = rows(sorted(glob.glob(os.path.join(sys.argv[2], "[0-9]*.csv")))[0])[0]
n = len(seq)
fail = passed = 0
assert len(frames) == n, (len(frames), n)
for col in [h for h in head if h.startswith("AU")]:
    v = [float(f[fhead.index(col)]) for f in frames]
    got = [float(r[head.index(col)]) for r in seq]
    if col.endswith("_r"):
        c = [min(max(x, 0), 5) for x in v]
        want = [c[0]] + [(c[i - 1] + c[i] + c[i + 1]) / 3 for i in range(1, n - 1)] + [c[-1]]
        ok = all(abs(a - b) <= 0.011 for a, b in zip(got, want))
    else:
        want = v[:3] + [1.0 if sum(v[i - 3:i + 4]) / 7 >= 0.5 else 0.0 for i in range(3, n - 3)] + v[n - 3:]
        ok = got == want
    if ok:
        passed += 1
    else:
        fail += 1
        print("FAIL", col, got[:8], want[:8])
print(f"{passed} passed, {fail} failed")
sys.exit(1 if fail else 0)
PY
