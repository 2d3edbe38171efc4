#!/usr/bin/env bash
# `faceau detect` against OpenFace's own MTCNN boxes (../shared/reference/mtcnn_boxes.csv):
# the same number of faces on every item, IoU >= 0.98 and confidence within 1e-3 for every
# box; -vis writes a PNG; bad input fails clearly.
. "$(dirname "$0")/testlib.sh" detect_cli

# every item of the reference, by its path relative to shared/data
args=()
while IFS=, read -r file _; do
    [ "$file" = file ] && continue
    case " ${args[*]-} " in *" $file "*) continue ;; esac
    args+=(-f "$file")
done < "$S/reference/mtcnn_boxes.csv"
(cd "$S/data" && "$BIN" detect -frames 1 -threads 2 -vis "$T/vis.png" "${args[@]}") > "$T/boxes.csv" 2> "$T/err" \
    && ok || { bad "faceau detect failed: $(cat "$T/err")"; }
/usr/bin/python3 - "$S/reference/mtcnn_boxes.csv" "$T/boxes.csv" <<'PY' && ok || bad "boxes differ from OpenFace's"
import csv, sys
def load(p):
    out = {}
    for r in csv.DictReader(open(p)):
        out.setdefault((r["file"], int(r["frame"])), []).append([float(r[k]) for k in ("x", "y", "width", "height", "confidence")])
    return out
ref, got = load(sys.argv[1]), load(sys.argv[2])
def iou(a, b):
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)
bad, worst_iou, worst_conf, n = 0, 1.0, 0.0, 0
for key, boxes in ref.items():
    mine = got.get(key, [])
    if len(mine) != len(boxes):
        print(f"{key}: {len(mine)} faces, OpenFace {len(boxes)}"); bad += 1; continue
    for a in boxes:  # match each reference box to our best-overlapping one
        b = max(mine, key=lambda m: iou(a, m))
        worst_iou, worst_conf, n = min(worst_iou, iou(a, b)), max(worst_conf, abs(a[4] - b[4])), n + 1
extra = set(got) - set(ref)
print(f"{len(ref)} items, {n} boxes: min IoU {worst_iou:.7f}, max confidence difference {worst_conf:.2g}, items without a reference {len(extra)}")
sys.exit(1 if bad or worst_iou < 0.98 or worst_conf > 1e-3 or extra else 0)
PY
head -c 8 "$T/vis.png" | od -An -tx1 | grep -q "89 50 4e 47 0d 0a 1a 0a" && ok || bad "-vis did not write a PNG"

# bad input: not an image, an empty file, an unreadable path, a bad flag value
echo "not a picture" > "$T/text.jpg"
: > "$T/empty.png"
"$BIN" detect -f "$T/text.jpg" > "$T/out" 2> "$T/err"; [ $? = 1 ] && grep -q "text.jpg" "$T/err" && ok || bad "text.jpg: $(cat "$T/err")"
"$BIN" detect -f "$T/empty.png" > "$T/out" 2> "$T/err"; [ $? = 1 ] && grep -q "empty.png" "$T/err" && ok || bad "empty.png: $(cat "$T/err")"
"$BIN" detect -f "$T/none.avi" > "$T/out" 2> "$T/err"; [ $? = 1 ] && grep -q "none.avi" "$T/err" && ok || bad "none.avi: $(cat "$T/err")"
"$BIN" detect -f x.jpg -frames 0 > "$T/out" 2> "$T/err"; [ $? = 2 ] && ok || bad "-frames 0 accepted"
# a 7x5 image is smaller than the 60-px minimum face: no rows, just the header
/usr/bin/python3 -c '
import struct, sys
w, h = 7, 5; row = (w * 3 + 3) & ~3
sys.stdout.buffer.write(b"BM" + struct.pack("<IHHI", 54 + row * h, 0, 0, 54) +
    struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, 0, 0, 0, 0, 0) + bytes(row * h))' > "$T/tiny.bmp"
"$BIN" detect -f "$T/tiny.bmp" > "$T/out" 2> "$T/err"; [ $? = 0 ] && [ "$(wc -l < "$T/out")" = 1 ] && ok || bad "7x5 image: $(cat "$T/out" "$T/err")"
# a path with a comma is quoted, so the CSV still parses
mkdir -p "$T/a,b" && cp "$S/data/images/Obama.jpg" "$T/a,b/x.jpg"
"$BIN" detect -f "$T/a,b/x.jpg" > "$T/out" 2> "$T/err" && /usr/bin/python3 -c '
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
sys.exit(0 if len(rows) == 2 and rows[1][0] == sys.argv[2] and len(rows[1]) == 8 else 1)' "$T/out" "$T/a,b/x.jpg" && ok || bad "comma in path: $(cat "$T/out")"
finish
