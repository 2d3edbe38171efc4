"""analyze() and frames() against the CLI's CSV; read_csv against a reference CSV."""
import os

import numpy as np
import pandas as pd
import pytest

import faceau
from conftest import SHARED, VIDEO, IMAGE


def _stem(p):
    return os.path.splitext(os.path.basename(p))[0]


def _csv_text(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n").split(", ") for line in f]


def _same_as_csv(df, path):
    """df holds the CSV's columns in order, integer dtypes where the CSV has integers, and every
    value printed at the CSV's own precision is the CSV's text."""
    rows = _csv_text(path)
    assert list(df.columns) == rows[0]
    assert len(df) == len(rows) - 1
    for c in ("frame", "face_id", "face", "success"):
        if c in df.columns:
            assert df[c].dtype == np.int64, c
    for j, col in enumerate(rows[0]):
        vals = df[col].to_numpy()
        for i in range(len(df)):
            s = rows[i + 1][j]
            d = len(s) - s.index(".") - 1 if "." in s else 0
            got = f"{vals[i]:.{d}f}" if d else str(int(vals[i]))
            assert got == s, f"{path} row {i + 1} {col}: {got} != {s}"


def test_video_equals_cli(cli_out):
    df = faceau.analyze(VIDEO, threads=2, progress=False)
    _same_as_csv(df, cli_out / "all" / (_stem(VIDEO) + ".csv"))
    assert df["success"].sum() > 0 and np.isfinite(df["AU12_r"]).all()


def test_image_equals_cli(cli_out):
    df = faceau.analyze(IMAGE, progress=False)
    path = cli_out / "all" / (_stem(IMAGE) + ".csv")
    _same_as_csv(df, path)
    assert "face" in df.columns and "timestamp" not in df.columns  # FaceLandmarkImg's layout
    pd.testing.assert_frame_equal(df, faceau.read_csv(path))


def test_frames_equal_online_csv(cli_out):
    path = cli_out / "online" / (_stem(VIDEO) + ".csv")
    rows = [f.as_dict() for f in faceau.frames(VIDEO)]
    df = pd.DataFrame(rows)
    _same_as_csv(df.astype({"frame": "int64", "face_id": "int64", "success": "int64"}), path)
    f = next(iter(faceau.frames(VIDEO)))
    assert f.landmarks.shape == (68, 2) and f.landmarks.dtype == np.float32
    assert f.landmarks_3d.shape == (68, 3) and f.eye_landmarks.shape == (56, 2)
    assert set(f.au_intensity) == set(faceau.AU_INTENSITY) and "AU28" in f.au_presence


def test_read_csv_reference():
    ref = os.path.join(SHARED, "reference", "1878_01_002_vladimir_putin.csv")
    df = faceau.read_csv(ref)
    rows = _csv_text(ref)
    assert list(df.columns) == [c.strip() for c in rows[0]]
    assert len(df) == len(rows) - 1
    assert df["frame"].dtype == np.int64 and df["success"].dtype == np.int64
    body = np.array([[float(v) for v in r] for r in rows[1:]])
    assert np.array_equal(df.to_numpy(dtype=float), body)


def test_tracker_and_detector_on_own_frames():
    import ctypes  # noqa: F401
    # the first frame of the video, as a numpy BGR array, from the library's own decoder
    src = faceau._Source(VIDEO)
    fr = next(iter(src))
    img = np.ctypeslib.as_array(fr.bgr, shape=(fr.height, fr.stride))[:, :3 * fr.width]
    img = img.reshape(fr.height, fr.width, 3).copy()
    src.close()
    with faceau.Detector() as det:
        boxes = det.detect(img)
    assert boxes.shape[1] == 5 and len(boxes) >= 1
    with faceau.Tracker() as tr:
        face = tr.track(img)
        first = next(iter(faceau.frames(VIDEO)))
        np.testing.assert_array_equal(face.landmarks, first.landmarks)
        faces = tr.fit_image(img)
        assert len(faces) >= 1 and faces[0].landmarks.shape == (68, 2)
    # a non-contiguous view is accepted (copied), a wrong dtype is refused
    with faceau.Detector() as det:
        assert len(det.detect(img[:, ::-1][:, ::-1])) == len(boxes)
        with pytest.raises(faceau.InvalidArgument):
            det.detect(img.astype(np.float32))
