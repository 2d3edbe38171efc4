"""analyze_many on a 2-worker Dask LocalCluster and on the local pool: the CLI's bytes, resume,
a failing file beside the others."""
import filecmp
import os
import shutil

import pytest

import faceau
from conftest import ALL_VIDEOS, MANY


def _check_outputs(out, cli_dir, summary, bad, videos):
    for p in videos:
        name = os.path.splitext(os.path.basename(p))[0]
        assert filecmp.cmp(os.path.join(out, name + ".csv"), os.path.join(cli_dir, name + ".csv"),
                           shallow=False), name
    row = summary[summary["file"] == bad].iloc[0]
    assert row["status"] == "failed" and "bad.mp4" in row["error"] and row["error_type"] == "VIDEO"
    assert not os.path.exists(os.path.join(out, "bad.csv"))
    ok = summary[summary["file"] != bad]
    assert (ok["status"] == "ok").all() and (ok["frames"] > 0).all() and (ok["faces"] > 0).all()
    assert list(summary["file"]) == videos + [bad]


def test_dask_local_cluster(cli_out, tmp_path):
    distributed = pytest.importorskip("distributed")
    bad = str(tmp_path / "bad.mp4")
    with open(bad, "w") as f:
        f.write("this is a text file, not a video\n")
    out = str(tmp_path / "out")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        s = faceau.analyze_many(ALL_VIDEOS + [bad], out, client=client, threads=1)
        _check_outputs(out, cli_out / "all", s, bad, ALL_VIDEOS)
        again = faceau.analyze_many(ALL_VIDEOS + [bad], out, client=client, threads=1)
    done = again[again["file"] != bad]
    assert (done["status"] == "skipped").all(), again
    assert list(done["frames"]) == list(s[s["file"] != bad]["frames"])
    assert again[again["file"] == bad]["status"].iloc[0] == "failed"


def test_local_pool(cli_out, tmp_path):
    bad = str(tmp_path / "bad.mp4")
    with open(bad, "w") as f:
        f.write("this is a text file, not a video\n")
    out = str(tmp_path / "out")
    # an interrupted run's leftover temporary file is cleared, a finished output kept
    os.makedirs(out)
    name0 = os.path.splitext(os.path.basename(MANY[0]))[0]
    shutil.copy(cli_out / "all" / (name0 + ".csv"), os.path.join(out, name0 + ".csv"))
    with open(os.path.join(out, "x.csv.123.tmp"), "w") as f:
        f.write("partial")
    s = faceau.analyze_many(MANY + [bad], out, jobs=2, threads=2, progress=False)
    assert s["status"].iloc[0] == "skipped" and (s["status"].iloc[1:-1] == "ok").all(), s
    s.loc[0, "status"] = "ok"
    _check_outputs(out, cli_out / "all", s, bad, MANY)
    with pytest.raises(faceau.InvalidArgument, match="both write"):
        faceau.analyze_many([MANY[0], MANY[0]], out)
