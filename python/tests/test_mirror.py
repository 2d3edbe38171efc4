"""analyze(mirror=True): one DataFrame with a `side` column, equal to the CLI's -mirror CSVs;
analyze(au_dual=True): the CLI's -au_dual columns; analyze_many(mirror=True): the CLI's
-mirror CSVs per input, resume, a failing input beside the others."""
import filecmp
import os

import numpy as np
import pytest

import faceau
from conftest import SHARED, IMAGE, MANY, cli
from test_analyze import _same_as_csv

SEQ = os.path.join(SHARED, "data", "images", "sequence")


@pytest.fixture(scope="module")
def mirror_out(tmp_path_factory):
    d = tmp_path_factory.mktemp("mirror")
    cli("-fdir", SEQ, "-f", MANY[0], "-mirror", "-au_dual", "-out_dir", str(d))
    return d


def test_mirror_has_side_and_matches_cli(mirror_out):
    df = faceau.analyze(SEQ, mirror=True, au_dual=True, threads=2, progress=False)
    assert df.columns[0] == "side"
    assert list(df["side"].unique()) == ["left", "right"]
    for side in ("left", "right"):
        part = df[df["side"] == side].drop(columns="side").reset_index(drop=True)
        _same_as_csv(part, mirror_out / f"sequence_{side}_mirrored.csv")
        assert part["success"].sum() >= 27 and "AU12_r_static" in part.columns
    # the two sides are different faces
    left, right = (df[df["side"] == s]["AU12_r"].to_numpy() for s in ("left", "right"))
    assert len(left) == len(right) == 30 and not np.array_equal(left, right)


def test_mirror_refuses_a_still_image():
    with pytest.raises(faceau.Error, match="not a still image"):
        faceau.analyze(IMAGE, mirror=True, progress=False)


def test_analyze_many_mirror(mirror_out, tmp_path):
    bad = str(tmp_path / "bad.mp4")
    with open(bad, "w") as f:
        f.write("this is a text file, not a video\n")
    out = str(tmp_path / "out")
    inputs = [SEQ, MANY[0], bad]
    s = faceau.analyze_many(inputs, out, mirror=True, au_dual=True, jobs=2, threads=1, progress=False)
    names = ["sequence", os.path.splitext(os.path.basename(MANY[0]))[0]]
    for name in names:
        for side in ("left", "right"):
            f = f"{name}_{side}_mirrored.csv"
            assert filecmp.cmp(os.path.join(out, f), mirror_out / f, shallow=False), f
    assert not os.path.exists(os.path.join(out, "sequence.csv"))
    assert list(s["status"]) == ["ok", "ok", "failed"], s
    assert "bad.mp4" in s["error"].iloc[2] and not any(n.startswith("bad") for n in os.listdir(out))
    assert s["frames"].iloc[0] == 30 and 27 <= s["faces"].iloc[0] <= 30 and s["faces"].iloc[1] > 150
    again = faceau.analyze_many(inputs, out, mirror=True, au_dual=True, jobs=2, threads=1, progress=False)
    assert list(again["status"]) == ["skipped", "skipped", "failed"], again
    assert list(again["frames"][:2]) == list(s["frames"][:2]) and list(again["faces"][:2]) == list(s["faces"][:2])
    # the task a Dask cluster runs per file
    from faceau._many import analyze_file
    row = analyze_file(SEQ, str(tmp_path / "task"), mirror=True, au_dual=True, threads=1)
    assert row["status"] == "ok" and row["faces"] == s["faces"].iloc[0], row
    assert filecmp.cmp(tmp_path / "task" / "sequence_right_mirrored.csv", mirror_out / "sequence_right_mirrored.csv",
                       shallow=False)
    with pytest.raises(faceau.InvalidArgument, match="both write sequence_left_mirrored.csv"):
        faceau.analyze_many([SEQ, SEQ], out, mirror=True)
