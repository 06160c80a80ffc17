"""validate(): one clear sentence per problem; Capture() raises the first; `capture info`."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from anr_studio.capture import Capture, CaptureWriter, validate
from anr_studio.cli import main
from anr_studio.errors import AnrError

H, W, N = 12, 10, 5


def _valid(path: Path) -> Path:
    K = np.array([[20.0, 0, 5], [0, 20.0, 6], [0, 0, 1]], np.float32)
    with CaptureWriter(path, "carol", H, W, 30, betas=np.zeros(10), camera=(K, np.eye(3), [0, 0, 3])) as w:
        for i in range(N):
            w.append(np.full((H, W, 3), i, np.uint8), mask=np.zeros((H, W), np.uint8), pose=np.zeros((24, 3)))
        w.set_split([0, 1, 2], [3, 4])
        w.set_keyframes([0, 2], [0.5, 0.8])
    return path


@pytest.fixture
def cap_path(tmp_path):
    return _valid(tmp_path / "cap.h5")


def _edit(path: Path, fn) -> None:
    with h5py.File(path, "r+") as f:
        fn(f)


def _replace(key, data):
    def fn(f):
        del f[key]
        f[key] = data
    return fn


def test_valid_file_has_no_problems(cap_path):
    assert validate(cap_path) == []


CASES = [
    ("wrong format", lambda f: f.attrs.__setitem__("format", "something"), "attribute format is 'something', expected 'anr-capture'"),
    ("newer version", lambda f: f.attrs.__setitem__("version", 2), "attribute version is 2, expected 1 (written by a newer"),
    ("bad fps", lambda f: f.attrs.__setitem__("fps", -3.0), "attribute fps is -3.0, expected a positive number"),
    ("missing pose", lambda f: f.__delitem__("body/pose"), "dataset body/pose is missing, expected it in every capture"),
    ("missing background", lambda f: f.__delitem__("background"), "dataset background is missing"),
    ("pose count", _replace("body/pose", np.zeros((4, 24, 3), np.float32)), r"body/pose has shape (4, 24, 3), expected (5, 24, 3)"),
    ("pose joints", _replace("body/pose", np.zeros((5, 23, 3), np.float32)), r"body/pose has shape (5, 23, 3), expected (5, 24, 3)"),
    ("transl count", _replace("body/transl", np.zeros((6, 3), np.float32)), r"body/transl has shape (6, 3), expected (5, 3)"),
    ("camera count", _replace("camera/K", np.tile(np.eye(3, dtype=np.float32), (3, 1, 1))), r"camera/K has shape (3, 3, 3), expected (5, 3, 3)"),
    ("mask count", _replace("masks", np.zeros((4, H, W), np.uint8)), r"masks has shape (4, 12, 10), expected (5, 12, 10)"),
    ("frames dtype", _replace("frames", np.zeros((N, H, W, 3), np.float32)), "frames has dtype float32, expected uint8"),
    ("pose dtype", _replace("body/pose", np.zeros((N, 24, 3), np.float64)), "body/pose has dtype float64, expected float32"),
    ("nan pose", _replace("body/pose", np.where(np.arange(N)[:, None, None] == 3, np.nan, 0).repeat(24, 1).repeat(3, 2).astype(np.float32)),
     "body/pose contains NaN or Inf (first at index 3), expected finite numbers"),
    ("not a rotation", _replace("camera/R", 2 * np.eye(3, dtype=np.float32)), "camera/R[0] is not a rotation"),
    ("split range", _replace("split/test", np.array([3, 9])), "split/test holds index 9, expected frame indices in [0, 5)"),
    ("split overlap", _replace("split/test", np.array([2, 4])), "split/train and split/test share frame 2, expected disjoint"),
    ("keyframe range", _replace("keyframes", np.array([-1, 2])), "keyframes holds index -1"),
]


@pytest.mark.parametrize("label, edit, message", CASES, ids=[c[0] for c in CASES])
def test_each_problem_is_reported(cap_path, label, edit, message):
    _edit(cap_path, edit)
    problems = validate(cap_path)
    assert problems, label
    assert any(message in p for p in problems), problems
    assert all(p.startswith(str(cap_path) + ": ") for p in problems)  # each names the file
    with pytest.raises(AnrError) as err:
        Capture(cap_path)
    assert str(err.value) == problems[0]


def test_truncated_and_foreign_files(tmp_path, cap_path):
    data = cap_path.read_bytes()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(data[: len(data) // 2])
    [problem] = validate(cut)
    assert problem.startswith(f"{cut}: ") and "truncated" in problem
    text = tmp_path / "notes.h5"
    text.write_text("hello")
    assert validate(text) == [f"{text}: not a readable HDF5 file (truncated or another format), expected an ANR capture (.h5)"]
    assert "file does not exist" in validate(tmp_path / "nope.h5")[0]
    assert validate(tmp_path) == [f"{tmp_path}: is a folder, expected an ANR capture (.h5)"]


def test_capture_info(cap_path, capsys, tmp_path):
    assert main(["capture", "info", str(cap_path)]) == 0
    out = capsys.readouterr().out
    for text in ("frames      5", "resolution  10x12", "identity    carol", "masks       yes",
                 "keyframes   2 (coverage 0.80)", "split       train 3, test 2", "body model  default", "fps         30"):
        assert text in out, out
    bad = tmp_path / "bad.h5"
    shutil.copy(cap_path, bad)
    _edit(bad, lambda f: f.__delitem__("body/transl"))
    assert main(["capture", "info", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"anr-studio: error: {bad}: dataset body/transl is missing, expected it in every capture"]
