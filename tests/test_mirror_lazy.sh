#!/usr/bin/env bash
# -mirror makes each side's frame lazily (only the tiles the tracker, validator, MTCNN and AU
# alignment read; src/mirror/lazy.c). Everything it writes must be what the whole-frame path
# writes (FACEAU_MIRROR_LAZY=0), and nothing may read a pixel it did not ask for:
# FACEAU_MIRROR_LAZY=poison fills every frame with junk before the tiles are made, so a read of
# an unmade pixel changes the output. Compared, byte for byte, with -hogalign, -simalign and
# -au_dual, at -threads 1 and 2, on:
# - multi_face.avi's first 150 frames (the right-mirrored face is lost and re-detected there:
#   MTCNN on the whole frame, detection fits with the 11-px windows);
# - a clip with 10 black frames spliced in (both sides lose the face, restart from MTCNN);
# - the portrait clip's first 40 frames (1080x1920: the frame is 510 tiles, a face few of them).
. "$(dirname "$0")/testlib.sh" mirror_lazy
command -v ffmpeg >/dev/null || { bad "ffmpeg (the CLI) is needed to make the clips"; finish; exit; }
ffmpeg -v error -i "$S/data/videos/multi_face.avi" -frames:v 150 -c:v ffv1 "$T/mf.avi" &&
    ffmpeg -v error -i "$S/data/videos/1815_01_008_tony_blair.avi" -frames:v 70 \
        -vf "drawbox=x=0:y=0:w=iw:h=ih:color=black:t=fill:enable='between(n,30,39)'" -c:v ffv1 "$T/lost.avi" &&
    ffmpeg -v error -i "$S/data/videos/portrait_1080x1920.mp4" -frames:v 40 -c:v ffv1 "$T/portrait.avi" &&
    ok || bad "making the clips with ffmpeg"
for th in 1 2; do
    for mode in 0 1 poison; do
        FACEAU_MIRROR_LAZY=$mode "$BIN" -q -f "$T/mf.avi" -f "$T/lost.avi" -f "$T/portrait.avi" -mirror \
            -hogalign -simalign -au_dual -threads $th -out_dir "$T/$mode-$th" && ok || bad "-mirror ($mode, -threads $th)"
    done
    for mode in 1 poison; do
        diff -r "$T/0-$th" "$T/$mode-$th" >/dev/null && ok || bad "FACEAU_MIRROR_LAZY=$mode differs from the whole frames at -threads $th"
    done
done
diff -r "$T/1-1" "$T/1-2" >/dev/null && ok || bad "-threads 1 and 2 differ"
# the clips do what they are here for: failed (re-detected) rows on a side, aligned faces written
f="$T/1-2/mf_right_mirrored.csv"
failed=$(awk -F', ' 'NR > 1 && $5 == 0' "$f" | wc -l)
[ "$failed" -ge 10 ] && [ "$failed" -le 140 ] && ok || bad "$f: $failed failed rows (the re-detection case is gone)"
[ "$(ls "$T/1-2/portrait_left_mirrored_aligned" | wc -l)" -ge 30 ] && ok || bad "too few aligned portrait faces"
finish
