#!/usr/bin/python3
"""Seed corpora for the fuzz targets, from synthetic data only (never the shared media):
OUT/<target>/ for every fuzz/fuzz_<target>.c. Images and videos come from FFmpeg's
test-pattern source (lavfi testsrc) as JPEG, PNG and BMP, and as small clips in several
containers and codecs; CSVs are written here in OpenFace's layouts with made-up numbers; model
files are tiny made-up models in OpenFace's formats (a 3-point PDM, one-neuron patch experts,
two-layer networks), several files joined by fuzz.h's FUZZ_FILE_SEP where a target reads a
set. Usage: scripts/fuzz-seeds.py OUT"""
import os
import random
import struct
import subprocess
import sys

SEP = b"\n--faceau-fuzz-file--\n"  # fuzz/fuzz.h FUZZ_FILE_SEP
CV_8U, CV_32S, CV_32F, CV_64F = 0, 4, 5, 6

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


# ---- model files -------------------------------------------------------------------------------

def textmat(rows, cols, typ, vals, comment=None):
    head = f"# {comment}\n" if comment else ""
    body = "\n".join(" ".join(f"{v:g}" for v in vals[r * cols:(r + 1) * cols]) for r in range(rows))
    return head + f"{rows}\n{cols}\n{typ}\n{body}\n"


def pdm_text(n, m):
    """A PDM of n points and m modes: mean shape, principal components, eigenvalues."""
    rnd = random.Random(n * 100 + m)
    mean = [rnd.uniform(-60, 60) for _ in range(3 * n)]
    pc = [rnd.uniform(-1, 1) for _ in range(3 * n * m)]
    eig = [10.0 * (k + 1) for k in range(m)]
    return (textmat(3 * n, 1, CV_64F, mean, "The mean values of the components (in mm)") +
            textmat(3 * n, m, CV_64F, pc, "The principal components (eigenvectors) of identity or combined identity and expression model") +
            textmat(1, m, CV_64F, eig, "The variances of the components (eigenvalues)"))


def tris_text(tris):
    """The AU stage's triangulation (tris_68_full.txt): one bare matrix."""
    return textmat(len(tris), 3, CV_32S, [i for t in tris for i in t])


def binmat(rows, cols, typ, vals):
    fmt = {CV_8U: "B", CV_32S: "i", CV_32F: "f", CV_64F: "d"}[typ]
    return struct.pack("<3i", rows, cols, typ) + struct.pack(f"<{len(vals)}{fmt}", *vals)


def au_dat(code, dim):
    """An AU regressor (FaceAnalyser's .dat): code, [cutoff], means, weights, bias, [pos, neg]."""
    out = struct.pack("<i", code)
    if code == 1:
        out += struct.pack("<d", 0.5)
    out += binmat(1, dim, CV_64F, [0.1 * k for k in range(dim)])
    out += binmat(dim, 1, CV_64F, [0.01 * (k + 1) for k in range(dim)])
    out += struct.pack("<d", 0.25)
    if code in (4, 5):
        out += struct.pack("<2d", 1.0, 0.0)
    return out


def cnn(layers):
    """OpenFace's binary CNN (CNN::Read): layer count, then each layer."""
    out = struct.pack("<i", len(layers))
    for kind, *a in layers:
        if kind == "conv":  # maps in, kernels, kernel side
            nin, nk, k = a
            out += struct.pack("<3i", 0, nin, nk) + struct.pack(f"<{nk}f", *[0.01 * i for i in range(nk)])
            for i in range(nin * nk):
                out += binmat(k, k, CV_32F, [0.1 * ((i + j) % 5 - 2) for j in range(k * k)])
        elif kind == "pool":
            out += struct.pack("<5i", 1, a[0], a[0], a[0], a[0])
        elif kind == "fc":  # inputs, outputs
            nin, nout = a
            out += struct.pack("<i", 2) + binmat(1, nout, CV_32F, [0.0] * nout)
            out += binmat(nin, nout, CV_32F, [0.05 * ((i % 7) - 3) for i in range(nin * nout)])
        elif kind == "prelu":
            out += struct.pack("<i", 3) + binmat(1, a[0], CV_32F, [0.25] * a[0])
        else:
            out += struct.pack("<i", 4)
    return out


def ccnf(n, windows, n_comp=2, support=3):
    """CCNF patch experts (Patch_experts::Read of one scale): one frontal view of n points,
    Sigma components for each window size, one one-neuron expert per point."""
    out = struct.pack("<d", 0.25) + struct.pack("<i", 1)
    out += binmat(3, 1, CV_64F, [0.0, 0.0, 0.0])
    out += binmat(n, 1, CV_32S, [1] * n)
    out += struct.pack("<i", len(windows))
    for ws in windows:
        N = ws * ws
        out += struct.pack("<2i", ws, n_comp)
        for c in range(n_comp):
            out += binmat(N, N, CV_32F, [(1.0 if r == q else (0.5 if abs(r - q) == 1 and c else 0.0))
                                         for r in range(N) for q in range(N)])
    for p in range(n):
        out += struct.pack("<4i", 5, support, support, 1)
        out += struct.pack("<2i", 2, 0) + struct.pack("<3d", 1.0, -0.5, 2.0 + p)
        out += binmat(support, support, CV_32F, [0.1 * ((k + p) % 3 - 1) for k in range(support * support)])
        if windows:
            out += struct.pack(f"<{n_comp}d", *[0.5 + c for c in range(n_comp)])
        out += struct.pack("<d", 0.9)
    return out


def validator():
    """A one-view CNN validator: mean and deviations, conv 1x1, ReLU, FC 4 -> 3, and a 4x1 warp."""
    out = struct.pack("<2i", 3, 1) + binmat(3, 1, CV_64F, [0.0, 0.0, 0.0])
    out += binmat(1, 4, CV_32F, [100.0] * 4) + binmat(1, 4, CV_32F, [20.0] * 4)
    out += struct.pack("<i", 3)
    out += struct.pack("<3i", 0, 1, 1) + struct.pack("<f", 0.1) + binmat(1, 1, CV_32F, [1.5])
    out += struct.pack("<i", 3)
    out += struct.pack("<i", 2) + binmat(1, 3, CV_32F, [0.0, 0.1, 0.2]) + binmat(4, 3, CV_32F, [0.1 * k for k in range(12)])
    out += struct.pack("<i", 4) + struct.pack("<2d", -2.0, -1.0)
    out += binmat(6, 1, CV_64F, [0.0, 3.0, 0.0, -2.0, 0.0, 2.0])
    out += binmat(1, 3, CV_32S, [0, 1, 2]) + binmat(4, 1, CV_32S, [0, 0, 0, 0]) + binmat(4, 1, CV_8U, [1, 1, 1, 1])
    out += binmat(1, 3, CV_64F, [0.5, 0.2, 0.1]) + binmat(1, 3, CV_64F, [0.1, 0.3, 0.2])
    return out


def bundle(*files):
    return SEP.join(f.encode() if isinstance(f, str) else f for f in files)


def model_seeds(out):
    tri68 = [(0, 1, 2), (2, 3, 4), (36, 39, 48), (65, 66, 67)]
    au_main = "AUPredictor list.txt\nPDM pdm.txt\nTriangulation tris.txt\n"
    for code in (0, 1, 4, 5):
        write(f"{out}/au/code{code}", bundle(au_main, "m.dat AU01\n", au_dat(code, 4), pdm_text(68, 1), tris_text(tri68)))
    write(f"{out}/au/two_aus", bundle(au_main, "m.dat AU01\nm.dat AU02\n", au_dat(5, 4), pdm_text(68, 1), tris_text(tri68)))
    write(f"{out}/pdm/small", bundle(pdm_text(3, 2), tris_text([(0, 1, 2)])))
    write(f"{out}/pdm/68", bundle(pdm_text(68, 3), tris_text(tri68)))
    pnet = cnn([("conv", 3, 6, 1), ("prelu", 6), ("fc", 6, 6)])
    rnet = cnn([("conv", 3, 6, 1), ("prelu", 6), ("pool", 24), ("fc", 6, 6), ("sigmoid",)])
    onet = cnn([("conv", 3, 2, 1), ("pool", 16), ("fc", 18, 6), ("prelu", 6), ("fc", 6, 6)])
    write(f"{out}/mtcnn/tiny", bundle("PNet PNet.dat\nRNet RNet.dat\nONet ONet.dat\n", pnet, rnet, onet))
    write(f"{out}/ccnf/one_window", ccnf(3, [3]))
    write(f"{out}/ccnf/no_window", ccnf(3, [], n_comp=0))
    write(f"{out}/validator/tiny", validator())
    main = ("LandmarkDetector clnf.txt\nLandmarkDetector_part part_main.txt inner 0 0 1 1 2 2\n"
            "DetectionValidator validator.dat\n")
    write(f"{out}/clnf/tiny", bundle(main, "PDM pdm.txt\nTriangulations tris.txt\nPatchesCCNF ccnf.dat\n",
                                     pdm_text(3, 2), ccnf(3, [3]), "LandmarkDetector part_clnf.txt\n",
                                     "PDM part_pdm.txt\nPatchesCCNF part_ccnf.dat\n", pdm_text(3, 1),
                                     ccnf(3, [], n_comp=0), validator()))


def video_seeds(out):
    os.makedirs(f"{out}/video", exist_ok=True)
    for name, args in [("mjpeg.avi", ["-c:v", "mjpeg"]), ("mpeg4.avi", ["-c:v", "mpeg4"]),
                       ("h264.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv420p"]),
                       ("wmv2.wmv", ["-c:v", "wmv2"]), ("ffv1.mkv", ["-c:v", "ffv1"]),
                       ("rotated.mp4", ["-c:v", "mpeg4", "-metadata:s:v", "rotate=90"])]:
        r = subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=32x24:rate=5",
                            "-frames:v", "3", *args, f"{out}/video/{name}"])
        if r.returncode != 0:  # an encoder this FFmpeg lacks: that seed is left out
            print(f"fuzz-seeds: no {name} ({' '.join(args)})", file=sys.stderr)


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
    model_seeds(out)
    video_seeds(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
