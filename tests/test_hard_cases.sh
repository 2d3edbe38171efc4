#!/usr/bin/env bash
# Hard cases for the landmark tracker, made at test time from the shared media with ffmpeg
# (lossless FFV1, so every frame decodes to the same pixels as its source frame and OpenFace's
# reference rows of that frame still apply):
#   a  tony_blair cropped to 150x240 so that the face is half outside the frame (frames 1-30),
#      then the crop moves and the whole face is inside (31-60)
#   b  tony_blair scaled down to 64x48 (below MTCNN's 60 px minimum) and to 88x66 (the face is
#      ~28 px wide, under what MTCNN or the validator accept); 20 frames each
#   c  25 frames of tony_blair, 20 black frames, 20 frames of a test pattern (no face), then
#      tony_blair's frames 26-50
#   d  a sudden cut: tony_blair's frames 1-30, then vladimir_putin's frames 1-30 (both 320x240)
# Asserted: no crash and exit 0, one row per frame, OpenFace's failed-frame rows while the face is
# gone (gaze 0; AUs 0 as OpenFace's post-processing leaves them), and success returning no later
# than the frame where DetectLandmarksInVideo's re-detection schedule next runs MTCNN once the face
# is back (the bound is derived from the run's own success column: while uninitialised MTCNN runs
# when (failures+1) % 12 == 0, while initialised after a failed frame when failures % 2 == 0, and
# tracking is uninitialised after more than 100 failures). For a, c and d the landmarks after the
# face returns are compared with OpenFace's reference rows of the same source frame.
# Each clip goes through the CLI: faceau -f CLIP -out_dir DIR.
. "$(dirname "$0")/testlib.sh" hard_cases
PY=/usr/bin/python3 # Debian's python3 (the first one on PATH may be another interpreter)
if ! command -v ffmpeg > /dev/null; then
    echo "ffmpeg is not installed (scripts/install-deps.sh installs it): cannot make the hard cases"
    bad "ffmpeg missing"
    finish
    exit
fi
V="$S/data/videos"
R="$S/reference/fullprec"
TB="$V/1815_01_008_tony_blair.avi"
VP="$V/1878_01_002_vladimir_putin.avi"
ff() { ffmpeg -nostdin -v error -y "$@"; }

# ---- the clips -------------------------------------------------------------------------------
ff -i "$TB" -vf "trim=end_frame=60,crop=w=150:h=240:x='if(lt(n\,30)\,163\,88)':y=0" -c:v ffv1 "$T/a_halfout.avi" &&
ff -i "$TB" -vf "trim=end_frame=20,scale=64:48" -c:v ffv1 "$T/b_64x48.avi" &&
ff -i "$TB" -vf "trim=end_frame=20,scale=88:66" -c:v ffv1 "$T/b_88x66.avi" &&
ff -i "$TB" -f lavfi -i "color=c=black:s=320x240:r=25:d=0.8" -f lavfi -i "testsrc2=s=320x240:r=25:d=0.8" \
   -filter_complex "[0:v]trim=end_frame=25,setpts=PTS-STARTPTS[p1];[0:v]trim=start_frame=25:end_frame=50,setpts=PTS-STARTPTS[p2];[1:v]format=yuv420p[bk];[2:v]format=yuv420p[ts];[p1][bk][ts][p2]concat=n=4:v=1[out]" \
   -map "[out]" -c:v ffv1 "$T/c_gone.avi" &&
ff -i "$TB" -i "$VP" \
   -filter_complex "[0:v]trim=end_frame=30,setpts=PTS-STARTPTS[a];[1:v]trim=end_frame=30,setpts=PTS-STARTPTS[b];[a][b]concat=n=2:v=1[out]" \
   -map "[out]" -c:v ffv1 "$T/d_cut.avi" && ok || bad "ffmpeg could not make the clips"

# run CLIP: faceau -f CLIP -out_dir $T/out; checks exit 0 and no sanitizer report
run() {
    local c="$1" rc
    "$BIN" -f "$T/$c.avi" -out_dir "$T/out" -q > /dev/null 2> "$T/$c.err"
    rc=$?
    if grep -qiE "sanitizer|runtime error|segmentation" "$T/$c.err"; then bad "$c: crash"; cat "$T/$c.err"; return; fi
    [ $rc = 0 ] && ok || { bad "$c: exit $rc"; cat "$T/$c.err"; }
}

cat > "$T/check.py" << 'EOF'
"""check.py CSV FRAMES RETURN [REF FIRST_OUT FIRST_REF DX ...]: one CSV's assertions.
RETURN: 1-based frame from which the face is (back) in full view, 0 if never. Each REF group
compares the output's frames FIRST_OUT.. with the reference's FIRST_REF.. (landmarks + DX)."""
import csv, math, sys

def read(path):
    rows = list(csv.reader(open(path)))
    head = [c.strip() for c in rows[0]]
    return head, [[float(v) for v in r] for r in rows[1:]]

fails = []
def check(cond, msg):
    print(("ok    " if cond else "FAIL  ") + msg)
    if not cond:
        fails.append(msg)

path, frames, ret = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
h, rows = read(path)
col = {c: i for i, c in enumerate(h)}
name = path.rsplit('/', 1)[-1]
check(len(rows) == frames, "%s: %d rows for %d frames" % (name, len(rows), frames))
check([int(r[col['frame']]) for r in rows] == list(range(1, len(rows) + 1)), "%s: frames 1..%d in order" % (name, len(rows)))
succ = [int(r[col['success']]) for r in rows]
print("      success: " + "".join(map(str, succ)))
# (a face never detected still has finite columns: OpenFace's parts start at params_global
# (1, 0, 0, 0, 0, 0) as CLNF::Read sets them, so GetShape's depth fx / scale is finite)
nonfinite = sorted({h[i] for r in rows for i, v in enumerate(r) if not math.isfinite(v)}, key=h.index)
check(not nonfinite, "%s: every value finite%s" % (name, "; not: %s (%d columns)" % (
    ", ".join(nonfinite[:4]), len(nonfinite)) if nonfinite else ""))

# OpenFace's failed rows: gaze 0 (EstimateGaze runs only on success); AU intensities 0 where the
# 3-frame smoothing sees only failed frames; presences 0 where the 7-frame vote has >= 4 failed
gaze = [i for c, i in col.items() if c.startswith('gaze_')]
au_r = [i for c, i in col.items() if c.startswith('AU') and c.endswith('_r')]
au_c = [i for c, i in col.items() if c.startswith('AU') and c.endswith('_c')]
bad_rows = []
for t, r in enumerate(rows):
    if succ[t]:
        continue
    if any(r[i] != 0 for i in gaze):
        bad_rows.append((t + 1, 'gaze'))
    if all(not succ[k] for k in range(max(0, t - 1), min(len(rows), t + 2))) and any(r[i] != 0 for i in au_r):
        bad_rows.append((t + 1, 'AU_r'))
    win = range(max(0, t - 3), min(len(rows), t + 4))
    if sum(1 for k in win if not succ[k]) >= 4 and any(r[i] != 0 for i in au_c):
        bad_rows.append((t + 1, 'AU_c'))
check(not bad_rows, "%s: %d failed rows written as OpenFace's (gaze 0, AUs 0)%s" % (
    name, succ.count(0), "; not: %s" % bad_rows[:5] if bad_rows else ""))

# DetectLandmarksInVideo's state replayed from the success column, then the first frame >= ret at
# which it runs MTCNN again if every frame from ret on failed: success must be back by then
# (MTCNN finds the face in full view and the 11-hypothesis fit is accepted)
def bound(succ, ret):
    init, fails = False, -1
    for t in range(len(succ)):
        s = succ[t] if t + 1 < ret else 0  # from ret on: as if every frame failed
        if t + 1 >= ret:
            if init and (fails + 1) % 2 == 0:
                return t + 1  # tracking fails, failures % 2 == 0: MTCNN
            if not init and (fails + 1) % 12 == 0:
                return t + 1
        if init:
            if s:
                fails = -1  # tracked, or re-detected
                continue
            fails += 1
        else:
            if (fails + 1) % 12 == 0 and s:
                init, fails = True, -1  # MTCNN found a face: the first detection is kept
                continue
            fails += 1
        if fails > 100:
            init = False
    return len(succ) + 1

if ret:
    b = bound(succ, ret)
    back = next((t + 1 for t in range(ret - 1, len(succ)) if succ[t]), None)
    check(back is not None and back <= b,
          "%s: face in view from frame %d, success back at frame %s, schedule bound %d" % (name, ret, back, b))
    check(all(succ[back - 1:]) if back else False, "%s: success stays after frame %s" % (name, back))

# landmarks against OpenFace's reference rows of the same source frames
args = sys.argv[4:]
while args:
    ref, first, rfirst, dx, args = args[0], int(args[1]), int(args[2]), float(args[3]), args[4:]
    hr, rr = read(ref)
    cr = {c: i for i, c in enumerate(hr)}
    errs = []
    for t in range(first - 1, len(rows)):
        a, b = rows[t], rr[rfirst - 1 + t - (first - 1)]
        errs.append(sum(math.hypot(a[col['x_%d' % k]] + dx - b[cr['x_%d' % k]], a[col['y_%d' % k]] - b[cr['y_%d' % k]])
                        for k in range(68)) / 68)
    later = errs[5:]
    print("      mean landmark error vs %s, frames %d..%d: %s" % (ref.rsplit('/', 1)[-1], first, len(rows),
          " ".join("%.3f" % e for e in errs)))
    check(errs[0] < 3, "%s: frame %d within 3 px of OpenFace's (%.3f px)" % (name, first, errs[0]))
    check(max(later) < 1 and sum(later) / len(later) < 0.2,
          "%s: frames %d..%d within 1 px of OpenFace's, mean %.4f px (worst %.4f)" % (
              name, first + 5, len(rows), sum(later) / len(later), max(later)))
sys.exit(1 if fails else 0)
EOF

# check CLIP FRAMES RETURN [REF FIRST_OUT FIRST_REF DX ...]
check() {
    local c="$1"; shift
    if [ ! -f "$T/out/$c.csv" ]; then bad "$c: no CSV"; return; fi
    $PY "$T/check.py" "$T/out/$c.csv" "$@" && ok || bad "$c: see above"
}

run a_halfout && check a_halfout 60 31 "$R/1815_01_008_tony_blair.csv" 31 31 88
for c in b_64x48 b_88x66; do run $c && check $c 20 0; done
# nothing to find at 64x48: every row failed, and the CLI says so
$PY - "$T/out/b_64x48.csv" << 'EOF' && ok || bad "b_64x48: a frame succeeded"
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
i = [c.strip() for c in rows[0]].index('success')
sys.exit(any(float(r[i]) for r in rows[1:]))
EOF
grep -qi "warning: .*no face" "$T/b_64x48.err" && ok || bad "b_64x48: no warning that no face was found"
# 88x66: MTCNN may take the head and shoulders for a face on frame 1 (the first detection is
# always kept: success 1, as OpenFace), but no later frame is accepted
$PY - "$T/out/b_88x66.csv" << 'EOF' && ok || bad "b_88x66: a frame after the first succeeded"
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
i = [c.strip() for c in rows[0]].index('success')
sys.exit(any(float(r[i]) for r in rows[2:]))
EOF
run c_gone && check c_gone 90 66 "$R/1815_01_008_tony_blair.csv" 66 26 0
$PY - "$T/out/c_gone.csv" << 'EOF' && ok || bad "c_gone: black or pattern frames succeeded"
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
i = [c.strip() for c in rows[0]].index('success')
sys.exit(any(float(r[i]) for r in rows[26:65]))
EOF
run d_cut && check d_cut 60 31 "$R/1878_01_002_vladimir_putin.csv" 31 1 0
grep -qi "warning" "$T/a_halfout.err" "$T/c_gone.err" "$T/d_cut.err" && bad "a warning for a clip with a face" || ok
finish
