"""ctypes declarations of include/faceau.h and the loading of libfaceau.so.

Every struct here mirrors one of faceau.h field for field; tests/test_layout.py compiles a C
program against the header and checks each size and offset, so the two cannot drift apart
silently.
"""
import ctypes
import ctypes.util
import os

# The FACEAU_VERSION_NUMBER this binding was written for: the library must have the same major
# version and at least this minor (major * 1000000 + minor * 1000 + patch, as in faceau.h).
VERSION_NUMBER = 1000

N_LANDMARKS = 68
N_PARAMS_LOCAL = 34
N_AU_INTENSITY = 17
N_AU_PRESENCE = 18
N_EYE_LANDMARKS = 56

# faceau_status, in the header's order (values only grow at the end)
STATUS_NAMES = [
    "OK", "INVALID_ARG", "NOMEM", "IO", "MODEL_NOT_FOUND", "MODEL_CORRUPT", "VIDEO", "IMAGE",
    "CSV", "NO_INPUT", "TRUNCATED", "STATE", "NO_FACE", "INPUT_FAILED",
]
OK = 0
ERR_TRUNCATED = STATUS_NAMES.index("TRUNCATED")

AU_DYNAMIC, AU_STATIC, AU_VIDEO_STATIC = 0, 1, 2


class Config(ctypes.Structure):
    _fields_ = [("model_dir", ctypes.c_char_p), ("au_mode", ctypes.c_int), ("online", ctypes.c_int)]


class Frame(ctypes.Structure):
    _fields_ = [("width", ctypes.c_int), ("height", ctypes.c_int), ("stride", ctypes.c_int),
                ("bgr", ctypes.POINTER(ctypes.c_ubyte)), ("timestamp", ctypes.c_double),
                ("index", ctypes.c_long)]


class AUResult(ctypes.Structure):
    _fields_ = [("success", ctypes.c_int), ("params_global", ctypes.c_float * 6),
                ("params_local", ctypes.c_float * N_PARAMS_LOCAL),
                ("au_intensity", ctypes.c_double * N_AU_INTENSITY),
                ("au_presence", ctypes.c_double * N_AU_PRESENCE)]


class Box(ctypes.Structure):
    _fields_ = [("x", ctypes.c_float), ("y", ctypes.c_float), ("width", ctypes.c_float),
                ("height", ctypes.c_float), ("confidence", ctypes.c_float)]


class Camera(ctypes.Structure):
    _fields_ = [("fx", ctypes.c_float), ("fy", ctypes.c_float), ("cx", ctypes.c_float),
                ("cy", ctypes.c_float)]


class Face(ctypes.Structure):
    _fields_ = [("success", ctypes.c_int), ("valid", ctypes.c_int), ("confidence", ctypes.c_float),
                ("landmarks", ctypes.c_float * (2 * N_LANDMARKS)),
                ("landmarks_3d", ctypes.c_float * (3 * N_LANDMARKS)),
                ("params_global", ctypes.c_float * 6),
                ("params_local", ctypes.c_float * N_PARAMS_LOCAL),
                ("pose", ctypes.c_float * 6), ("gaze_0", ctypes.c_float * 3),
                ("gaze_1", ctypes.c_float * 3), ("gaze_angle", ctypes.c_float * 2),
                ("eye_landmarks", ctypes.c_float * (2 * N_EYE_LANDMARKS)),
                ("eye_landmarks_3d", ctypes.c_float * (3 * N_EYE_LANDMARKS)),
                ("box", Box)]


PROGRESS_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_long, ctypes.c_int)
WARNING_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p)


class RunOptions(ctypes.Structure):
    _fields_ = [("input", ctypes.c_char_p), ("input_is_dir", ctypes.c_int),
                ("landmarks_csv", ctypes.c_char_p), ("out_dir", ctypes.c_char_p),
                ("out_name", ctypes.c_char_p), ("outputs", ctypes.c_uint),
                ("hogalign", ctypes.c_int), ("simalign", ctypes.c_int), ("quiet", ctypes.c_int),
                ("progress", PROGRESS_FN), ("progress_user", ctypes.c_void_p),
                ("landmarker", ctypes.c_void_p), ("camera", ctypes.POINTER(Camera)),
                ("warning", WARNING_FN), ("full_precision", ctypes.c_int),
                ("threads", ctypes.c_int), ("dual_static", ctypes.c_void_p),
                ("frame_limits", ctypes.c_void_p)]


class BatchInput(ctypes.Structure):
    _fields_ = [("input", ctypes.c_char_p), ("input_is_dir", ctypes.c_int),
                ("landmarks_csv", ctypes.c_char_p)]


class BatchResult(ctypes.Structure):
    _fields_ = [("index", ctypes.c_int), ("input", ctypes.c_char_p), ("name", ctypes.c_char_p),
                ("frames", ctypes.c_long), ("seconds", ctypes.c_double), ("skipped", ctypes.c_int),
                ("status", ctypes.c_int), ("message", ctypes.c_char_p),
                ("still_image", ctypes.c_int), ("faces", ctypes.c_long)]


class BatchProgress(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("files_done", ctypes.c_int),
                ("files_total", ctypes.c_int), ("files_failed", ctypes.c_int),
                ("frames", ctypes.c_long), ("seconds", ctypes.c_double),
                ("frames_per_second", ctypes.c_double), ("seconds_left", ctypes.c_double)]


OUTCOME_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(BatchResult))
BATCH_PROGRESS_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(BatchProgress))


class MirrorOptions(ctypes.Structure):
    _fields_ = [("seam_px", ctypes.c_double), ("write_video", ctypes.c_int),
                ("video_codec", ctypes.c_char_p), ("left_static", ctypes.c_void_p),
                ("right_static", ctypes.c_void_p)]


class BatchOptions(ctypes.Structure):
    _fields_ = [("run", RunOptions), ("config", Config), ("jobs", ctypes.c_int),
                ("resume", ctypes.c_int), ("outcome", OUTCOME_FN),
                ("progress", BATCH_PROGRESS_FN), ("user", ctypes.c_void_p),
                ("mirror", ctypes.POINTER(MirrorOptions)), ("au_dual", ctypes.c_int)]


# name -> (restype, argtypes); opaque objects are c_void_p
_P = ctypes.c_void_p
_PP = ctypes.POINTER(ctypes.c_void_p)
_S = ctypes.c_char_p
_SZ = ctypes.c_size_t
_I = ctypes.c_int
_ST = ctypes.c_int
_PROTOTYPES = {
    "faceau_status_string": (_S, [_I]),
    "faceau_version": (_S, []),
    "faceau_version_number": (_I, []),
    "faceau_au_intensity_name": (_S, [_I]),
    "faceau_au_presence_name": (_S, [_I]),
    "faceau_models_locate": (_ST, [_S, ctypes.c_char_p, _SZ, ctypes.c_char_p, _SZ]),
    "faceau_default_config": (Config, []),
    "faceau_au_models_open": (_ST, [ctypes.POINTER(Config), _PP, ctypes.c_char_p, _SZ]),
    "faceau_au_models_close": (None, [_P]),
    "faceau_au_open": (_ST, [ctypes.POINTER(Config), _PP, ctypes.c_char_p, _SZ]),
    "faceau_au_open_with": (_ST, [_P, ctypes.POINTER(Config), _PP, ctypes.c_char_p, _SZ]),
    "faceau_au_close": (None, [_P]),
    "faceau_au_last_error": (_S, [_P]),
    "faceau_au_add_frame": (_ST, [_P, ctypes.POINTER(Frame), ctypes.POINTER(ctypes.c_float), _I,
                                  ctypes.POINTER(AUResult)]),
    "faceau_au_reset": (None, [_P]),
    "faceau_source_open": (_ST, [_S, _PP, ctypes.c_char_p, _SZ]),
    "faceau_source_open_threads": (_ST, [_S, _I, _PP, ctypes.c_char_p, _SZ]),
    "faceau_source_read": (_ST, [_P, ctypes.POINTER(Frame), ctypes.POINTER(_I)]),
    "faceau_source_last_error": (_S, [_P]),
    "faceau_source_close": (None, [_P]),
    "faceau_source_fps": (ctypes.c_double, [_P]),
    "faceau_detector_open": (_ST, [_S, _I, _PP, ctypes.c_char_p, _SZ]),
    "faceau_detector_close": (None, [_P]),
    "faceau_detector_last_error": (_S, [_P]),
    "faceau_detect": (_ST, [_P, ctypes.POINTER(Frame), ctypes.POINTER(Box), _I, ctypes.POINTER(_I)]),
    "faceau_landmarker_open": (_ST, [_S, _PP, ctypes.c_char_p, _SZ]),
    "faceau_landmarker_close": (None, [_P]),
    "faceau_tracker_open": (_ST, [_P, _PP, ctypes.c_char_p, _SZ]),
    "faceau_tracker_close": (None, [_P]),
    "faceau_tracker_last_error": (_S, [_P]),
    "faceau_tracker_set_threads": (_ST, [_P, _I]),
    "faceau_tracker_reset": (None, [_P]),
    "faceau_track": (_ST, [_P, ctypes.POINTER(Frame), ctypes.POINTER(Camera), ctypes.POINTER(Face)]),
    "faceau_fit_image": (_ST, [_P, ctypes.POINTER(Frame), ctypes.POINTER(Camera),
                               ctypes.POINTER(Face), _I, ctypes.POINTER(_I)]),
    "faceau_run_batch": (_ST, [ctypes.POINTER(BatchInput), _I, ctypes.POINTER(BatchOptions),
                               ctypes.POINTER(_I), ctypes.c_char_p, _SZ]),
}


def _candidates():
    env = os.environ.get("FACEAU_LIBRARY")
    if env:
        return [env]
    here = os.path.dirname(os.path.abspath(__file__))
    found = [os.path.join(here, "libfaceau.so")]
    name = ctypes.util.find_library("faceau")
    if name:
        found.append(name)
    return found


def _load():
    tried = []
    for path in _candidates():
        if os.path.sep in path and not os.path.exists(path):
            tried.append(f"{path} (missing)")
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            tried.append(f"{path} ({e})")
            continue
        break
    else:
        raise ImportError("faceau: cannot load libfaceau.so; tried " + "; ".join(tried) +
                          ". Build it (cmake) and set FACEAU_LIBRARY to its path, or pip install faceau.")
    if not hasattr(lib, "faceau_version_number"):
        raise ImportError(f"faceau: {path} is older than this binding (no faceau_version_number)")
    lib.faceau_version_number.restype = ctypes.c_int
    have = lib.faceau_version_number()
    if have // 1000000 != VERSION_NUMBER // 1000000 or have < VERSION_NUMBER:
        raise ImportError(f"faceau: {path} is version {have}, this binding needs "
                          f"{VERSION_NUMBER // 1000000}.x with x >= {VERSION_NUMBER // 1000 % 1000} "
                          f"(FACEAU_VERSION_NUMBER {VERSION_NUMBER})")
    for name, (res, args) in _PROTOTYPES.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    return lib, path


lib, path = _load()


def errbuf():
    return ctypes.create_string_buffer(4096)


def text(b):
    return b.decode("utf-8", "replace") if b is not None else ""
