"""Library errors as faceau.Error subclasses naming the file."""
import os
import subprocess
import sys

import pytest

import faceau


def test_missing_video(tmp_path):
    p = str(tmp_path / "no_such_video.avi")
    with pytest.raises(faceau.Error) as e:
        faceau.analyze(p, progress=False)
    assert "no_such_video.avi" in str(e.value) and type(e.value) is not faceau.Error


def test_not_a_video(tmp_path):
    p = tmp_path / "text.mp4"
    p.write_text("not a video\n")
    with pytest.raises(faceau.VideoError) as e:
        faceau.analyze(str(p), progress=False)
    assert "text.mp4" in e.value.message and e.value.status == "VIDEO"
    with pytest.raises(faceau.Error, match="text.mp4"):
        next(faceau.frames(str(p)))


def test_missing_image(tmp_path):
    with pytest.raises(faceau.Error, match="nothere.jpg"):
        faceau.analyze(str(tmp_path / "nothere.jpg"), progress=False)


def test_missing_models(tmp_path):
    """No models anywhere: ModelNotFound naming the places tried (in a fresh interpreter, since
    the models are loaded once per process)."""
    env = dict(os.environ, FACEAU_MODELS=str(tmp_path / "nomodels"), HOME=str(tmp_path),
               XDG_DATA_HOME=str(tmp_path / "xdg"))
    code = ("import faceau, sys\n"
            "for make in (lambda: faceau.Detector(), lambda: faceau.Tracker(), lambda: faceau.analyze(sys.argv[1], progress=False)):\n"
            "    try:\n"
            "        make()\n"
            "    except faceau.ModelNotFound as e:\n"
            "        print(type(e).__name__, e.status, 'nomodels' in str(e) and ('main_clnf' in str(e) or 'MTCNN' in str(e)))\n"
            "    else:\n"
            "        print('no error')\n")
    from conftest import VIDEO
    r = subprocess.run([sys.executable, "-c", code, VIDEO], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 3, r.stdout
    for line in lines:
        assert line == "ModelNotFound MODEL_NOT_FOUND True", line


def test_corrupt_model_names_file(tmp_path):
    """A damaged model file is named."""
    models = os.environ["FACEAU_MODELS"]
    d = tmp_path / "models"
    d.mkdir()
    for name in os.listdir(models):
        if name != "mtcnn_detector":
            os.symlink(os.path.join(models, name), d / name)
    (d / "mtcnn_detector").mkdir()
    for name in os.listdir(os.path.join(models, "mtcnn_detector")):
        (d / "mtcnn_detector" / name).write_bytes(b"\x01\x00")
    with pytest.raises(faceau.Error) as e:
        faceau.Detector(model_dir=str(d))
    assert "mtcnn_detector" in str(e.value) and isinstance(e.value, (faceau.ModelCorrupt, faceau.FileError))


def test_closed_object():
    det = faceau.Detector()
    det.close()
    det.close()
    with pytest.raises(faceau.StateError):
        det.detect(None)
