"""faceau_run_batch from Python, and analyze_many on a local pool or a Dask cluster."""
import ctypes
import os
import sys
import time

from . import _lib
from ._lib import lib
from ._errors import error_for, status_name


class _Bar:
    """Progress: tqdm when installed, a plain line otherwise; nothing unless stderr is a TTY."""

    def __init__(self, enabled, files):
        self.enabled = enabled and sys.stderr.isatty()
        self.files = files
        self.tqdm = None
        self.open = False
        if self.enabled:
            try:
                from tqdm import tqdm
                if files > 1:
                    self.tqdm = tqdm(total=files, unit="file", file=sys.stderr)
                else:
                    self.tqdm = tqdm(unit="frame", file=sys.stderr)
            except ImportError:
                pass

    def update(self, p):
        if not self.enabled:
            return
        name = _lib.text(p.name)
        if self.tqdm is not None:
            if self.files > 1:
                self.tqdm.n = p.files_done
                self.tqdm.set_postfix_str(f"{name}: {p.frames} frames, {p.frames_per_second:.1f}/s", refresh=False)
            else:
                self.tqdm.n = p.frames
                self.tqdm.set_description_str(name, refresh=False)
            self.tqdm.refresh()
            return
        left = "--:--"
        if p.seconds_left >= 0:
            t = int(p.seconds_left + 0.5)
            left = f"{t // 3600}:{t // 60 % 60:02d}:{t % 60:02d}"
        sys.stderr.write(f"\r\033[K[{p.files_done}/{p.files_total} files] {name}: {p.frames} frames, "
                         f"{p.frames_per_second:.1f} frames/s, {left} left")
        sys.stderr.flush()
        self.open = True

    def close(self):
        if self.tqdm is not None:
            self.tqdm.close()
        elif self.open:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def run_batch(paths, out_dir, *, jobs=1, threads=None, online=False, au_static=False, resume=False,
              progress=False, model_dir=None, mirror=False, mirror_seam=6.0, au_dual=False):
    """faceau_run_batch over paths (directories are image sequences): one dict per input, in
    input order (status_code, name, frames, faces, still_image, skipped, seconds, error).
    Raises for what stops the whole batch (models that do not load, clashing names)."""
    from . import _shared, _config
    lm = _shared.landmarker(model_dir)
    n = len(paths)
    enc = [os.fsencode(p) for p in paths]
    inputs = (_lib.BatchInput * max(n, 1))()
    for i, p in enumerate(paths):
        inputs[i].input = enc[i]
        inputs[i].input_is_dir = 1 if os.path.isdir(p) else 0
    results = [None] * n
    bar = _Bar(progress, n)

    def outcome(user, r):
        r = r.contents
        still = bool(r.still_image)
        results[r.index] = {
            "status_code": r.status, "name": _lib.text(r.name), "frames": int(r.frames),
            "faces": int(r.faces) if still else None, "still_image": still,
            "skipped": bool(r.skipped), "seconds": float(r.seconds), "error": _lib.text(r.message),
        }

    def prog(user, p):
        bar.update(p.contents)

    out_b = os.fsencode(out_dir)
    o = _lib.BatchOptions()
    o.run.out_dir = out_b
    o.run.landmarker = lm._p()
    o.run.threads = 0 if threads is None else int(threads)
    o.config = _config(model_dir, _lib.AU_VIDEO_STATIC if au_static else _lib.AU_DYNAMIC, online)
    o.jobs = 1 if jobs is None else int(jobs)
    o.resume = 1 if resume else 0
    o.au_dual = 1 if au_dual else 0
    if mirror:
        mo = _lib.MirrorOptions(seam_px=float(mirror_seam))
        o.mirror = ctypes.pointer(mo)
    cb_outcome, cb_progress = _lib.OUTCOME_FN(outcome), _lib.BATCH_PROGRESS_FN(prog)
    o.outcome, o.progress = cb_outcome, cb_progress
    failed, err = ctypes.c_int(), _lib.errbuf()
    try:
        st = lib.faceau_run_batch(inputs, n, ctypes.byref(o), ctypes.byref(failed), err, len(err))
    finally:
        bar.close()
    if st not in (_lib.OK, _lib.ERR_TRUNCATED, _lib.STATUS_NAMES.index("INPUT_FAILED")):
        raise error_for(st, _lib.text(err.value))
    return results


def _faces_in_csv(path):
    """Frames with a face tracked (success = 1) in a FeatureExtraction CSV."""
    with open(path, encoding="utf-8") as f:
        header = f.readline().split(", ")
        col = [h.strip() for h in header].index("success")
        return sum(1 for line in f if line.split(",")[col].strip() == "1")


def _success_column(path):
    """The success flags (0/1) of a FeatureExtraction CSV's rows."""
    with open(path, encoding="utf-8") as f:
        header = f.readline().split(", ")
        col = [h.strip() for h in header].index("success")
        return [line.split(",")[col].strip() == "1" for line in f]


def _summary_row(path, out_dir, r, mirror=False):
    code = r["status_code"]
    status = ("skipped" if r["skipped"] else "ok" if code == _lib.OK
              else "truncated" if code == _lib.ERR_TRUNCATED else "failed")
    frames, faces = r["frames"], r["faces"]
    if mirror:
        # both sides' CSVs are renamed into place together; faces: the frames tracked in both
        # (the rows whose sides can be compared)
        csvs = [os.path.join(out_dir, f"{r['name']}_{side}_mirrored.csv") for side in ("left", "right")]
        if status in ("ok", "skipped", "truncated") and all(os.path.exists(c) for c in csvs):
            try:
                left, right = (_success_column(c) for c in csvs)
                faces = sum(1 for a, b in zip(left, right) if a and b)
                if status == "skipped":
                    frames = len(left)
            except (OSError, ValueError):
                pass
        return {"file": path, "name": r["name"], "frames": frames, "faces": faces, "status": status,
                "error_type": "" if status in ("ok", "skipped") else status_name(code),
                "seconds": r["seconds"], "error": r["error"]}
    csv = os.path.join(out_dir, r["name"] + ".csv")
    if status in ("ok", "skipped", "truncated") and os.path.exists(csv):
        if r["still_image"]:
            if status == "skipped":
                with open(csv, encoding="utf-8") as f:
                    faces = max(0, sum(1 for _ in f) - 1)
                frames = 1
        else:
            try:
                faces = _faces_in_csv(csv)
                if status == "skipped":
                    with open(csv, encoding="utf-8") as f:
                        frames = max(0, sum(1 for _ in f) - 1)
            except (OSError, ValueError):
                pass
    return {"file": path, "name": r["name"], "frames": frames, "faces": faces, "status": status,
            "error_type": "" if status in ("ok", "skipped") else status_name(code), "seconds": r["seconds"], "error": r["error"]}


def analyze_file(path, out_dir, resume=True, threads=None, online=False, au_static=False, model_dir=None,
                 mirror=False, mirror_seam=6.0, au_dual=False):
    """One input into out_dir/<name>.csv (with mirror, <name>_left_mirrored.csv and
    <name>_right_mirrored.csv): the task analyze_many submits to a Dask cluster.
    Never raises: a failure becomes the summary row's status and error."""
    t0 = time.monotonic()
    try:
        os.makedirs(out_dir, exist_ok=True)
        [r] = run_batch([path], out_dir, jobs=1, threads=threads, online=online, au_static=au_static,
                        resume=resume, progress=False, model_dir=model_dir, mirror=mirror,
                        mirror_seam=mirror_seam, au_dual=au_dual)
        return _summary_row(path, out_dir, r, mirror)
    except Exception as e:  # models that do not load, an unwritable out_dir, ...
        return {"file": path, "name": _name_of(path), "frames": 0, "faces": None, "status": "failed",
                "error_type": getattr(e, "status", None) or type(e).__name__,
                "seconds": time.monotonic() - t0, "error": str(e)}


def _name_of(path):
    """The output base name faceau gives an input (fa_run_output_name)."""
    base = os.path.basename(os.path.normpath(path))
    if not os.path.isdir(path) and "." in base[1:]:
        base = base[:base.rindex(".")]
    return base


def analyze_many(paths, out_dir, *, client=None, jobs=None, resume=True, threads=None,
                 online=False, au_static=False, progress=True, model_dir=None, mirror=False,
                 mirror_seam=6.0, au_dual=False):
    import pandas as pd
    from ._errors import InvalidArgument
    paths = [os.fspath(p) for p in paths]
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    seen = {}
    for p in paths:
        n = _name_of(p)
        if n in seen:
            raise InvalidArgument(f"{seen[n]} and {p} would both write {n}{'_left_mirrored' if mirror else ''}.csv: give them different "
                                  f"names or output directories", "INVALID_ARG")
        seen[n] = p
    columns = ["file", "name", "frames", "faces", "status", "error_type", "seconds", "error"]
    if client is None:
        jobs = jobs if jobs is not None else (os.cpu_count() or 1)
        rs = run_batch(paths, out_dir, jobs=jobs, threads=threads, online=online,
                       au_static=au_static, resume=resume, progress=progress, model_dir=model_dir,
                       mirror=mirror, mirror_seam=mirror_seam, au_dual=au_dual)
        rows = [_summary_row(p, out_dir, r, mirror) for p, r in zip(paths, rs)]
    else:
        # one task per file; Dask schedules, retries lost workers and reports progress
        futures = client.map(analyze_file, paths, out_dir=out_dir, resume=resume, threads=threads,
                             online=online, au_static=au_static, model_dir=model_dir, mirror=mirror,
                             mirror_seam=mirror_seam, au_dual=au_dual, pure=False)
        if progress and sys.stderr.isatty():
            try:
                from distributed import progress as dask_progress
                dask_progress(futures)
            except Exception:
                pass
        rows = client.gather(futures)
    df = pd.DataFrame(rows, columns=columns)
    df["frames"] = df["frames"].astype("int64")
    df["faces"] = df["faces"].astype("Int64")
    return df
