"""faceau: OpenFace 2.2's landmarks, head pose, gaze and Action Units from Python.

A binding (ctypes) over libfaceau.so, the C library the `faceau` command-line tool is built on;
the numbers are the CLI's, bit for bit.

    import faceau
    df = faceau.analyze("video.avi")            # OpenFace's CSV as a pandas DataFrame
    faceau.plot_aus(df, ["AU12"])               # AU12 over time
    for f in faceau.frames("live.mp4"): ...     # frame by frame, constant memory (online AUs)
    faceau.analyze_many(paths, "out/", client=dask_client)   # many files, one task per file

Models are found as the CLI finds them (model_dir= is -mloc; then $FACEAU_MODELS,
~/.local/share/faceau/models, <prefix>/share/faceau/models). $FACEAU_LIBRARY names the
libfaceau.so to load (a build tree's, say) instead of the installed one.
"""
import ctypes
import os
import sys
import tempfile
import threading
import warnings
import weakref

import numpy as np

from . import _lib
from ._lib import lib
from ._errors import (Error, InvalidArgument, OutOfMemory, FileError, ModelNotFound, ModelCorrupt,
                      VideoError, ImageError, CSVError, NoInput, Truncated, StateError, NoFace,
                      InputFailed, check, error_for)
from ._csv import read_csv, video_columns
from ._plot import plot_aus

__all__ = [
    "analyze", "analyze_many", "frames", "read_csv", "plot_aus", "Detector", "Tracker",
    "Landmarker", "AUAnalyser", "Face", "FrameResult", "version", "library_path", "models_dir",
    "AU_INTENSITY", "AU_PRESENCE", "Error", "InvalidArgument", "OutOfMemory", "FileError",
    "ModelNotFound", "ModelCorrupt", "VideoError", "ImageError", "CSVError", "NoInput",
    "Truncated", "StateError", "NoFace", "InputFailed",
]

__version__ = _lib.text(lib.faceau_version())
library_path = _lib.path

#: AU names in the order of the C arrays: AU01 .. AU45 (intensities), AU01 .. AU45 + AU28 sorted
AU_INTENSITY = tuple(_lib.text(lib.faceau_au_intensity_name(i)) for i in range(_lib.N_AU_INTENSITY))
AU_PRESENCE = tuple(_lib.text(lib.faceau_au_presence_name(i)) for i in range(_lib.N_AU_PRESENCE))


def version():
    """The library's version string (faceau_version())."""
    return __version__


def _enc(s):
    return None if s is None else os.fsencode(s)


def models_dir(model_dir=None):
    """The model directory the library would use (faceau_models_locate); ModelNotFound names
    every place tried."""
    out, err = ctypes.create_string_buffer(4096), _lib.errbuf()
    check(lib.faceau_models_locate(_enc(model_dir), out, len(out), err, len(err)),
          lambda: _lib.text(err.value))
    return os.fsdecode(out.value)


class _Handle:
    """An opaque C object, closed by close(), `with`, or garbage collection (whichever first)."""
    _close = None

    def _adopt(self, ptr):
        self._ptr = ptr
        self._finalizer = weakref.finalize(self, self._close, ptr)

    def close(self):
        """Frees the C object now (idempotent)."""
        if getattr(self, "_finalizer", None) is not None:
            self._finalizer()
            self._ptr = None

    @property
    def closed(self):
        return getattr(self, "_ptr", None) is None

    def _p(self):
        if self.closed:
            raise StateError(f"{type(self).__name__} is closed", "STATE")
        return self._ptr

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _open(fn, *args):
    out, err = ctypes.c_void_p(), _lib.errbuf()
    check(fn(*args, ctypes.byref(out), err, len(err)), lambda: _lib.text(err.value))
    return out


class Landmarker(_Handle):
    """OpenFace's CLNF landmark model and MTCNN weights (faceau_landmarker): read-only once
    loaded, shared by any number of Trackers on any threads."""
    _close = staticmethod(lib.faceau_landmarker_close)

    def __init__(self, model_dir=None):
        self._adopt(_open(lib.faceau_landmarker_open, _enc(model_dir)).value)


class _Shared:
    """Models loaded once per process and model directory (landmark model, AU models)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._landmarkers = {}
        self._au_models = {}

    def landmarker(self, model_dir):
        with self._lock:
            lm = self._landmarkers.get(model_dir)
            if lm is None:
                lm = self._landmarkers[model_dir] = Landmarker(model_dir)
            return lm

    def au_models(self, model_dir, mode):
        key = (model_dir, mode != _lib.AU_DYNAMIC)
        with self._lock:
            m = self._au_models.get(key)
            if m is None:
                m = self._au_models[key] = _AUModels(model_dir, mode)
            return m


class _AUModels(_Handle):
    _close = staticmethod(lib.faceau_au_models_close)

    def __init__(self, model_dir, mode):
        cfg = _config(model_dir, mode, False)
        self._model_dir = cfg.model_dir  # keeps the bytes alive
        self._adopt(_open(lib.faceau_au_models_open, ctypes.byref(cfg)).value)


_shared = _Shared()


def _config(model_dir, mode, online):
    cfg = lib.faceau_default_config()
    cfg.model_dir = _enc(model_dir)
    cfg.au_mode = mode
    cfg.online = 1 if online else 0
    return cfg


def _frame(image, timestamp=0.0, index=0):
    """A faceau_frame over a uint8 H x W x 3 BGR array (no copy when rows are contiguous)."""
    a = np.asarray(image)
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
        raise InvalidArgument(f"expected a uint8 H x W x 3 BGR array, got {a.dtype} {a.shape}", "INVALID_ARG")
    if a.strides[2] != 1 or a.strides[1] != 3 or a.strides[0] < 0:
        a = np.ascontiguousarray(a)
    f = _lib.Frame(width=a.shape[1], height=a.shape[0], stride=a.strides[0],
                   bgr=a.ctypes.data_as(ctypes.POINTER(ctypes.c_ubyte)), timestamp=float(timestamp),
                   index=int(index))
    return f, a


def _camera(camera):
    if camera is None:
        return None
    fx, fy, cx, cy = camera
    return ctypes.byref(_lib.Camera(fx, fy, cx, cy))


def _arr(c, shape=None, layout=None):
    a = np.ctypeslib.as_array(c).copy()
    if layout is not None:  # x0..xn-1, y0.. -> n x k
        a = a.reshape(layout, -1).T.copy()
    return a


class Face:
    """One fitted face (faceau_face) with numpy arrays: landmarks (68 x 2 pixels), landmarks_3d
    (68 x 3 mm), eye_landmarks (56 x 2), eye_landmarks_3d (56 x 3), pose (Tx, Ty, Tz mm, Rx,
    Ry, Rz radians), gaze_0 / gaze_1 (unit vectors), gaze_angle (x, y radians), params_global
    (scale, rx, ry, rz, tx, ty), params_local (34), success, valid, confidence, box (x, y, w, h,
    confidence; still images)."""
    __slots__ = ("success", "valid", "confidence", "landmarks", "landmarks_3d", "params_global",
                 "params_local", "pose", "gaze_0", "gaze_1", "gaze_angle", "eye_landmarks",
                 "eye_landmarks_3d", "box", "_flat")

    def __init__(self, f):
        self.success = int(f.success)
        self.valid = int(f.valid)
        self.confidence = float(f.confidence)
        self.landmarks = _arr(f.landmarks, layout=2)
        self.landmarks_3d = _arr(f.landmarks_3d, layout=3)
        self.params_global = _arr(f.params_global)
        self.params_local = _arr(f.params_local)
        self.pose = _arr(f.pose)
        self.gaze_0 = _arr(f.gaze_0)
        self.gaze_1 = _arr(f.gaze_1)
        self.gaze_angle = _arr(f.gaze_angle)
        self.eye_landmarks = _arr(f.eye_landmarks, layout=2)
        self.eye_landmarks_3d = _arr(f.eye_landmarks_3d, layout=3)
        b = f.box
        self.box = np.array([b.x, b.y, b.width, b.height, b.confidence], dtype=np.float32)
        self._flat = np.ctypeslib.as_array(f.landmarks).copy()

    def __repr__(self):
        return (f"<faceau.Face success={self.success} confidence={self.confidence:.3f} "
                f"pose_R={np.round(self.pose[3:], 3).tolist()}>")


class Detector(_Handle):
    """OpenFace's MTCNN face detector (faceau_detector). detect(image) gives an N x 5 float32
    array (x, y, width, height, confidence), best first."""
    _close = staticmethod(lib.faceau_detector_close)

    def __init__(self, model_dir=None, threads=1):
        self._adopt(_open(lib.faceau_detector_open, _enc(model_dir), int(threads)).value)

    def detect(self, image, max_faces=256):
        self._p()
        f, keep = _frame(image)
        boxes = (_lib.Box * max_faces)()
        n = ctypes.c_int()
        p = self._p()
        check(lib.faceau_detect(p, ctypes.byref(f), boxes, max_faces, ctypes.byref(n)),
              lambda: _lib.text(lib.faceau_detector_last_error(p)))
        out = np.zeros((n.value, 5), dtype=np.float32)
        for i in range(n.value):
            b = boxes[i]
            out[i] = (b.x, b.y, b.width, b.height, b.confidence)
        return out


class Tracker(_Handle):
    """One face tracked through your own frames (faceau_tracker): track(image) per video frame
    (numpy uint8 H x W x 3 BGR), fit_image(image) for every face of a still image. Runs on a
    Landmarker (by default one loaded once per process for model_dir)."""
    _close = staticmethod(lib.faceau_tracker_close)

    def __init__(self, model_dir=None, *, landmarker=None, threads=1):
        self._landmarker = landmarker if landmarker is not None else _shared.landmarker(model_dir)
        self._adopt(_open(lib.faceau_tracker_open, self._landmarker._p()).value)
        if threads != 1:
            p = self._p()
            check(lib.faceau_tracker_set_threads(p, int(threads)),
                  lambda: _lib.text(lib.faceau_tracker_last_error(p)))
        self._index = 0
        self._face = _lib.Face()

    def _err(self):
        return _lib.text(lib.faceau_tracker_last_error(self._ptr))

    def track(self, image, timestamp=None, camera=None):
        """The face in the next frame of a video (faceau_track). camera: (fx, fy, cx, cy)."""
        self._p()
        ts = timestamp if timestamp is not None else 0.0
        f, keep = _frame(image, ts, self._index)
        check(lib.faceau_track(self._p(), ctypes.byref(f), _camera(camera), ctypes.byref(self._face)),
              self._err)
        self._index += 1
        return Face(self._face)

    def fit_image(self, image, camera=None, max_faces=64):
        """Every face of a still image, as FaceLandmarkImg (faceau_fit_image)."""
        self._p()
        f, keep = _frame(image)
        faces = (_lib.Face * max_faces)()
        n = ctypes.c_int()
        check(lib.faceau_fit_image(self._p(), ctypes.byref(f), _camera(camera), faces, max_faces,
                                   ctypes.byref(n)), self._err)
        return [Face(faces[i]) for i in range(n.value)]

    def reset(self):
        """Forgets the face: the next track() detects from scratch (a new video)."""
        lib.faceau_tracker_reset(self._p())
        self._index = 0


class AUAnalyser(_Handle):
    """One person's AU analysis (faceau_au) on AU models loaded once per process. add(image,
    landmarks, success) gives (intensities, presences) as dicts {"AU01": value, ...}.
    mode: "dynamic" (videos), "static" (still images), "video_static" (-au_static). online=True
    is OpenFace's live per-frame correction (no end-of-video post-processing)."""
    _close = staticmethod(lib.faceau_au_close)
    _MODES = {"dynamic": _lib.AU_DYNAMIC, "static": _lib.AU_STATIC, "video_static": _lib.AU_VIDEO_STATIC}

    def __init__(self, model_dir=None, *, mode="dynamic", online=True):
        if mode not in self._MODES:
            raise InvalidArgument(f"mode must be one of {sorted(self._MODES)}, not {mode!r}", "INVALID_ARG")
        m = self._MODES[mode]
        self._models = _shared.au_models(model_dir, m)
        self._cfg = _config(model_dir, m, online)
        self._adopt(_open(lib.faceau_au_open_with, self._models._p(), ctypes.byref(self._cfg)).value)
        self._res = _lib.AUResult()

    def _add(self, frame, flat_landmarks, success):
        lm = np.ascontiguousarray(flat_landmarks, dtype=np.float32)
        p = self._p()
        check(lib.faceau_au_add_frame(p, ctypes.byref(frame), lm.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                                      int(success), ctypes.byref(self._res)),
              lambda: _lib.text(lib.faceau_au_last_error(p)))
        return self._res

    def add(self, image, landmarks, success=True, timestamp=0.0):
        """AUs of one frame given its 68 x 2 landmarks (or x0..x67, y0..y67)."""
        lm = np.asarray(landmarks, dtype=np.float32)
        if lm.shape == (_lib.N_LANDMARKS, 2):
            lm = lm.T.reshape(-1)
        f, keep = _frame(image, timestamp)
        r = self._add(f, lm, success)
        return (dict(zip(AU_INTENSITY, r.au_intensity)), dict(zip(AU_PRESENCE, r.au_presence)))

    def reset(self):
        lib.faceau_au_reset(self._p())


class FrameResult(Face):
    """One frame of frames(): a Face plus index (0-based), frame (1-based, the CSV's),
    timestamp (seconds), au_intensity and au_presence ({"AU01": value, ...}); as_dict() gives
    the row of OpenFace's CSV (column name -> value)."""
    __slots__ = ("index", "frame", "timestamp", "au_intensity", "au_presence")

    def as_dict(self):
        cols = video_columns()
        vals = [self.frame, 0, self.timestamp, self.confidence, self.success]
        vals += list(self.gaze_0) + list(self.gaze_1) + list(self.gaze_angle)
        vals += list(self.eye_landmarks.T.reshape(-1)) + list(self.eye_landmarks_3d.T.reshape(-1))
        vals += list(self.pose) + list(self._flat) + list(self.landmarks_3d.T.reshape(-1))
        vals += list(self.params_global) + list(self.params_local)
        vals += [self.au_intensity[n] for n in AU_INTENSITY] + [self.au_presence[n] for n in AU_PRESENCE]
        return dict(zip(cols, vals))


def frames(path, *, model_dir=None, threads=1, camera=None):
    """Yields a FrameResult per frame of a video, image or image directory, as FeatureExtraction
    -online computes it (tracking, pose, gaze, online AU correction), in constant memory: for
    live or very long inputs. The objects are freed when the generator finishes or is closed."""
    lm = _shared.landmarker(model_dir)
    src = _Source(path, threads)
    try:
        with Tracker(landmarker=lm, threads=threads) as tr, AUAnalyser(model_dir, mode="dynamic", online=True) as au:
            face = _lib.Face()
            cam = _camera(camera)
            for fr in src:
                check(lib.faceau_track(tr._p(), ctypes.byref(fr), cam, ctypes.byref(face)), tr._err)
                r = au._add(fr, np.ctypeslib.as_array(face.landmarks), face.valid)
                out = FrameResult(face)
                out.index = int(fr.index)
                out.frame = out.index + 1
                out.timestamp = float(fr.timestamp)
                out.au_intensity = dict(zip(AU_INTENSITY, r.au_intensity))
                out.au_presence = dict(zip(AU_PRESENCE, r.au_presence))
                yield out
    finally:
        src.close()


class _Source(_Handle):
    _close = staticmethod(lib.faceau_source_close)

    def __init__(self, path, threads=1):
        self.path = os.fspath(path)
        self._adopt(_open(lib.faceau_source_open_threads, _enc(self.path), int(threads)).value)

    def __iter__(self):
        fr, got = _lib.Frame(), ctypes.c_int()
        while True:
            p = self._p()
            st = lib.faceau_source_read(p, ctypes.byref(fr), ctypes.byref(got))
            if st == _lib.ERR_TRUNCATED:
                warnings.warn(_lib.text(lib.faceau_source_last_error(p)))
                return
            check(st, lambda: _lib.text(lib.faceau_source_last_error(p)))
            if not got.value:
                return
            yield fr


def analyze(path, *, threads=None, online=False, au_static=False, progress=True, model_dir=None,
            mirror=False, mirror_seam=6.0, au_dual=False):
    """Runs one input (a video, an image, or a directory of images) through the whole pipeline
    and returns OpenFace's CSV for it, exactly as the CLI writes it, as a pandas DataFrame (a
    still image gets FaceLandmarkImg's layout, a row per face). threads: None = one per core
    (the numbers do not depend on it). online: FeatureExtraction -online; au_static: -au_static.
    Raises a faceau.Error subclass naming the file on failure; a truncated input warns and gives
    the frames before the damage.
    mirror=True (videos and image sequences; the CLI's -mirror): the left- and right-mirrored
    faces, each tracked and analysed as a person of its own, as one DataFrame: the
    left_mirrored CSV's rows then the right_mirrored's, with a first column `side` ("left" or
    "right": the subject's sides, not the image's); mirror_seam: -mirror_seam.
    au_dual=True (the CLI's -au_dual): AUxx_r_static columns after OpenFace's."""
    from ._many import run_batch
    with tempfile.TemporaryDirectory(prefix="faceau-") as tmp:
        [r] = run_batch([os.fspath(path)], tmp, jobs=1, threads=threads, online=online,
                        au_static=au_static, resume=False, progress=progress, model_dir=model_dir,
                        mirror=mirror, mirror_seam=mirror_seam, au_dual=au_dual)
        if r["status_code"] == _lib.ERR_TRUNCATED:
            warnings.warn(r["error"])
        elif r["status_code"] != _lib.OK:
            raise error_for(r["status_code"], r["error"])
        if not mirror:
            return read_csv(os.path.join(tmp, r["name"] + ".csv"))
        import pandas as pd
        parts = []
        for side in ("left", "right"):
            df = read_csv(os.path.join(tmp, f"{r['name']}_{side}_mirrored.csv"))
            df.insert(0, "side", side)
            parts.append(df)
        return pd.concat(parts, ignore_index=True)


def analyze_many(paths, out_dir, *, client=None, jobs=None, resume=True, threads=None,
                 online=False, au_static=False, progress=True, model_dir=None, mirror=False,
                 mirror_seam=6.0, au_dual=False):
    """Runs every input and writes out_dir/<name>.csv (OpenFace's CSV, through a temporary file
    renamed when complete). Without client: `jobs` inputs at once in this process (default one
    per core, sharing the loaded models). With a dask.distributed Client: one task per file on
    its workers (which must import faceau and see the models). resume: inputs whose CSV already
    exists are skipped. A failing input never stops the others. Returns a summary DataFrame:
    file, name, frames, faces, status ("ok", "skipped", "truncated", "failed"), seconds, error.
    mirror=True (the CLI's -mirror, videos and image sequences): out_dir/<name>_left_mirrored.csv
    and <name>_right_mirrored.csv per input (both or neither; resume skips an input that has
    both), `faces` counting the frames tracked on both sides; mirror_seam: -mirror_seam.
    au_dual=True: -au_dual's AUxx_r_static columns."""
    from ._many import analyze_many as _am
    return _am(paths, out_dir, client=client, jobs=jobs, resume=resume, threads=threads,
               online=online, au_static=au_static, progress=progress, model_dir=model_dir,
               mirror=mirror, mirror_seam=mirror_seam, au_dual=au_dual)
