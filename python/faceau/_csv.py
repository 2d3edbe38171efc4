"""OpenFace's CSV (FeatureExtraction's and FaceLandmarkImg's, OpenFace's own or faceau's)."""
import functools

import pandas as pd

# integer columns; everything else is a float
_INT_COLUMNS = ("frame", "face_id", "face", "success")


def read_csv(path):
    """Reads an OpenFace CSV (columns separated by ", ") into a DataFrame: the header's column
    names, integers for frame / face_id / face / success, floats for the rest."""
    df = pd.read_csv(path, sep=",", skipinitialspace=True)
    df.columns = [c.strip() for c in df.columns]
    for c in _INT_COLUMNS:
        if c in df.columns and df[c].dtype != "int64":
            df[c] = df[c].astype("int64")
    return df


@functools.lru_cache(maxsize=None)
def video_columns():
    """FeatureExtraction's columns, in order (every output group)."""
    from . import AU_INTENSITY, AU_PRESENCE
    c = ["frame", "face_id", "timestamp", "confidence", "success"]
    c += [f"gaze_{e}_{a}" for e in (0, 1) for a in "xyz"] + ["gaze_angle_x", "gaze_angle_y"]
    c += [f"eye_lmk_{a}_{i}" for a in "xy" for i in range(56)]
    c += [f"eye_lmk_{a}_{i}" for a in "XYZ" for i in range(56)]
    c += [f"pose_{k}" for k in ("Tx", "Ty", "Tz", "Rx", "Ry", "Rz")]
    c += [f"{a}_{i}" for a in "xy" for i in range(68)]
    c += [f"{a}_{i}" for a in "XYZ" for i in range(68)]
    c += ["p_scale", "p_rx", "p_ry", "p_rz", "p_tx", "p_ty"] + [f"p_{i}" for i in range(34)]
    c += [f"{n}_r" for n in AU_INTENSITY] + [f"{n}_c" for n in AU_PRESENCE]
    return tuple(c)
