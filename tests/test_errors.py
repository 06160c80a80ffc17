import numpy as np
import pytest
import torch

from anr_studio.errors import AnrError, expect_finite, expect_shape
from anr_studio.fileio import atomic_path, atomic_write_text


def test_expect_shape_binds_named_dims():
    assert expect_shape(torch.zeros(5, 24, 3), ("N", 24, 3), "pose") == {"N": 5}


def test_expect_shape_message_names_file_field_and_expectation():
    with pytest.raises(AnrError) as exc:
        expect_shape(np.zeros((120, 23, 3)), ("N", 24, 3), "body/pose", "capture.h5")
    assert str(exc.value) == "capture.h5: body/pose has shape (120, 23, 3), expected (N, 24, 3)"


def test_expect_shape_named_dims_must_agree():
    with pytest.raises(AnrError):
        expect_shape(np.zeros((3, 4)), ("N", "N"), "square")


def test_expect_finite_rejects_nan():
    with pytest.raises(AnrError, match="pose contains NaN"):
        expect_finite(torch.tensor([0.0, float("nan")]), "pose")
    expect_finite(np.zeros(3), "pose")


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "a.txt"
    atomic_write_text(target, "good")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash while writing")
    assert target.read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_atomic_write_gives_normal_permissions(tmp_path):
    import os

    umask = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "b.txt", "x")
    finally:
        os.umask(umask)
    assert (tmp_path / "b.txt").stat().st_mode & 0o777 == 0o644
