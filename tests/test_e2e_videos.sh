#!/usr/bin/env bash
# End to end on every shared video with a reference, and the image sequence: faceau fed
# OpenFace's 6-decimal landmarks must reproduce OpenFace's AU columns (r >= 0.999, mean abs
# diff <= 0.01, presence agreement >= 99.5%, and every AU cell identical to the character:
# the AU stage's arithmetic is OpenFace's, its CalcParams in OpenBLAS's SkylakeX order), with the tracking columns carried over at OpenFace's decimals; and each still
# image's FaceLandmarkImg CSV byte for byte.
. "$(dirname "$0")/testlib.sh" e2e
OUT="$T"
PY=/usr/bin/python3

check() { # name, input flag, input, reference name
    local name="$1" flag="$2" input="$3"
    if ! "$BIN" "$flag" "$input" -landmarks "$S/reference/fullprec/$name.csv" -out_dir "$OUT" -q; then
        echo "FAIL $name: faceau exited non-zero"; fail=$((fail + 1)); return
    fi
    if $PY "$S/tools/compare_csv.py" "$S/reference/$name.csv" "$OUT/$name.csv" \
          --min-r 0.999 --max-mad 0.01 --min-c-agree 0.995 --min-rows-frac 1 > "$OUT/$name.aus.txt"; then
        pass=$((pass + 1))
    else
        echo "FAIL $name AUs:"; cat "$OUT/$name.aus.txt"; fail=$((fail + 1))
    fi
    # the tracking columns (incl. p_*, which OpenFace's CLNF produces) are the given ones
    if $PY "$S/tools/compare_csv.py" "$S/reference/fullprec/$name.csv" "$OUT/$name.csv" \
          --max-lm-px 0.05 --max-rot-deg 0.05 --max-gaze-deg 0.05 --max-param-frac 0.02 > "$OUT/$name.track.txt"; then
        pass=$((pass + 1))
    else
        echo "FAIL $name tracking columns:"; cat "$OUT/$name.track.txt"; fail=$((fail + 1))
    fi
    # AU columns identical to the character in every cell
    local same total
    read -r same total < <(paste -d'|' <(cut -d, -f 680- "$OUT/$name.csv") <(cut -d, -f 680- "$S/reference/$name.csv") |
        awk -F'|' '{n = split($1, a, ","); split($2, b, ","); for (i = 1; i <= n; i++) { t++; if (a[i] == b[i]) s++ } } END { print s, t }')
    echo "$name: $same of $total AU cells identical to OpenFace's"
    if [ "$total" -gt 0 ] && [ "$same" = "$total" ]; then pass=$((pass + 1)); else echo "FAIL $name: AU cells"; fail=$((fail + 1)); fi
    # the CSV has OpenFace's exact header
    if [ "$(head -1 "$OUT/$name.csv")" = "$(head -1 "$S/reference/$name.csv")" ]; then
        pass=$((pass + 1))
    else
        echo "FAIL $name: header differs from OpenFace's"; fail=$((fail + 1))
    fi
}

for v in "$S"/data/videos/*; do
    name=$(basename "${v%.*}")
    [ -f "$S/reference/$name.csv" ] || continue
    check "$name" -f "$v"
done
check sequence -fdir "$S/data/images/sequence"

# still images, as FaceLandmarkImg: every face, static models; OpenFace's CSV to the byte
for img in "$S"/data/images/*.jpg; do
    name=$(basename "${img%.*}")
    [ -f "$S/reference/images/$name.csv" ] || continue
    if "$BIN" -q -f "$img" -landmarks "$S/reference/images/fullprec/$name.csv" -out_dir "$OUT/images" &&
       $PY "$S/tools/compare_csv.py" "$S/reference/images/$name.csv" "$OUT/images/$name.csv" \
           --max-mad 0.01 --min-c-agree 1 --min-rows-frac 1 > "$OUT/$name.img.txt" &&
       cmp -s "$OUT/images/$name.csv" "$S/reference/images/$name.csv"; then
        pass=$((pass + 1))
    else
        echo "FAIL image $name"; cat "$OUT/$name.img.txt"; fail=$((fail + 1))
    fi
done

finish
