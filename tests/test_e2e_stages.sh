#!/usr/bin/env bash
# Stage outputs of a whole run (-hogalign -simalign) on 2015-10-15-15-14.avi against OpenFace's
# own: the first 150 .hog records and the 150 aligned faces in ../shared/reference/stages/.
# Here the alignment uses faceau's own decoded frames and its own CalcParams; both must come
# out byte-identical to OpenFace's files.
. "$(dirname "$0")/testlib.sh" stages
name=2015-10-15-15-14
"$BIN" -q -f "$S/data/videos/$name.avi" -landmarks "$S/reference/fullprec/$name.csv" -out_dir "$T" -hogalign -simalign -aus \
    && ok || bad "faceau failed"
# 842 records of 16 + 4*4464 bytes
[ "$(stat -c %s "$T/$name.hog")" = $((842 * 17872)) ] && ok || bad ".hog size $(stat -c %s "$T/$name.hog")"
cmp -n $((150 * 17872)) "$T/$name.hog" "$S/reference/stages/$name.hog" && ok || bad ".hog records 1-150 differ from OpenFace's"
same=0
for i in $(seq -f "%06g" 1 150); do
    cmp -s "$T/${name}_aligned/frame_det_00_$i.bmp" "$S/reference/stages/aligned/frame_det_00_$i.bmp" && same=$((same + 1))
done
echo "aligned faces identical to OpenFace's: $same of 150"
[ "$same" = 150 ] && ok || bad "aligned faces: only $same of 150 identical"
[ "$(ls "$T/${name}_aligned" | wc -l)" = 842 ] && ok || bad "expected 842 aligned faces"
# -aus only: OpenFace's header for that selection
head -1 "$T/$name.csv" | grep -q "^frame, face_id, timestamp, confidence, success, AU01_r" && ok || bad "-aus header: $(head -c 200 "$T/$name.csv")"
finish
