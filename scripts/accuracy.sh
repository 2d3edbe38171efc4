#!/usr/bin/env bash
# Scores faceau against OpenFace with ../shared/tools/compare_csv.py on every shared video with
# a reference, the image sequence and the still images.
#   scripts/accuracy.sh [OUT_DIR]              the whole pipeline (no -landmarks): faceau's own
#                                              landmarks, pose, gaze, p_* and AUs
#   scripts/accuracy.sh --landmarks [OUT_DIR]  the AU stage alone, fed OpenFace's landmarks
# Whole pipeline, one line per input: landmark error (px, frames both call successful), success
# agreement, mean head-rotation and gaze-angle error (deg), worst p_* error (fraction of the
# column's range) against reference/fullprec/<name>.csv; AU intensity r (min, mean) and presence
# agreement (min) against reference/<name>.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
S="${FACEAU_SHARED:-$(cd .. && pwd)/shared}"
BIN="${FACEAU_BIN:-build/faceau}"
mode=pipeline
if [ "${1:-}" = "--landmarks" ]; then mode=landmarks; shift; fi
OUT="${1:-/tmp/faceau-accuracy}"
export FACEAU_MODELS="${FACEAU_MODELS:-$S/models}"
rm -rf "$OUT" && mkdir -p "$OUT"
PY=/usr/bin/python3

score_aus() { # name ref out (the AU-stage table)
    local j
    j=$($PY "$S/tools/compare_csv.py" --json "$2" "$3")
    local cells
    cells=$(paste -d'|' <(awk -F', ' 'NR==1{for(i=1;i<=NF;i++) if($i ~ /^AU/) c[i]=1; next} {s=""; for(i=1;i<=NF;i++) if(i in c) s=s","$i; print s}' "$2") \
                        <(awk -F', ' 'NR==1{for(i=1;i<=NF;i++) if($i ~ /^AU/) c[i]=1; next} {s=""; for(i=1;i<=NF;i++) if(i in c) s=s","$i; print s}' "$3") |
            awk -F'|' '{n=split($1,a,","); split($2,b,","); for(i=2;i<=n;i++){t++; if(a[i]==b[i]) s++}} END{printf "%d/%d", s, t}')
    $PY -c '
import json, sys
r = json.loads(sys.argv[1])
print("%-32s rows %4d  AU r min %.4f  mad max %.4f  presence min %.4f  identical AU cells %s" % (
    sys.argv[2], r["rows_compared"], r["au_r_min"], r["au_mad_max"], r["au_c_agree_min"], sys.argv[3]))' "$j" "$1" "$cells"
}

score_all() { # name fullprec-ref ref out (the whole-pipeline table)
    local jt ja
    jt=$($PY "$S/tools/compare_csv.py" --json "$2" "$4")
    ja=$($PY "$S/tools/compare_csv.py" --json "$3" "$4")
    $PY -c '
import json, sys
t = json.loads(sys.argv[1]); a = json.loads(sys.argv[2])
def f(d, k, fmt):
    v = d.get(k)
    return fmt % v if isinstance(v, (int, float)) else "-"
print("%-32s %5d %8s %7s %7s %7s %8s %7s %7s %7s" % (sys.argv[3], t.get("rows_compared", 0),
    f(t, "landmark_mean_px", "%.4f"), f(t, "success_agree", "%.4f"), f(t, "pose_rot_mean_deg", "%.3f"),
    f(t, "gaze_angle_mean_deg", "%.3f"), f(t, "param_frac_max", "%.5f"),
    f(a, "au_r_min", "%.4f"), f(a, "au_r_mean", "%.4f"), f(a, "au_c_agree_min", "%.4f")))' "$jt" "$ja" "$1"
}

inputs() { # prints: name flag input fullprec-ref ref
    for v in "$S"/data/videos/*; do
        name=$(basename "${v%.*}")
        [ -f "$S/reference/$name.csv" ] || continue
        echo "$name -f $v $S/reference/fullprec/$name.csv $S/reference/$name.csv"
    done
    echo "sequence -fdir $S/data/images/sequence $S/reference/fullprec/sequence.csv $S/reference/sequence.csv"
    for img in "$S"/data/images/*.jpg; do
        name=$(basename "${img%.*}")
        echo "$name -f $img $S/reference/images/fullprec/$name.csv $S/reference/images/$name.csv"
    done
}

if [ "$mode" = landmarks ]; then
    echo "AU stage alone, fed OpenFace's landmarks (-landmarks reference/fullprec/<name>.csv):"
    inputs | while read -r name flag input fref ref; do
        "$BIN" -q "$flag" "$input" -landmarks "$fref" -out_dir "$OUT"
        score_aus "$name" "$ref" "$OUT/$name.csv"
    done
    exit 0
fi
echo "Whole pipeline, no reference input (faceau's own MTCNN + CLNF + pose + gaze + AUs):"
printf "%-32s %5s %8s %7s %7s %7s %8s %7s %7s %7s\n" input rows lm_px succ rot_deg gaze_deg p_frac \
    AUr_min AUr_mean pres_min
inputs | while read -r name flag input fref ref; do
    "$BIN" -q -fullprec "$flag" "$input" -out_dir "$OUT"
    score_all "$name" "$fref" "$ref" "$OUT/$name.csv"
done
