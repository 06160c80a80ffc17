"""Autosave: the edited pose and painted mask come back after a crash; damaged files are refused."""

import numpy as np
import pytest

from anr_studio.components.autosave import Autosave, data_dir
from anr_studio.components.paint import PaintState
from anr_studio.components.pose_state import PoseState, standing_pose
from anr_studio.errors import AnrError


def test_autosave_round_trip_restores_pose_and_mask_as_one_undo(tmp_path):
    pose, paint = PoseState(num_betas=4), PaintState(size=32)
    pose.set_joint_axis(18, 2, 0.7)
    pose.set_beta(1, -1.5)
    pose.set_transl(np.array([0.1, 0.0, -0.2], np.float32))
    mask = np.zeros((32, 32), np.float32)
    mask[4:12, 8:20] = 1.0
    paint.set_mask(mask)
    saver = Autosave(tmp_path / "a" / "autosave.npz")
    saver.save(pose, paint)

    # A fresh studio (the old one "crashed": nothing was cleared) gets the work back.
    pose2, paint2 = PoseState(num_betas=4), PaintState(size=32)
    rec = saver.load()
    assert rec is not None and rec.mask.any()
    saver.restore(rec, pose2, paint2)
    np.testing.assert_allclose(pose2.pose, pose.pose)
    np.testing.assert_allclose(pose2.betas, pose.betas)
    np.testing.assert_allclose(pose2.transl, pose.transl)
    np.testing.assert_allclose(paint2.mask, mask)
    assert pose2.undo() and np.array_equal(pose2.pose, standing_pose()) and not pose2.undo()  # one step back to the start

    saver.clear()
    assert saver.load() is None
    saver.clear()  # clearing twice is fine


def test_damaged_autosave_is_refused_with_one_sentence(tmp_path):
    bad = tmp_path / "autosave.npz"
    bad.write_bytes(b"\x00not an npz" * 50)
    with pytest.raises(AnrError, match="autosave could not be read"):
        Autosave(bad).load()


def test_data_dir_follows_xdg(monkeypatch, tmp_path):
    import sys

    if sys.platform in ("win32", "darwin"):
        pytest.skip("XDG applies to Linux")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert data_dir() == tmp_path / "anr-studio"
