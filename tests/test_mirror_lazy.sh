#!/usr/bin/env bash
# -mirror makes each side's frame lazily (only the tiles the tracker, validator, MTCNN and AU
# alignment read; src/mirror/lazy.c). Everything it writes must be what the whole-frame path
# writes (FACEAU_MIRROR_LAZY=0), and nothing may read a pixel it did not ask for:
# FACEAU_MIRROR_LAZY=poison fills every frame with junk before the tiles are made, so a read of
# an unmade pixel changes the output. Compared, byte for byte, with -hogalign, -simalign and
# -au_dual, at -threads 2 (and the lazy path at 1), on:
# - multi_face.avi's first 150 frames (the right-mirrored face is lost and re-detected there:
#   MTCNN on the whole frame, detection fits with the 11-px windows);
# - a clip with 10 black frames spliced in (both sides lose the face, restart from MTCNN);
# - the portrait clip's first 25 frames (1080x1920: 1020 tiles, of which a side reads about 90).
. "$(dirname "$0")/testlib.sh" mirror_lazy
command -v ffmpeg >/dev/null || { bad "ffmpeg (the CLI) is needed to make the clips"; finish; exit; }
ffmpeg -v error -i "$S/data/videos/multi_face.avi" -frames:v 150 -c:v ffv1 "$T/mf.avi" &&
    ffmpeg -v error -i "$S/data/videos/1815_01_008_tony_blair.avi" -frames:v 70 \
        -vf "drawbox=x=0:y=0:w=iw:h=ih:color=black:t=fill:enable='between(n,30,39)'" -c:v ffv1 "$T/lost.avi" &&
    ffmpeg -v error -i "$S/data/videos/portrait_1080x1920.mp4" -frames:v 25 -c:v ffv1 "$T/portrait.avi" &&
    ok || bad "making the clips with ffmpeg"
# (four runs, not six: under ASan this test is among the suite's longest)
for run in 0-2 1-2 poison-2 1-1; do
    mode=${run%-*} th=${run#*-}
    FACEAU_MIRROR_LAZY=$mode "$BIN" -q -f "$T/mf.avi" -f "$T/lost.avi" -f "$T/portrait.avi" -mirror \
        -hogalign -simalign -au_dual -threads $th -out_dir "$T/$run" && ok || bad "-mirror ($mode, -threads $th)"
done
for run in 1-2 poison-2 1-1; do
    diff -r "$T/0-2" "$T/$run" >/dev/null && ok || bad "FACEAU_MIRROR_LAZY=${run%-*} at -threads ${run#*-} differs from the whole frames"
done
# the clips do what they are here for: failed (re-detected) rows on a side, aligned faces written
f="$T/1-2/mf_right_mirrored.csv"
failed=$(awk -F', ' 'NR > 1 && $5 == 0' "$f" | wc -l)
[ "$failed" -ge 10 ] && [ "$failed" -le 140 ] && ok || bad "$f: $failed failed rows (the re-detection case is gone)"
[ "$(ls "$T/1-2/portrait_left_mirrored_aligned" | wc -l)" -ge 20 ] && ok || bad "too few aligned portrait faces"
finish
