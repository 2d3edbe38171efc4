"""plot_aus and `python -m faceau plot` write a real picture."""
import os
import subprocess
import sys

import numpy as np
import pytest

import faceau
from conftest import SHARED

matplotlib = pytest.importorskip("matplotlib")
REF = os.path.join(SHARED, "reference", "1878_01_002_vladimir_putin.csv")


def _not_blank(png):
    import matplotlib.image as mpimg
    assert os.path.getsize(png) > 10_000
    a = mpimg.imread(png)
    assert a.shape[0] > 200 and a.shape[1] > 400
    rgb = a[..., :3].reshape(-1, 3)
    assert rgb.std() > 0.05 and len(np.unique(rgb, axis=0)) > 20  # lines, shading, text


def test_plot_aus(tmp_path):
    df = faceau.read_csv(REF)
    fig = faceau.plot_aus(df, ["AU12", "AU06"], path=str(tmp_path / "aus.png"))
    assert len(fig.axes) == 2
    _not_blank(tmp_path / "aus.png")
    assert len(faceau.plot_aus(df).axes) == 17
    with pytest.raises(ValueError, match="AU99"):
        faceau.plot_aus(df, ["AU99"])


def test_plot_command(tmp_path):
    out = tmp_path / "cli.png"
    r = subprocess.run([sys.executable, "-m", "faceau", "plot", REF, "-o", str(out), "--aus", "AU12,AU25"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    _not_blank(out)


def test_c_cli_plot(tmp_path):
    """`faceau plot` (the C CLI) hands the command to the binding's interpreter."""
    from conftest import BIN
    out = tmp_path / "c_cli.png"
    env = dict(os.environ, FACEAU_PYTHON=sys.executable)
    r = subprocess.run([BIN, "plot", REF, "-o", str(out), "--aus", "AU12"], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    _not_blank(out)
    env["FACEAU_PYTHON"] = str(tmp_path / "no_such_python")
    r = subprocess.run([BIN, "plot", REF, "-o", str(out)], capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "no_such_python" in r.stderr and "pip install" in r.stderr
