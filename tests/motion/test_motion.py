"""Motion clips: SMPL .npz layouts, BVH retargeting (CMU, Mixamo), resampling, built-in clips."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from anr_studio.body.skeleton import joint_index
from anr_studio.errors import AnrError
from anr_studio.motion import BUILTIN_MOTIONS, MOTION_DIR, MotionClip, load_motion
from scripts.build_motions import BUILDERS, write_builtin
from anr_studio.motion.smpl_npz import load_smpl_npz


def _angle(rotvec) -> float:
    return float(np.linalg.norm(rotvec))


# -- .npz ----------------------------------------------------------------------------------

def test_npz_poses_trans_layout(tmp_path):
    rng = np.random.default_rng(0)
    poses = rng.normal(0, 0.3, (7, 72)).astype(np.float32)
    trans = rng.normal(0, 1, (7, 3)).astype(np.float32)
    np.savez(tmp_path / "a.npz", poses=poses, trans=trans, mocap_framerate=np.array(120.0))
    clip = load_smpl_npz(tmp_path / "a.npz")
    assert clip.poses.shape == (7, 24, 3) and clip.fps == 120.0 and clip.name == "a"
    np.testing.assert_array_equal(clip.poses.reshape(7, 72), poses)
    np.testing.assert_array_equal(clip.transl, trans)


def test_npz_split_layout_and_smplh(tmp_path):
    rng = np.random.default_rng(1)
    root, body = rng.normal(0, 0.3, (5, 3)), rng.normal(0, 0.3, (5, 69))
    np.savez(tmp_path / "b.npz", global_orient=root, body_pose=body, transl=np.ones((5, 3)), fps=25)
    clip = load_smpl_npz(tmp_path / "b.npz")
    np.testing.assert_allclose(clip.poses[:, 0], root, rtol=1e-6)
    np.testing.assert_allclose(clip.poses[:, 1:].reshape(5, 69), body, rtol=1e-6)
    assert clip.fps == 25 and np.all(clip.transl == 1)
    # SMPL-H (AMASS): 22 body joints then 30 finger joints; SMPL's hand joints 22/23 must stay zero.
    smplh = rng.normal(0, 0.3, (4, 156)).astype(np.float32)
    np.savez(tmp_path / "h.npz", poses=smplh, trans=np.zeros((4, 3)))
    clip = load_smpl_npz(tmp_path / "h.npz")
    np.testing.assert_array_equal(clip.poses[:, :22].reshape(4, 66), smplh[:, :66])
    assert np.all(clip.poses[:, 22:] == 0) and clip.fps == 30.0 and np.all(clip.transl == 0)


@pytest.mark.parametrize("arrays, match", [
    (dict(poses=np.zeros((3, 50))), "50 values per frame, expected 72"),
    (dict(betas=np.zeros(10)), "no poses found"),
    (dict(poses=np.zeros((3, 72)), trans=np.zeros((2, 3))), r"trans has shape \(2, 3\), expected \(3, ...\)"),
    (dict(poses=np.array([object()] * 3)), "array .poses. has dtype object, expected numbers"),
])
def test_npz_errors_name_file_and_field(tmp_path, arrays, match):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(AnrError, match=match) as err:
        load_motion(path)
    assert str(err.value).startswith("bad.npz: ")


def test_upright_turns_y_down_data_upright():
    flip = Rotation.from_euler("x", np.pi)
    poses = np.zeros((3, 24, 3))
    poses[:, 0] = (flip * Rotation.from_euler("y", [[0.1], [0.2], [0.3]])).as_rotvec()
    clip = MotionClip(poses, np.array([[0, 2, 0], [0, 2.1, 0.5], [0, 2, 1]]), 30, "aist-like").upright()
    up = Rotation.from_rotvec(clip.poses[:, 0]).apply([0, 1, 0])
    assert np.all(up[:, 1] > 0.99)
    forward = Rotation.from_rotvec(clip.poses[0, 0]).apply([0, 0, 1])
    np.testing.assert_allclose(forward, [0, 0, 1], atol=1e-6)
    np.testing.assert_allclose(clip.transl[0], 0, atol=1e-6)
    assert clip.transl[1, 1] == pytest.approx(-0.1, abs=1e-6)  # y-down data: going "up" in y was down


# -- resampling ----------------------------------------------------------------------------

def test_resample_slerps_rotations_and_interpolates_translation():
    n = 31
    poses = np.zeros((n, 24, 3))
    poses[:, 5, 2] = np.linspace(0, np.pi / 2, n)  # right knee: constant speed about z
    # left elbow: 170 deg -> 190 deg (= -170) about y; slerp must go through 180, not back through 0
    angles = np.deg2rad(np.linspace(170, 190, n))
    poses[:, 18] = Rotation.from_euler("y", angles[:, None]).as_rotvec()
    transl = np.stack([np.linspace(0, 3, n), np.zeros(n), np.zeros(n)], 1)
    clip = MotionClip(poses, transl, 30, "spin")
    fast = clip.resample(60)
    assert len(fast) == 61 and fast.fps == 60
    np.testing.assert_allclose(fast.poses[:, 5, 2], np.linspace(0, np.pi / 2, 61), atol=1e-5)
    np.testing.assert_allclose(fast.transl[:, 0], np.linspace(0, 3, 61), atol=1e-5)
    mid = Rotation.from_rotvec(fast.poses[30, 18]).magnitude()
    assert mid == pytest.approx(np.pi, abs=1e-4)
    slow = clip.resample(10)
    assert len(slow) == 11
    np.testing.assert_allclose(slow.poses[:, 5, 2], np.linspace(0, np.pi / 2, 11), atol=1e-5)
    odd = clip.resample(7)  # 1 s at 7 fps -> 8 frames, the last at t = 1.0
    assert len(odd) == 8 and odd.poses[-1, 5, 2] == pytest.approx(np.pi / 2, abs=1e-5)
    with pytest.raises(AnrError, match="target fps is 0"):
        clip.resample(0)


# -- built-in clips ------------------------------------------------------------------------

def test_builtin_clips(tmp_path):
    for name in BUILTIN_MOTIONS:
        clip = load_motion(name)
        assert clip.poses.shape[1:] == (24, 3) and len(clip) >= 60 and clip.fps == 30.0
        assert np.all(np.isfinite(clip.poses)) and np.abs(clip.poses).max() < np.pi + 1e-4
    walk = load_motion("walk")
    knee = np.linalg.norm(walk.poses[:, joint_index("left_knee")], axis=1)
    assert knee.max() - knee.min() > 0.6  # the knee flexes ~60 deg each stride
    hip_l, hip_r = walk.poses[:, joint_index("left_hip"), 0], walk.poses[:, joint_index("right_hip"), 0]
    assert np.corrcoef(hip_l, hip_r)[0, 1] < -0.9  # legs swing in opposition
    assert np.ptp(walk.transl[:, 1]) > 0.03  # pelvis bob
    turn = load_motion("turn")
    yaw = np.unwrap(Rotation.from_rotvec(turn.poses[:, 0]).as_euler("YXZ")[:, 0])
    assert abs(yaw[-1] - yaw[0]) > 1.9 * np.pi and np.abs(turn.transl[:, [0, 2]]).max() < 1e-6
    arms = load_motion("arms")
    lift = Rotation.from_rotvec(arms.poses[:, joint_index("left_shoulder")]).apply([1, 0, 0])[:, 1]
    assert lift.min() < -0.9 and lift.max() > 0.9  # hands from the hips to overhead
    # the shipped files are what the deterministic script writes
    written = write_builtin(tmp_path)
    assert [p.stem for p in written] == list(BUILDERS)
    for path in written:
        np.testing.assert_array_equal(np.load(path)["poses"], np.load(MOTION_DIR / path.name)["poses"])


def test_unknown_motion_name():
    with pytest.raises(AnrError, match="not a built-in clip or a motion file"):
        load_motion("moonwalk")
    with pytest.raises(AnrError, match="file does not exist"):
        load_motion("missing.bvh")
