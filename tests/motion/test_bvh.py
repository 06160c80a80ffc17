"""BVH retargeting onto SMPL: CMU and Mixamo names, known rotations, units, unmappable skeletons."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from anr_studio.body.skeleton import joint_index
from anr_studio.errors import AnrError
from anr_studio.motion import load_motion

# A CMU-style skeleton in centimetres, y up, facing +z, the figure's left at +x.
# (name, parent, offset); every joint has "Zrotation Xrotation Yrotation", the root also positions.
CMU = [
    ("Hips", None, (0, 95, 0)),
    ("LHipJoint", "Hips", (0, 0, 0)), ("LeftUpLeg", "LHipJoint", (9, -5, 0)), ("LeftLeg", "LeftUpLeg", (0, -43, 0)),
    ("LeftFoot", "LeftLeg", (0, -42, 0)), ("LeftToeBase", "LeftFoot", (0, -5, 12)),
    ("RHipJoint", "Hips", (0, 0, 0)), ("RightUpLeg", "RHipJoint", (-9, -5, 0)), ("RightLeg", "RightUpLeg", (0, -43, 0)),
    ("RightFoot", "RightLeg", (0, -42, 0)), ("RightToeBase", "RightFoot", (0, -5, 12)),
    ("LowerBack", "Hips", (0, 5, 0)), ("Spine", "LowerBack", (0, 10, 0)), ("Spine1", "Spine", (0, 10, 0)),
    ("Neck", "Spine1", (0, 15, 0)), ("Neck1", "Neck", (0, 5, 0)), ("Head", "Neck1", (0, 5, 0)),
    ("LeftShoulder", "Spine1", (3, 10, 0)), ("LeftArm", "LeftShoulder", (15, 0, 0)),
    ("LeftForeArm", "LeftArm", (26, 0, 0)), ("LeftHand", "LeftForeArm", (25, 0, 0)),
    ("LeftFingerBase", "LeftHand", (5, 0, 0)),
    ("RightShoulder", "Spine1", (-3, 10, 0)), ("RightArm", "RightShoulder", (-15, 0, 0)),
    ("RightForeArm", "RightArm", (-26, 0, 0)), ("RightHand", "RightForeArm", (-25, 0, 0)),
    ("RightFingerBase", "RightHand", (-5, 0, 0)),
]


def write_bvh(path, joints, frames: list[dict[str, tuple]], frame_time=1 / 30, scale=1.0, prefix=""):
    """Writes a BVH: ``frames`` maps joint name -> (Z, X, Y) degrees, and "pos" -> root position."""
    children = {}
    for name, parent, _ in joints:
        children.setdefault(parent, []).append(name)
    offsets = {n: o for n, _, o in joints}
    lines = ["HIERARCHY"]

    def emit(name, depth):
        pad = "  " * depth
        head = "ROOT" if depth == 0 else "JOINT"
        lines.append(f"{pad}{head} {prefix}{name}")
        lines.append(pad + "{")
        ox, oy, oz = (v * scale for v in offsets[name])
        lines.append(f"{pad}  OFFSET {ox} {oy} {oz}")
        chans = "Xposition Yposition Zposition Zrotation Xrotation Yrotation" if depth == 0 else "Zrotation Xrotation Yrotation"
        lines.append(f"{pad}  CHANNELS {len(chans.split())} {chans}")
        for child in children.get(name, []):
            emit(child, depth + 1)
        if name not in children:
            lines.extend([f"{pad}  End Site", pad + "  {", f"{pad}    OFFSET 0 {5 * scale} 0", pad + "  }"])
        lines.append(pad + "}")

    emit(joints[0][0], 0)
    order = []

    def walk(name):
        order.append(name)
        for child in children.get(name, []):
            walk(child)

    walk(joints[0][0])
    lines += ["MOTION", f"Frames: {len(frames)}", f"Frame Time: {frame_time}"]
    for f in frames:
        values = []
        for name in order:
            if name == joints[0][0]:
                values += [v * scale for v in f.get("pos", offsets[name])]
            values += list(f.get(name, (0, 0, 0)))
        lines.append(" ".join(f"{v:.6f}" for v in values))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_cmu_bvh_retargets_known_rotations(tmp_path):
    frames = [
        {},
        {"LeftForeArm": (0, 0, -90)},  # elbow flexion about y
        {"LeftArm": (30, 45, 60)},  # intrinsic Z, X, Y (BVH channel order)
        {"Neck1": (0, 20, 0), "pos": (10, 100, 20)},  # a CMU-only joint folds into the head
        {"Hips": (0, 0, 90), "LeftUpLeg": (0, -30, 0)},  # root yaw; the hip is relative to its parent
    ]
    clip = load_motion(write_bvh(tmp_path / "cmu.bvh", CMU, frames))
    assert clip.poses.shape == (5, 24, 3) and clip.fps == pytest.approx(30)
    assert clip.meta["units"] == "cm" and clip.meta["mapping"]["spine1"] == "LowerBack"
    assert clip.meta["mapping"]["left_collar"] == "LeftShoulder" and clip.meta["mapping"]["left_shoulder"] == "LeftArm"
    np.testing.assert_allclose(clip.poses[0], 0, atol=1e-6)
    expected = np.zeros((24, 3))
    expected[joint_index("left_elbow")] = [0, -np.pi / 2, 0]
    np.testing.assert_allclose(clip.poses[1], expected, atol=1e-5)
    zxy = Rotation.from_euler("ZXY", [30, 45, 60], degrees=True).as_rotvec()
    np.testing.assert_allclose(clip.poses[2, joint_index("left_shoulder")], zxy, atol=1e-5)
    assert np.abs(np.delete(clip.poses[2], joint_index("left_shoulder"), 0)).max() < 1e-5
    np.testing.assert_allclose(clip.poses[3, joint_index("head")], [np.deg2rad(20), 0, 0], atol=1e-5)
    np.testing.assert_allclose(clip.poses[3, joint_index("neck")], 0, atol=1e-6)
    np.testing.assert_allclose(clip.poses[4, 0], [0, np.pi / 2, 0], atol=1e-5)
    np.testing.assert_allclose(clip.poses[4, joint_index("left_hip")], [-np.pi / 6, 0, 0], atol=1e-5)
    # centimetres -> metres; standing height (hips 95 cm over the toes) is transl y = 0
    np.testing.assert_allclose(clip.transl[0], 0, atol=1e-6)
    np.testing.assert_allclose(clip.transl[3], [0.10, 0.05, 0.20], atol=1e-6)


def test_mixamo_names_metres_and_facing(tmp_path):
    rename = {"Hips": "Hips", "LeftUpLeg": "LeftUpLeg", "LeftLeg": "LeftLeg", "LeftFoot": "LeftFoot",
              "LeftToeBase": "LeftToeBase", "LowerBack": "Spine", "Spine": "Spine1", "Spine1": "Spine2"}
    joints = [(rename.get(n, n), rename.get(p, p) if p else None, o) for n, p, o in CMU
              if n not in ("LHipJoint", "RHipJoint", "Neck1")]
    joints = [(n, {"LHipJoint": "Hips", "RHipJoint": "Hips", "Neck1": "Neck"}.get(p, p), o) for n, p, o in joints]
    # the figure faces -z with its left at -x: a BVH rotation about x is a SMPL rotation about -x
    joints = [(n, p, (-o[0], o[1], -o[2])) for n, p, o in joints]
    frames = [{}, {"LeftLeg": (0, 40, 0), "pos": (0, 95, -50)}]
    clip = load_motion(write_bvh(tmp_path / "mixamo.bvh", joints, frames, scale=0.01, prefix="mixamorig:"))
    assert clip.meta["units"] == "m" and clip.meta["mapping"]["spine3"] == "mixamorig:Spine2"
    np.testing.assert_allclose(clip.poses[1, joint_index("left_knee")], [-np.deg2rad(40), 0, 0], atol=1e-5)
    np.testing.assert_allclose(clip.transl[1], [0, 0, 0.5], atol=1e-6)  # moving along BVH -z is forward


def test_rest_pose_differences_are_corrected(tmp_path):
    """CMU's rest pose splays the thighs 20 deg outward and this rig rests in an A-pose: a frame
    that rotates the thigh back to vertical and the arm down to horizontal is SMPL's zero pose."""
    splay = np.deg2rad(20)
    droop = np.deg2rad(40)
    leg = lambda side, length: (side * length * np.sin(splay), -length * np.cos(splay), 0)  # noqa: E731
    arm = lambda side, length: (side * length * np.cos(droop), -length * np.sin(droop), 0)  # noqa: E731
    offsets = {"LeftLeg": leg(1, 43), "LeftFoot": leg(1, 42), "RightLeg": leg(-1, 43), "RightFoot": leg(-1, 42),
               "LeftForeArm": arm(1, 26), "LeftHand": arm(1, 25), "RightForeArm": arm(-1, 26), "RightHand": arm(-1, 25)}
    joints = [(n, p, offsets.get(n, o)) for n, p, o in CMU]
    straighten = {"LeftUpLeg": (-20, 0, 0), "RightUpLeg": (20, 0, 0), "LeftArm": (40, 0, 0), "RightArm": (-40, 0, 0)}
    clip = load_motion(write_bvh(tmp_path / "splayed.bvh", joints, [{}, straighten]))
    np.testing.assert_allclose(clip.poses[1], 0, atol=1e-5)
    # the rest frame itself: thighs 20 deg out (about +-z), arms 40 deg down
    np.testing.assert_allclose(clip.poses[0, joint_index("left_hip")], [0, 0, splay], atol=1e-5)
    np.testing.assert_allclose(clip.poses[0, joint_index("right_shoulder")], [0, 0, droop], atol=1e-5)
    np.testing.assert_allclose(clip.poses[0, joint_index("left_knee")], 0, atol=1e-5)


def test_unmappable_skeleton_names_file_and_joints(tmp_path):
    joints = [("Root", None, (0, 90, 0)), ("Bone1", "Root", (0, -40, 0)), ("Bone2", "Bone1", (0, -40, 0)),
              ("Bone3", "Root", (0, 40, 0))]
    path = write_bvh(tmp_path / "robot.bvh", joints, [{}])
    with pytest.raises(AnrError) as err:
        load_motion(path)
    msg = str(err.value)
    assert msg.startswith("robot.bvh: cannot map the BVH skeleton onto SMPL")
    for joint in ("left_hip", "right_knee", "left_elbow", "head"):
        assert joint in msg
    assert "Bone1" in msg  # shows what the file has


def test_broken_bvh_is_an_anr_error(tmp_path):
    path = tmp_path / "broken.bvh"
    path.write_text("HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0\n")
    with pytest.raises(AnrError, match="broken.bvh: cannot parse it as BVH"):
        load_motion(path)
