#!/usr/bin/env bash
# The CLI on bad input: one clear line naming the file and the problem, a non-zero exit, no
# crash, no output file left behind. Also --help, --version and the models lookup.
. "$(dirname "$0")/testlib.sh" cli
V="$S/data/videos/1878_01_002_vladimir_putin.avi"
L="$S/reference/fullprec/1878_01_002_vladimir_putin.csv"

# expect EXIT PATTERN -- command...: exit code and a stderr line matching PATTERN
expect() {
    local code="$1" pat="$2"; shift 3
    "$@" > "$T/stdout" 2> "$T/stderr"
    local got=$?
    if [ "$got" != "$code" ]; then bad "exit $got (want $code): $*"; cat "$T/stderr"; return; fi
    if ! grep -qE -- "$pat" "$T/stderr"; then bad "stderr lacks '$pat': $*"; cat "$T/stderr"; return; fi
    if grep -qiE "sanitizer|runtime error|segmentation" "$T/stderr"; then bad "crash: $*"; return; fi
    ok
}
no_csv() { # no output CSV (or temporary) left in dir
    if ls "$1" 2>/dev/null | grep -q '\.csv'; then bad "output left behind in $1: $(ls "$1")"; else ok; fi
}

"$BIN" --help > "$T/help" && grep -q -- "-landmarks" "$T/help" && grep -q "^Limits:" "$T/help" && ok || bad "--help"
"$BIN" --version | grep -qE "^faceau [0-9]" && ok || bad "--version"
expect 2 "unknown option '-bogus'" -- "$BIN" -bogus
expect 2 "no input" -- "$BIN" -q
expect 2 "all four of -fx -fy -cx -cy" -- "$BIN" -f "$V" -fx 500 -out_dir "$T/ofx"

# no models anywhere: every place tried is named
expect 1 "FACEAU_MODELS.*" -- env -u FACEAU_MODELS HOME="$T/home" XDG_DATA_HOME= "$BIN" -f "$V" -landmarks "$L" -out_dir "$T/o0"
grep -q "user data dir: $T/home/.local/share/faceau/models" "$T/stderr" && grep -q "install prefix" "$T/stderr" && grep -q "get-models.sh" "$T/stderr" && ok || bad "lookup message: $(cat "$T/stderr")"
# -mloc given as OpenFace's main_clnf_general.txt path works
env -u FACEAU_MODELS "$BIN" -mloc "$S/models/main_clnf_general.txt" -f "$V" -landmarks "$L" -out_dir "$T/o1" -q && [ -f "$T/o1/1878_01_002_vladimir_putin.csv" ] && ok || bad "-mloc file"

# the frame-size limit (-max_frame, -max_pixels): a 320x240 video under limits it just fits
# writes the same CSV; one pixel less fails naming the file, its size and the limit
"$BIN" -f "$V" -landmarks "$L" -max_frame 320x240 -max_pixels 76800 -out_dir "$T/omax" -q &&
    cmp -s "$T/o1/1878_01_002_vladimir_putin.csv" "$T/omax/1878_01_002_vladimir_putin.csv" && ok || bad "-max_frame fit"
expect 1 "1878_01_002_vladimir_putin.avi: video frame size 320x240 exceeds the frame-size limit \(319x240, 200000000 pixels\)" -- "$BIN" -f "$V" -landmarks "$L" -max_frame 319x240 -out_dir "$T/omax1"
no_csv "$T/omax1"
expect 1 "320x240 exceeds the frame-size limit \(30000x30000, 76799 pixels\)" -- "$BIN" -f "$V" -landmarks "$L" -max_pixels 76799 -out_dir "$T/omax1"
expect 2 "-max_frame needs WIDTHxHEIGHT" -- "$BIN" -f "$V" -max_frame 300

# a 250-character base name (the longest whose .csv fits a 255-byte file name; the temporary
# files' suffixes once made it "File name too long"): written, the same bytes, and -resume
# skips it the second time
long=$(printf 'n%.0s' $(seq 250))
ln -sf "$V" "$T/$long.avi"
"$BIN" -f "$T/$long.avi" -landmarks "$L" -hogalign -out_dir "$T/olong" -q &&
    cmp -s "$T/o1/1878_01_002_vladimir_putin.csv" "$T/olong/$long.csv" && [ -s "$T/olong/$long.hog" ] &&
    [ "$(ls "$T/olong" | wc -l)" = 2 ] && ok || bad "250-character base name: $(ls "$T/olong" 2>&1)"
: > "$T/olong/${long:0:221}~00000000.csv.99999.tmp" # another long name's temporary: kept
"$BIN" -f "$T/$long.avi" -landmarks "$L" -hogalign -out_dir "$T/olong" -resume > "$T/stdout" 2> "$T/stderr" &&
    grep -q "skipped" "$T/stderr" && [ "$(ls "$T/olong" | wc -l)" = 3 ] && ok || bad "250-character name, -resume: $(cat "$T/stderr")"
expect 2 "-max_pixels needs a positive whole number" -- "$BIN" -f "$V" -max_pixels -5

# truncated and missing model files
mkdir -p "$T/models" && cp -r "$S/models/AU_predictors" "$T/models/"
head -c 30000 "$S/models/AU_predictors/svr_combined/AU_12_static_intensity_comb.dat" > "$T/models/AU_predictors/svr_combined/AU_12_static_intensity_comb.dat"
expect 1 "AU_12_static_intensity_comb.dat: .*truncated" -- "$BIN" -mloc "$T/models" -f "$V" -landmarks "$L" -out_dir "$T/o2"
no_csv "$T/o2"
rm "$T/models/AU_predictors/svr_combined/AU_12_static_intensity_comb.dat"
expect 1 "AU_12_static_intensity_comb.dat.*missing" -- "$BIN" -mloc "$T/models" -f "$V" -landmarks "$L" -out_dir "$T/o2"
head -c 5000 "$S/models/AU_predictors/In-the-wild_aligned_PDM_68.txt" > "$T/models/AU_predictors/In-the-wild_aligned_PDM_68.txt"
cp "$S/models/AU_predictors/svr_combined/AU_12_static_intensity_comb.dat" "$T/models/AU_predictors/svr_combined/"
expect 1 "In-the-wild_aligned_PDM_68.txt" -- "$BIN" -mloc "$T/models" -f "$V" -landmarks "$L" -out_dir "$T/o2"

# landmarks CSV: missing columns, fewer rows than the video
cut -d, -f1-300 "$L" > "$T/cut.csv"
expect 1 "cut.csv.*x_" -- "$BIN" -f "$V" -landmarks "$T/cut.csv" -out_dir "$T/o3"
no_csv "$T/o3"
head -50 "$L" > "$T/short.csv"
expect 1 "short.csv.*frame 50" -- "$BIN" -f "$V" -landmarks "$T/short.csv" -out_dir "$T/o3"
no_csv "$T/o3"

# not a video; a video cut short
echo "hello" > "$T/notavideo.avi"
expect 1 "notavideo.avi" -- "$BIN" -f "$T/notavideo.avi" -landmarks "$L" -out_dir "$T/o4"
no_csv "$T/o4"
expect 1 "nosuchfile.avi" -- "$BIN" -f "$T/nosuchfile.avi" -landmarks "$L" -out_dir "$T/o4"
size=$(stat -c %s "$V")
head -c $((size / 2)) "$V" > "$T/half.avi"
expect 3 "warning: .*half.avi.*frame" -- "$BIN" -f "$T/half.avi" -landmarks "$L" -out_dir "$T/o5"
rows=$(($(wc -l < "$T/o5/half.csv") - 1))
[ "$rows" -gt 20 ] && [ "$rows" -lt 182 ] && ok || bad "truncated video wrote $rows rows"
# the whole pipeline on it: the same rows, and one line on stderr (FFmpeg's own log is silenced)
expect 3 "warning: .*half.avi.*frame" -- "$BIN" -q -f "$T/half.avi" -out_dir "$T/o5b"
[ "$(wc -l < "$T/stderr")" = 1 ] && ok || bad "truncated video: not one line on stderr: $(cat "$T/stderr")"
[ "$(($(wc -l < "$T/o5b/half.csv") - 1))" = "$rows" ] && ok || bad "whole pipeline on the truncated video: rows differ"

# image directories: empty, and a truncated image
mkdir -p "$T/empty"
expect 1 "empty: no .*images" -- "$BIN" -fdir "$T/empty" -landmarks "$S/reference/fullprec/sequence.csv" -out_dir "$T/o6"
mkdir -p "$T/seq" && cp "$S"/data/images/sequence/*.jpg "$T/seq/"
f=$(ls "$T/seq" | sed -n 5p)
head -c 3000 "$S/data/images/sequence/$f" > "$T/seq/$f"
expect 1 "$f" -- "$BIN" -fdir "$T/seq" -landmarks "$S/reference/fullprec/sequence.csv" -out_dir "$T/o6"
no_csv "$T/o6"

# an output directory that cannot be created
touch "$T/afile"
expect 1 "afile" -- "$BIN" -f "$V" -landmarks "$L" -out_dir "$T/afile/sub"

# several inputs, each with its landmarks; -of names the output of a single input
V2="$S/data/videos/1815_01_008_tony_blair.avi"
L2="$S/reference/fullprec/1815_01_008_tony_blair.csv"
"$BIN" -q -f "$V" -landmarks "$L" -f "$V2" -landmarks "$L2" -out_dir "$T/multi" -aus &&
    [ "$(($(wc -l < "$T/multi/1878_01_002_vladimir_putin.csv") - 1))" = 182 ] &&
    [ "$(($(wc -l < "$T/multi/1815_01_008_tony_blair.csv") - 1))" = 205 ] && ok || bad "two inputs"
"$BIN" -q -f "$V" -landmarks "$L" -out_dir "$T/named" -of mine.csv && [ -f "$T/named/mine.csv" ] && ok || bad "-of"
expect 2 "-of names one output" -- "$BIN" -f "$V" -landmarks "$L" -f "$V2" -landmarks "$L2" -of x
expect 2 "2 inputs but 1 -landmarks" -- "$BIN" -f "$V" -f "$V2" -landmarks "$L"

# -online: OpenFace's per-frame values with the live correction, not post-processed: AU _c
# columns keep the writer's 1 decimal, intensities are clipped to [0, 5]
"$BIN" -q -online -f "$V" -landmarks "$L" -out_dir "$T/online" && ok || bad "-online run"
awk -F', ' 'NR == 1 { for (i = 1; i <= NF; i++) { if ($i ~ /^AU.._r$/) r[i] = 1; if ($i ~ /^AU.._c$/) c[i] = 1 }; next }
    { for (i in r) if ($i < 0 || $i > 5 || $i !~ /^[0-9]\.[0-9][0-9]$/) bad++; for (i in c) if ($i != "0.0" && $i != "1.0") bad++ }
    END { exit bad > 0 }' "$T/online/1878_01_002_vladimir_putin.csv" && ok || bad "-online values out of form"
# the offline run differs from the online one (post-processing happened)
"$BIN" -q -f "$V" -landmarks "$L" -out_dir "$T/offline" && ! cmp -s "$T/online/1878_01_002_vladimir_putin.csv" "$T/offline/1878_01_002_vladimir_putin.csv" && ok || bad "online equals offline"
# the same input twice gives the same bytes
"$BIN" -q -f "$V" -landmarks "$L" -out_dir "$T/offline2" && cmp -s "$T/offline/1878_01_002_vladimir_putin.csv" "$T/offline2/1878_01_002_vladimir_putin.csv" && ok || bad "not deterministic"

finish
