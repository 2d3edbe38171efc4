#!/usr/bin/env bash
# Scores faceau against OpenFace on every shared video (and the image sequence and still
# images), landmarks from ../shared/reference/fullprec, with ../shared/tools/compare_csv.py.
# Prints one line per input: min AU r, max AU mean abs diff, min presence agreement, and how
# many AU cells are identical to OpenFace's to the character.
set -euo pipefail
cd "$(dirname "$0")/.."
S="${FACEAU_SHARED:-$(cd .. && pwd)/shared}"
BIN="${FACEAU_BIN:-build/faceau}"
OUT="${1:-/tmp/faceau-accuracy}"
export FACEAU_MODELS="${FACEAU_MODELS:-$S/models}"
rm -rf "$OUT" && mkdir -p "$OUT"

score() { # name ref out
    local j
    j=$(/usr/bin/python3 "$S/tools/compare_csv.py" --json "$2" "$3")
    local cells
    cells=$(paste -d'|' <(awk -F', ' 'NR==1{for(i=1;i<=NF;i++) if($i ~ /^AU/) c[i]=1; next} {s=""; for(i=1;i<=NF;i++) if(i in c) s=s","$i; print s}' "$2") \
                        <(awk -F', ' 'NR==1{for(i=1;i<=NF;i++) if($i ~ /^AU/) c[i]=1; next} {s=""; for(i=1;i<=NF;i++) if(i in c) s=s","$i; print s}' "$3") |
            awk -F'|' '{n=split($1,a,","); split($2,b,","); for(i=2;i<=n;i++){t++; if(a[i]==b[i]) s++}} END{printf "%d/%d", s, t}')
    /usr/bin/python3 -c '
import json, sys
r = json.loads(sys.argv[1])
print("%-32s rows %4d  AU r min %.4f  mad max %.4f  presence min %.4f  identical AU cells %s" % (
    sys.argv[2], r["rows_compared"], r["au_r_min"], r["au_mad_max"], r["au_c_agree_min"], sys.argv[3]))' "$j" "$1" "$cells"
}

for v in "$S"/data/videos/*; do
    name=$(basename "${v%.*}")
    [ -f "$S/reference/$name.csv" ] || continue
    "$BIN" -q -f "$v" -landmarks "$S/reference/fullprec/$name.csv" -out_dir "$OUT"
    score "$name" "$S/reference/$name.csv" "$OUT/$name.csv"
done
"$BIN" -q -fdir "$S/data/images/sequence" -landmarks "$S/reference/fullprec/sequence.csv" -out_dir "$OUT"
score sequence "$S/reference/sequence.csv" "$OUT/sequence.csv"
for img in "$S"/data/images/*.jpg; do
    name=$(basename "${img%.*}")
    "$BIN" -q -f "$img" -landmarks "$S/reference/images/fullprec/$name.csv" -out_dir "$OUT/images"
    score "image $name" "$S/reference/images/$name.csv" "$OUT/images/$name.csv"
done
