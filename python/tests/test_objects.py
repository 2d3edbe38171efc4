"""Objects are freed deterministically (close, with) and on garbage collection: many create /
close cycles of each leave the resident set where it was."""
import gc
import os

import numpy as np
import pytest

import faceau
from conftest import IMAGE, VIDEO


def _rss_kb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _frame0():
    src = faceau._Source(VIDEO)
    fr = next(iter(src))
    img = np.ctypeslib.as_array(fr.bgr, shape=(fr.height, fr.stride))[:, :3 * fr.width]
    img = img.reshape(fr.height, fr.width, 3).copy()
    src.close()
    return img


def _cycles(make, use, n, slack_kb, warm=3):
    for _ in range(warm):  # warm up: allocator arenas, lazily loaded shared models
        with make() as o:
            use(o)
    gc.collect()
    before = _rss_kb()
    for i in range(n):
        if i % 2:
            with make() as o:  # closed by `with`
                use(o)
        else:
            o = make()  # closed by garbage collection
            use(o)
            del o
    gc.collect()
    grown = _rss_kb() - before
    assert grown < slack_kb, f"RSS grew {grown} kB over {n} cycles"


# 1,000 cycles of each object, except the landmark model (70-115 ms an open: every CLNF file),
# 100 cycles, to keep the suite within CI's two minutes.
def test_tracker_cycles():
    img = np.ascontiguousarray(_frame0()[:96, :96])  # small: MTCNN's search on it is quick
    _cycles(lambda: faceau.Tracker(), lambda t: t.track(img), 1000, 4096)


def test_au_analyser_cycles():
    img = _frame0()
    with faceau.Tracker() as t:
        lm = t.track(img).landmarks
    _cycles(lambda: faceau.AUAnalyser(mode="static"), lambda a: a.add(img, lm), 1000, 4096)
    _cycles(lambda: faceau.AUAnalyser(), lambda a: a.add(img, lm), 1000, 4096)


def test_source_cycles():
    _cycles(lambda: faceau._Source(IMAGE), lambda s: next(iter(s)), 1000, 4096)


def test_detector_cycles():
    img = np.ascontiguousarray(_frame0()[:96, :96])
    _cycles(lambda: faceau.Detector(), lambda d: d.detect(img), 1000, 4096)


def test_landmarker_cycles():
    _cycles(lambda: faceau.Landmarker(), lambda m: None, 100, 8192, warm=2)
