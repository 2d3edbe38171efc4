#!/usr/bin/env bash
# Many inputs in one run (faceau_run_batch through the CLI): -flist, -jobs, -resume.
#  - -jobs 2 writes byte-identical CSVs to -jobs 1 (and to a lone run of each input) on two videos,
#    the image sequence and a still image, listed with -flist (comments, blank lines, a directory);
#  - a missing and a damaged input fail with one line each naming them, exit 1, and every other
#    input is still complete;
#  - two inputs with the same output name are refused before anything runs (exit 2);
#  - a -jobs 2 run killed mid-way (SIGKILL) and run again with -resume finishes the rest: every
#    CSV identical to the clean run's, the finished ones reported as skipped, no temporary left.
. "$(dirname "$0")/testlib.sh" batch
export FACEAU_MODELS="$S/models"
V="$S/data/videos"
TB="$V/1815_01_008_tony_blair.avi"
PU="$V/1878_01_002_vladimir_putin.avi"
SEQ="$S/data/images/sequence"
IMG="$S/data/images/24795717_1.jpg"

cat > "$T/list" <<EOF
# a comment, then a blank line

$TB
  $PU
$SEQ
$IMG
EOF
names="1815_01_008_tony_blair 1878_01_002_vladimir_putin sequence 24795717_1"

same_csvs() { # dirA dirB: every name's CSV byte-identical
    local n
    for n in $names; do cmp -s "$1/$n.csv" "$2/$n.csv" || return 1; done
}

"$BIN" -flist "$T/list" -jobs 1 -out_dir "$T/j1" 2> "$T/j1.err"; rc=$?
[ $rc = 0 ] && ok || { bad "-jobs 1 exit $rc"; cat "$T/j1.err"; }
for n in 1815_01_008_tony_blair 1878_01_002_vladimir_putin sequence; do
    grep -qE "^$n: [0-9]+ frames in [0-9.]+ s, ok$" "$T/j1.err" && ok || bad "no outcome line for $n: $(cat "$T/j1.err")"
done
grep -qE "^24795717_1: image, 3 faces in [0-9.]+ s, ok$" "$T/j1.err" && ok || bad "no outcome line for the image: $(cat "$T/j1.err")"
grep -q "^1815_01_008_tony_blair: 205 frames" "$T/j1.err" && ok || bad "frame count in the outcome line"
"$BIN" -q -flist "$T/list" -jobs 2 -out_dir "$T/j2" 2> "$T/j2.err" && [ ! -s "$T/j2.err" ] && ok || bad "-jobs 2 -q: $(cat "$T/j2.err")"
same_csvs "$T/j1" "$T/j2" && ok || bad "-jobs 2 CSVs differ from -jobs 1"
"$BIN" -q -f "$PU" -out_dir "$T/alone" && cmp -s "$T/alone/1878_01_002_vladimir_putin.csv" "$T/j2/1878_01_002_vladimir_putin.csv" \
    && ok || bad "a lone run differs from the batch's CSV"
[ -z "$(ls "$T/j2" | grep -v '\.csv$')" ] && ok || bad "stray files in the output: $(ls "$T/j2")"

# failures do not stop the others
head -c 20000 "$TB" > "$T/broken.avi"
printf '%s\n%s\n%s\n%s\n' "$TB" "$T/missing.avi" "$T/broken.avi" "$PU" > "$T/list2"
"$BIN" -flist "$T/list2" -jobs 2 -out_dir "$T/f" 2> "$T/f.err"; rc=$?
[ $rc = 1 ] && ok || bad "failing inputs: exit $rc (want 1)"
grep -q "missing.avi" "$T/f.err" && ok || bad "the missing input is not named: $(cat "$T/f.err")"
grep -q "broken.avi" "$T/f.err" && ok || bad "the damaged input is not named: $(cat "$T/f.err")"
cmp -s "$T/f/1815_01_008_tony_blair.csv" "$T/j1/1815_01_008_tony_blair.csv" &&
    cmp -s "$T/f/1878_01_002_vladimir_putin.csv" "$T/j1/1878_01_002_vladimir_putin.csv" && ok || bad "good inputs beside failing ones"
grep -iqE "sanitizer|runtime error|segmentation" "$T/f.err" && bad "crash: $(cat "$T/f.err")" || ok

# the same output name twice
mkdir -p "$T/other" && cp "$PU" "$T/other/"
"$BIN" -f "$PU" -f "$T/other/1878_01_002_vladimir_putin.avi" -out_dir "$T/d" 2> "$T/d.err"; rc=$?
[ $rc = 2 ] && grep -q "both write 1878_01_002_vladimir_putin.csv" "$T/d.err" && [ ! -e "$T/d/1878_01_002_vladimir_putin.csv" ] \
    && ok || bad "duplicate names: exit $rc: $(cat "$T/d.err")"
"$BIN" -f "$PU" -jobs 0 2> "$T/u.err"; [ $? = 2 ] && grep -q -- "-jobs" "$T/u.err" && ok || bad "-jobs 0 accepted"
"$BIN" -flist "$T/no_such_list" 2> "$T/u.err"; [ $? = 2 ] && grep -q "no_such_list" "$T/u.err" && ok || bad "missing -flist accepted"

# interrupted, then resumed
for i in 1 2 3; do cp "$TB" "$T/other/tb$i.avi"; done
# the short sequence first: when its CSV appears, the other job is mid-way through tb1
printf '%s\n' "$SEQ" "$T/other/tb1.avi" "$T/other/tb2.avi" "$T/other/tb3.avi" "$PU" > "$T/list3"
"$BIN" -q -flist "$T/list3" -jobs 2 -out_dir "$T/clean" 2> /dev/null && ok || bad "clean run"
"$BIN" -q -flist "$T/list3" -jobs 2 -out_dir "$T/r" 2> /dev/null &
pid=$!
for _ in $(seq 600); do # kill it once the first CSV is in place (at most 60 s)
    [ -n "$(ls "$T/r" 2> /dev/null | grep '\.csv$')" ] && break
    sleep 0.1
done
kill -9 $pid 2> /dev/null
wait $pid 2> /dev/null
done_before=$(ls "$T/r" | grep -c '\.csv$')
[ "$done_before" -ge 1 ] && [ "$done_before" -lt 5 ] && ok || bad "the kill came at the wrong time ($done_before CSVs)"
ls "$T/r" | grep -q '\.tmp$' && ok || bad "the killed run left no temporary (killed too late?)"
"$BIN" -flist "$T/list3" -jobs 2 -resume -out_dir "$T/r" 2> "$T/r.err"; rc=$?
[ $rc = 0 ] && ok || bad "resume exit $rc: $(cat "$T/r.err")"
[ "$(grep -c ': skipped, ' "$T/r.err")" = "$done_before" ] && ok || bad "skipped lines: $(cat "$T/r.err")"
for n in tb1 tb2 tb3 1878_01_002_vladimir_putin sequence; do
    cmp -s "$T/r/$n.csv" "$T/clean/$n.csv" && ok || bad "$n.csv after resume differs from the clean run's"
done
ls "$T/r" | grep -q '\.tmp$' && bad "temporaries left after resume: $(ls "$T/r")" || ok
finish
