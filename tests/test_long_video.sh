#!/usr/bin/env bash
# Memory does not grow with the video: a 10,000-frame input (the 205-frame 320x240 tony_blair
# clip looped by FFmpeg's CLI with stream copy, made here and deleted after) peaks within a few
# MB of a 2,000-frame one made the same way, and gets its 10,000 CSV rows. What still grows is
# the per-frame AU history the end-of-video post-processing needs (about 0.6 KB a frame at the
# end, when it is post-processed), so the bound is 8,000 frames' worth plus slack.
# Release builds only: under the sanitizers the resident set measures ASan's shadow memory and
# quarantine, not faceau's, and the run would take several minutes there.
. "$(dirname "$0")/testlib.sh" long_video
case "${FACEAU_USER_CFLAGS:-}" in *sanitize*)
    echo "skipped: peak RSS is not faceau's under the sanitizers (the Release build runs it)"
    exit 0 ;;
esac
command -v ffmpeg > /dev/null || { echo "skipped: no ffmpeg CLI"; exit 0; }
export FACEAU_MODELS="$S/models"
clip="$S/data/videos/1815_01_008_tony_blair.avi"
trap 'rm -rf "$T"' EXIT
peak_kb() { # out_dir video: runs faceau, prints its peak RSS in KB
    /usr/bin/python3 -c '
import resource, subprocess, sys
r = subprocess.run(sys.argv[1:])
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss if r.returncode == 0 else -1)' \
        "$BIN" -q -threads 2 -f "$2" -out_dir "$1"
}
declare -A peak
for n in 2000 10000; do
    ffmpeg -v error -y -stream_loop -1 -i "$clip" -frames:v $n -c copy "$T/long$n.avi" && ok || bad "ffmpeg: $n frames"
    peak[$n]=$(peak_kb "$T/o$n" "$T/long$n.avi")
    [ "${peak[$n]}" -gt 0 ] && ok || bad "faceau failed on $n frames"
    rows=$(($(wc -l < "$T/o$n/long$n.csv") - 1))
    [ "$rows" = $n ] && ok || bad "long$n.csv has $rows rows, not $n"
    rm -f "$T/long$n.avi"
done
grow=$(( (peak[10000] - peak[2000]) / 1024 ))
echo "peak RSS: 2,000 frames $((peak[2000] / 1024)) MB, 10,000 frames $((peak[10000] / 1024)) MB"
[ "$grow" -lt 8 ] && ok || bad "peak RSS grew by $grow MB from 2,000 to 10,000 frames (bound 8 MB)"
finish
