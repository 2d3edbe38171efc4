#!/usr/bin/env bash
# Phone video as it comes (issue 17): HEVC in a .MOV whose display matrix says "rotate 90", and a
# variable-frame-rate H.264 .mp4, both made here from a shared clip with FFmpeg's CLI.
# - A sideways HEVC clip (the source turned 90 degrees counter-clockwise, lossless) tagged
#   "rotate 90", as a phone stores portrait video, gives the same CSV, byte for byte, as the
#   upright source stored losslessly (FFV1).
# - The VFR clip (40 frames in 2 s, a 0.4 s gap after frame 20: avg_frame_rate 20) gives a row
#   per decoded frame, timestamped frame / avg_frame_rate as OpenFace does (OpenFace 2.0.2's
#   FeatureExtraction, built here from source, printed 0.000 0.050 ... 0.950 1.000 ... 1.950 for
#   this clip: no gap).
. "$(dirname "$0")/testlib.sh" phone_input
V="$S/data/videos/1815_01_008_tony_blair.avi"
command -v ffmpeg >/dev/null || { bad "ffmpeg (the CLI) is needed to make the clips"; finish; exit; }
hevc=(-c:v libx265 -x265-params lossless=1:log-level=error -tag:v hvc1)
ffmpeg -hide_banner -encoders 2>/dev/null | grep -q libx265 || hevc=(-c:v libx264 -qp 0)
ffmpeg -v error -i "$V" -frames:v 40 -vf transpose=2 -pix_fmt yuv420p "${hevc[@]}" "$T/sideways.mov" &&
    ffmpeg -v error -i "$T/sideways.mov" -c copy -metadata:s:v:0 rotate=90 "$T/phone.mov" &&
    ffmpeg -v error -i "$V" -frames:v 40 -c:v ffv1 "$T/upright.mkv" &&
    ffmpeg -v error -i "$V" -frames:v 40 -vf "setpts=N/(25*TB)+gte(N\,20)*0.4/TB" -fps_mode vfr \
        -c:v libx264 -qp 0 "$T/vfr.mp4" && ok || bad "making the clips with ffmpeg"

"$BIN" -q -f "$T/phone.mov" -out_dir "$T/out" -of phone && ok || bad "phone.mov"
"$BIN" -q -f "$T/upright.mkv" -out_dir "$T/out" -of upright && ok || bad "upright.mkv"
[ "$(wc -l < "$T/out/phone.csv")" = 41 ] && ok || bad "phone.csv: $(wc -l < "$T/out/phone.csv") lines"
cmp -s "$T/out/phone.csv" "$T/out/upright.csv" && ok || bad "the rotated HEVC clip's CSV differs from the upright one's"
# the face is upright only once rotated: most frames tracked
tracked=$(awk -F', ' 'NR > 1 && $5 == 1' "$T/out/phone.csv" | wc -l)
[ "$tracked" -ge 35 ] && ok || bad "only $tracked of 40 rotated frames tracked"

"$BIN" -q -f "$T/vfr.mp4" -out_dir "$T/out" -of vfr -pose && ok || bad "vfr.mp4"
want=$(awk 'BEGIN { for (i = 0; i < 40; i++) printf "%.3f\n", i / 20 }')
got=$(awk -F', ' 'NR > 1 { print $3 }' "$T/out/vfr.csv")
[ "$got" = "$want" ] && ok || bad "VFR timestamps: $(echo $got | head -c 200)"
finish
