#!/usr/bin/env bash
# The tracker makes each frame's grey lazily (only the tiles its fit and validator read, and the
# whole frame where MTCNN runs; src/cv/tiles.c, landmarker.c's grey_begin). Its output must be
# what whole grey frames give (FACEAU_GREY_LAZY=0), and no reader may read a pixel it did not
# ask for: FACEAU_GREY_LAZY=poison fills each grey with junk and makes nothing ahead, so a read
# of an unmade pixel changes the output. At -threads 1 (faceau_track) and 2 (the deferred
# validator, the fit's batches on two threads), on:
# - multi_face.avi's frames 530-619 (the validator fails two frames: the failure path remakes
#   that frame's grey whole and runs MTCNN, then the next frame is fitted again);
# - a clip with 10 black frames spliced in (the face is lost, then found again from MTCNN);
# - the portrait clip's first 25 frames (1080x1920, a face a sixth of the frame).
. "$(dirname "$0")/testlib.sh" grey_lazy
command -v ffmpeg >/dev/null || { bad "ffmpeg (the CLI) is needed to make the clips"; finish; exit; }
ffmpeg -v error -i "$S/data/videos/multi_face.avi" \
        -vf "trim=start_frame=530:end_frame=620,setpts=PTS-STARTPTS" -c:v ffv1 "$T/mf.avi" &&
    ffmpeg -v error -i "$S/data/videos/1815_01_008_tony_blair.avi" -frames:v 70 \
        -vf "drawbox=x=0:y=0:w=iw:h=ih:color=black:t=fill:enable='between(n,30,39)'" -c:v ffv1 "$T/lost.avi" &&
    ffmpeg -v error -i "$S/data/videos/portrait_1080x1920.mp4" -frames:v 25 -c:v ffv1 "$T/portrait.avi" &&
    ok || bad "making the clips with ffmpeg"
for run in 0-1 lazy-1 poison-1 lazy-2 poison-2; do
    mode=${run%-*} th=${run#*-}
    FACEAU_GREY_LAZY=$mode "$BIN" -q -f "$T/mf.avi" -f "$T/lost.avi" -f "$T/portrait.avi" \
        -threads $th -out_dir "$T/$run" && ok || bad "FACEAU_GREY_LAZY=$mode -threads $th"
done
for run in lazy-1 poison-1 lazy-2 poison-2; do
    diff -r "$T/0-1" "$T/$run" >/dev/null && ok || bad "FACEAU_GREY_LAZY=${run%-*} at -threads ${run#*-} differs from whole grey frames"
done
# the clips do what they are here for: re-detections (failed rows), and rows found again
for f in mf lost; do
    failed=$(awk -F', ' 'NR > 1 && $5 == 0' "$T/lazy-2/$f.csv" | wc -l)
    [ "$failed" -ge 2 ] && [ "$failed" -le 40 ] && ok || bad "$f.csv: $failed failed rows (the re-detection case is gone)"
done
[ "$(awk -F', ' 'NR > 41 && $5 == 1' "$T/lazy-2/lost.csv" | wc -l)" -ge 20 ] && ok || bad "lost.csv: the face is not found again after the black frames"
finish
