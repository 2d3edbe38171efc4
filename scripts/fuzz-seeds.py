#!/usr/bin/python3
"""Seed corpora for the fuzz targets, from synthetic data only (never the shared media):
OUT/<target>/ for every fuzz/fuzz_<target>.c. Images come from FFmpeg's test-pattern source
(lavfi testsrc) as JPEG, PNG and BMP; CSVs are written here in OpenFace's layouts with made-up
numbers. Usage: scripts/fuzz-seeds.py OUT"""
import os
import random
import subprocess
import sys

AU_R = [1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 25, 26, 45]
AU_C = [1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 25, 26, 28, 45]


def openface_header(image=False):
    h = ["face", "confidence"] if image else ["frame", "face_id", "timestamp", "confidence", "success"]
    h += [f"gaze_{e}_{a}" for e in (0, 1) for a in "xyz"] + ["gaze_angle_x", "gaze_angle_y"]
    h += [f"eye_lmk_{a}_{i}" for a in "xy" for i in range(56)]
    h += [f"eye_lmk_{a}_{i}" for a in "XYZ" for i in range(56)]
    h += ["pose_Tx", "pose_Ty", "pose_Tz", "pose_Rx", "pose_Ry", "pose_Rz"]
    h += [f"{a}_{i}" for a in "xy" for i in range(68)] + [f"{a}_{i}" for a in "XYZ" for i in range(68)]
    h += ["p_scale", "p_rx", "p_ry", "p_rz", "p_tx", "p_ty"] + [f"p_{i}" for i in range(34)]
    h += [f"AU{a:02d}_r" for a in AU_R] + [f"AU{a:02d}_c" for a in AU_C]
    return h


def csv_text(rows, image=False, sep=", ", bad=None):
    rnd = random.Random(rows)
    h = openface_header(image)
    lines = [sep.join(h)]
    for r in range(rows):
        vals = []
        for name in h:
            if name in ("frame", "face"):
                vals.append(str(r + 1))
            elif name in ("face_id",):
                vals.append("0")
            elif name == "success":
                vals.append(str(r % 3 != 2))
            elif name[:2] in ("x_", "y_"):
                vals.append(f"{rnd.uniform(50, 400):.1f}")
            else:
                vals.append(f"{rnd.uniform(-2, 2):.3f}")
        if bad:
            vals[h.index("x_10")] = bad
        lines.append(sep.join(v if v not in ("True", "False") else str(int(v == "True")) for v in vals))
    return "\n".join(lines) + "\n"


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    for name, text in [("video3", csv_text(3)), ("image1", csv_text(1, image=True)),
                       ("bare_commas", csv_text(2, sep=",")), ("header_only", csv_text(0))]:
        write(f"{out}/csv/{name}.csv", text)
        write(f"{out}/rewrite/{name}.csv", text)
    for ext, extra in [("jpg", []), ("png", []), ("bmp", []), ("jpg", ["-pix_fmt", "gray"])]:
        dest = f"{out}/image/testsrc{'_gray' if extra else ''}.{ext}"
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=48x32:rate=1",
                        "-frames:v", "1", *extra, dest], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
