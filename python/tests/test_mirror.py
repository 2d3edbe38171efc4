"""analyze(mirror=True): one DataFrame with a `side` column, equal to the CLI's -mirror CSVs;
analyze(au_dual=True): the CLI's -au_dual columns."""
import os

import numpy as np
import pytest

import faceau
from conftest import SHARED, IMAGE, cli
from test_analyze import _same_as_csv

SEQ = os.path.join(SHARED, "data", "images", "sequence")


@pytest.fixture(scope="module")
def mirror_out(tmp_path_factory):
    d = tmp_path_factory.mktemp("mirror")
    cli("-fdir", SEQ, "-mirror", "-au_dual", "-out_dir", str(d))
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
