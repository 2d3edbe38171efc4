#!/usr/bin/env bash
# -mirror through the CLI (issue 17):
# - a face lost for 10 frames (black frames spliced into a clip) gives failed rows in both
#   mirrored CSVs there, and tracked rows around them;
# - state isolation: two inputs in one run (one after another, and -jobs 2) give the same CSVs,
#   byte for byte, as two separate runs (no running median or tracker state carried over);
# - --help documents the flags, the subject's sides and the midline; bad uses are refused with
#   one line; a failed -mirror run leaves no CSV behind.
. "$(dirname "$0")/testlib.sh" mirror_cli
V="$S/data/videos/1815_01_008_tony_blair.avi"
command -v ffmpeg >/dev/null || { bad "ffmpeg (the CLI) is needed to make the clips"; finish; exit; }
ffmpeg -v error -i "$V" -frames:v 70 -vf "drawbox=x=0:y=0:w=iw:h=ih:color=black:t=fill:enable='between(n,30,39)'" \
    -c:v ffv1 "$T/lost.avi" && ffmpeg -v error -i "$V" -frames:v 40 -c:v ffv1 "$T/a.avi" &&
    ffmpeg -v error -i "$S/data/videos/1878_01_002_vladimir_putin.avi" -frames:v 40 -c:v ffv1 "$T/b.avi" &&
    ok || bad "making the clips with ffmpeg"

# (3) the lost face: frames 31..40 (1-based) failed in both files
"$BIN" -q -f "$T/lost.avi" -mirror -out_dir "$T/lost" && ok || bad "-mirror lost.avi"
for side in left right; do
    f="$T/lost/lost_${side}_mirrored.csv"
    [ "$(wc -l < "$f")" = 71 ] && ok || bad "$f: $(wc -l < "$f") lines"
    failed=$(awk -F', ' 'NR > 1 && $5 == 0 { printf "%s ", $1 }' "$f")
    case "$failed" in "31 32 33 34 35 36 37 38 39 40 "*) ok ;; *) bad "$side: failed frames '$failed'" ;; esac
    before=$(awk -F', ' 'NR > 1 && NR <= 31 && $5 == 1' "$f" | wc -l)
    [ "$before" = 30 ] && ok || bad "$side: $before of frames 1-30 tracked"
    after=$(awk -F', ' 'NR > 51 && $5 == 1' "$f" | wc -l)
    [ "$after" -ge 15 ] && ok || bad "$side: only $after of frames 51-70 tracked after the face came back"
    # the failed rows' AUs are OpenFace's zeros (its end-of-video smoothing reaches the edges)
    zeros=$(awk -F', ' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "AU12_r") c = i } NR > 33 && NR <= 39 && $c + 0 == 0' "$f" | wc -l)
    [ "$zeros" = 6 ] && ok || bad "$side: $zeros of lost frames 33-38 have AU12_r 0"
done

# (5) isolation: a, b in one run (-jobs 1 and -jobs 2) = separate runs
"$BIN" -q -f "$T/a.avi" -mirror -out_dir "$T/sep" -threads 1 && "$BIN" -q -f "$T/b.avi" -mirror -out_dir "$T/sep" -threads 2 &&
    ok || bad "separate runs"
"$BIN" -q -f "$T/a.avi" -f "$T/b.avi" -mirror -out_dir "$T/one" && ok || bad "one run"
"$BIN" -q -f "$T/b.avi" -f "$T/a.avi" -mirror -jobs 2 -out_dir "$T/jobs" && ok || bad "-jobs 2"
for n in a b; do
    for side in left right; do
        f="${n}_${side}_mirrored.csv"
        cmp -s "$T/sep/$f" "$T/one/$f" && ok || bad "$f differs between separate runs and one run"
        cmp -s "$T/sep/$f" "$T/jobs/$f" && ok || bad "$f differs between separate runs and -jobs 2"
    done
done
cmp -s "$T/sep/a_left_mirrored.csv" "$T/sep/a_right_mirrored.csv" && bad "left and right identical" || ok
# -mirror_seam changes the pictures, so the numbers
"$BIN" -q -f "$T/a.avi" -mirror -mirror_seam 0 -out_dir "$T/seam0" && ok || bad "-mirror_seam 0"
cmp -s "$T/sep/a_left_mirrored.csv" "$T/seam0/a_left_mirrored.csv" && bad "-mirror_seam 0 changed nothing" || ok
# -hogalign and -simalign write one .hog and one aligned-face directory per side, each the
# plain run's on that side (test_mirror_run compares them with the two-step path's)
"$BIN" -q -f "$T/a.avi" -mirror -hogalign -simalign -out_dir "$T/hog" && ok || bad "-mirror -hogalign -simalign"
for side in left right; do
    cmp -s "$T/sep/a_${side}_mirrored.csv" "$T/hog/a_${side}_mirrored.csv" && ok || bad "$side: -hogalign changed the CSV"
    [ "$(stat -c %s "$T/hog/a_${side}_mirrored.hog")" = $((40 * (16 + 4 * 4464))) ] && ok ||
        bad "$side: .hog is not 40 records"
    [ "$(ls "$T/hog/a_${side}_mirrored_aligned" | wc -l)" -ge 38 ] && ok || bad "$side: aligned faces missing"
done
ls "$T/hog" | grep -q "tmp" && bad "temporary files left: $(ls "$T/hog")" || ok
# scripts/mirror_lr.py: per-AU r between the sides, per input and pooled
lr=$(python3 "$(dirname "$0")/../scripts/mirror_lr.py" "$T/sep") && ok || bad "mirror_lr.py failed"
grep -q "^a .* 40  *40 " <<< "$lr" && grep -q "^all (pooled) .* 80 " <<< "$lr" && grep -q "AU45" <<< "$lr" && ok ||
    bad "mirror_lr.py: $lr"
# -resume skips a finished mirrored input
"$BIN" -f "$T/a.avi" -mirror -resume -out_dir "$T/sep" 2> "$T/resume.err" && grep -q "skipped\|already" "$T/resume.err" &&
    ok || bad "resume: $(cat "$T/resume.err")"

# --help
help=$("$BIN" --help)
for w in "-mirror " "-mirror_seam" "SUBJECT's, not the image's" "glabella" "landmark 8" "landmarks 21 and 22" "5 frames"; do
    grep -qF -- "$w" <<< "$help" && ok || bad "--help lacks '$w'"
done
# refusals: one line each, nothing written
"$BIN" -q -f "$S/data/images/Obama.jpg" -mirror -out_dir "$T/bad" 2> "$T/e1" && bad "a still image accepted" || ok
grep -q "Obama.jpg.*not a still image" "$T/e1" && ok || bad "still image message: $(cat "$T/e1")"
"$BIN" -q -f "$V" -landmarks "$S/reference/1815_01_008_tony_blair.csv" -mirror -out_dir "$T/bad" 2> "$T/e2"
[ $? = 2 ] && grep -q "landmarks" "$T/e2" && ok || bad "-landmarks with -mirror: $(cat "$T/e2")"
"$BIN" -q -f "$V" -mirror -mirror_seam -3 -out_dir "$T/bad" 2> "$T/e3"
[ $? = 2 ] && grep -q "mirror_seam" "$T/e3" && ok || bad "-mirror_seam -3: $(cat "$T/e3")"
# a killed run leaves no mirrored CSV (each is renamed into place only when complete), and a
# file that is not a video fails with one line and writes nothing
# (the 842-frame clip: each side now mirrors only what it reads, and 205 frames took under 2 s)
"$BIN" -q -f "$S/data/videos/2015-10-15-15-14.avi" -mirror -threads 1 -out_dir "$T/killed" & pid=$!
sleep 2
kill -9 $pid && ok || bad "the run to kill ended within 2 s: the test needs a longer input"
wait $pid 2>/dev/null
ls "$T/killed" 2>/dev/null | grep -q "mirrored.csv$" && bad "a killed run left: $(ls "$T/killed")" || ok
echo "not a video" > "$T/junk.avi"
"$BIN" -q -f "$T/junk.avi" -mirror -out_dir "$T/bad2" 2> "$T/e4" && bad "junk accepted" || ok
[ "$(wc -l < "$T/e4")" = 1 ] && grep -q "junk.avi" "$T/e4" && ok || bad "junk message: $(cat "$T/e4")"
[ -z "$(ls -A "$T/bad2" 2>/dev/null)" ] && ok || bad "a failed run left: $(ls "$T/bad2")"
finish
