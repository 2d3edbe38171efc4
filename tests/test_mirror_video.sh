#!/usr/bin/env bash
# -mirror_video (issue 17):
# - with -mirror_codec ffv1 the mirrored videos are lossless: a plain faceau run on each gives
#   the -mirror CSV byte for byte (the in-memory path equals the two-step one), on two shared
#   videos;
# - the default is H.264 (libx264) in .mp4 with every frame at the source's rate;
# - without -mirror_video nothing is encoded; a killed run leaves no video nor CSV; the flags
#   need -mirror;
# - -mirror alone (frames made lazily) gives the CSVs -mirror_video's whole frames give.
. "$(dirname "$0")/testlib.sh" mirror_video
for v in 1815_01_008_tony_blair 1878_01_002_vladimir_putin; do
    "$BIN" -q -f "$S/data/videos/$v.avi" -mirror -mirror_video -mirror_codec ffv1 -out_dir "$T/m" && ok || bad "-mirror $v"
    for side in left right; do
        n="${v}_${side}_mirrored"
        [ -f "$T/m/$n.avi" ] && ok || bad "$n.avi missing"
        "$BIN" -q -f "$T/m/$n.avi" -out_dir "$T/p" && ok || bad "plain run on $n.avi"
        cmp -s "$T/m/$n.csv" "$T/p/$n.csv" && ok || bad "$n.csv: -mirror differs from a plain run on its FFV1 video"
    done
done
V="$S/data/videos/1815_01_008_tony_blair.avi"
if ffmpeg -hide_banner -encoders 2>/dev/null | grep -q libx264; then
    "$BIN" -q -f "$V" -mirror -mirror_video -out_dir "$T/h" && ok || bad "-mirror_video (h264)"
    for side in left right; do
        f="$T/h/1815_01_008_tony_blair_${side}_mirrored.mp4"
        info=$(ffprobe -v error -select_streams v:0 -count_frames -show_entries stream=codec_name,r_frame_rate,nb_read_frames,width,height -of csv=p=0 "$f")
        [ "$info" = "h264,320,240,25/1,205" ] && ok || bad "$f: $info"
    done
    cmp -s "$T/h/1815_01_008_tony_blair_left_mirrored.csv" "$T/m/1815_01_008_tony_blair_left_mirrored.csv" &&
        ok || bad "the CSV depends on the video codec"
fi
"$BIN" -q -f "$V" -mirror -out_dir "$T/none" && ok || bad "-mirror"
[ -z "$(ls "$T/none" | grep -v '\.csv$')" ] && ok || bad "without -mirror_video: $(ls "$T/none")"
# without -mirror_video the sides make only the pixels they read (lazily): the same CSVs
for side in left right; do
    n="1815_01_008_tony_blair_${side}_mirrored.csv"
    cmp -s "$T/none/$n" "$T/m/$n" && ok || bad "$n: -mirror differs from -mirror -mirror_video (whole frames)"
done
"$BIN" -q -f "$V" -mirror -mirror_video -threads 1 -out_dir "$T/killed" & pid=$!
sleep 2; kill -9 $pid; wait $pid 2>/dev/null
ls "$T/killed" 2>/dev/null | grep -q "mirrored\.\(mp4\|csv\)$" && bad "a killed run left: $(ls "$T/killed")" || ok
"$BIN" -q -f "$V" -mirror_video -out_dir "$T/bad" 2>/dev/null; [ $? = 2 ] && ok || bad "-mirror_video without -mirror accepted"
"$BIN" -q -f "$V" -mirror -mirror_codec vp9 -out_dir "$T/bad" 2>/dev/null; [ $? = 2 ] && ok || bad "-mirror_codec vp9 accepted"
help=$("$BIN" --help)
grep -q -- "-mirror_video" <<< "$help" && grep -q -- "-mirror_codec" <<< "$help" && ok || bad "--help"
finish
