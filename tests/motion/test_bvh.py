"""BVH retargeting by structure: each common rig layout drives the built-in body's limbs the way
the file moves its own, whatever its names, axes, units and rest pose."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from anr_studio.body.model import BodyModel
from anr_studio.body.skeleton import SMPL_JOINT_NAMES, SMPL_PARENTS, joint_index
from anr_studio.errors import AnrError
from anr_studio.motion import load_motion
from anr_studio.motion.bvh import REST_BONES
from anr_studio.motion.bvh_skeleton import side_hint
from tests.motion import bvh_rigs

LIMB_BONES = [(f"{s}_{a}", f"{s}_{b}") for s in ("left", "right")
              for a, b in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle"))]


@pytest.fixture(scope="module")
def body():
    return BodyModel.default()


def _rigs(body):
    rest = body.rest_joints()[0].numpy()
    return {"cmu-motionbuilder": bvh_rigs.cmu_motionbuilder(), "cmu-3dsmax": bvh_rigs.cmu_3dsmax(),
            "mixamo": bvh_rigs.mixamo(), "biped": bvh_rigs.biped(), "smpl": bvh_rigs.smpl_named(rest),
            "daz": bvh_rigs.daz()}


EXPECTED = {  # SMPL joint -> the rig's joint, for the joints a reader would check first
    "cmu-motionbuilder": {"left_collar": "LeftShoulder", "left_shoulder": "LeftArm", "left_elbow": "LeftForeArm",
                          "left_hip": "LeftUpLeg", "right_knee": "RightLeg", "spine1": "LowerBack", "head": "Head"},
    "cmu-3dsmax": {"left_collar": "LeftCollar", "left_shoulder": "LeftShoulder", "left_elbow": "LeftElbow",
                   "left_wrist": "LeftWrist", "left_hip": "LeftHip", "right_knee": "RightKnee", "spine3": "Chest4"},
    "mixamo": {"left_shoulder": "LeftArm", "left_wrist": "LeftHand", "head": "Head", "right_foot": "RightToeBase",
               "spine3": "Spine2", "left_hand": "LeftHandIndex1"},
    "biped": {"pelvis": "Bip01 Spine", "left_hip": "Bip01 L Thigh", "right_knee": "Bip01 R Calf",
              "left_collar": "Bip01 L Clavicle", "spine3": "Bip01 Neck", "head": "Bip01 Head"},
    "smpl": {"left_collar": "L_Collar", "right_hand": "R_Hand", "spine2": "Spine2", "neck": "Neck"},
    "daz": {"left_hip": "lThigh", "right_knee": "rShin", "left_ankle": "lFoot", "left_collar": "lCollar",
            "left_shoulder": "lShldr", "left_elbow": "lForeArm", "left_wrist": "lHand", "spine1": "abdomen",
            "spine3": "chest", "neck": "neck", "head": "head"},
}


def _world(rig, frame, name):
    """Returns the canonical world rotation of rig joint ``name`` in ``frame``."""
    parents = {n: p for n, p, _, _ in rig.joints}
    rot = Rotation.identity()
    while name is not None:
        rot = frame.get(name, Rotation.identity()) * rot
        name = parents[name]
    return rot


def _rig_bone(rig, frame, top, bottom):
    """Returns the canonical direction of the rig's bone from joint ``top`` to joint ``bottom``."""
    offsets = {n: np.asarray(o, float) for n, _, o, _ in rig.joints}
    parents = {n: p for n, p, _, _ in rig.joints}
    vec, name = np.zeros(3), bottom
    while name != top:
        vec += _world(rig, frame, parents[name]).apply(offsets[name])
        name = parents[name]
    return vec / np.linalg.norm(vec)


def _angle(a, b) -> float:
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    return float(np.degrees(np.arccos(np.clip(a @ b, -1, 1))))


@pytest.mark.parametrize("rig_name", ["cmu-motionbuilder", "cmu-3dsmax", "mixamo", "biped", "smpl", "daz"])
def test_each_rig_layout_drives_the_body(tmp_path, body, rig_name):
    """Raising the left arm sideways raises the body's left wrist; bending the right knee moves the
    right ankle back; nothing else moves; random rotations give the body the file's limb directions."""
    rig = _rigs(body)[rig_name]
    raise_arm = Rotation.from_rotvec([0, 0, np.pi / 2])  # about forward: the left arm turns up
    bend_knee = Rotation.from_rotvec([np.pi / 2, 0, 0])  # about left: the shin turns back
    rng = np.random.default_rng(7)
    wild = {n: Rotation.from_rotvec(rng.normal(0, 0.35, 3)) for n, _, _, _ in rig.joints}
    frames = [{}, {rig.left_upper_arm: raise_arm, rig.right_shin: bend_knee}, wild]
    clip = load_motion(bvh_rigs.write_bvh(tmp_path / f"{rig_name}.bvh", rig, frames))
    for smpl, name in EXPECTED[rig_name].items():
        assert clip.meta["mapping"][smpl] == rig.prefix + name, smpl

    joints = body(clip.poses, transl=clip.transl).joints.numpy()
    moved = joints[1] - joints[0]
    assert moved[joint_index("left_wrist"), 1] > 0.3
    assert moved[joint_index("right_ankle"), 2] < -0.3 and moved[joint_index("right_ankle"), 1] > 0.3
    still = [i for i, n in enumerate(SMPL_JOINT_NAMES)
             if n not in ("left_elbow", "left_wrist", "left_hand", "right_ankle", "right_foot")]
    assert np.abs(moved[still]).max() < 0.01

    _check_limb_directions(rig, frames, clip, joints)


def _check_limb_directions(rig, frames, clip, joints):
    """Asserts the posed body's upper arms, forearms, thighs and shins point where the rig's do."""
    mapping = {k: v[len(rig.prefix):] for k, v in clip.meta["mapping"].items()}
    for f, frame in enumerate(frames):
        for top, bottom in LIMB_BONES:
            want = _rig_bone(rig, frame, mapping[top], mapping[bottom])
            got = joints[f, joint_index(bottom)] - joints[f, joint_index(top)]
            assert _angle(got, want) < 1.0, (f, top, bottom)


def test_a_rest_pose_that_is_not_symmetric(tmp_path, body):
    """Exporters that write a captured frame as the rest pose: one arm raised, one knee bent, the
    torso turned. Limbs pair by their bone lengths, and the body follows the file's limbs."""
    moves = {"LeftShoulder": Rotation.from_rotvec([0, 0, 1.0]), "RightKnee": Rotation.from_rotvec([0.7, 0, 0]),
             "LeftHip": Rotation.from_rotvec([-0.4, 0, 0.1]), "Chest2": Rotation.from_rotvec([0, 0.3, 0])}
    rig = bvh_rigs.posed_rest(bvh_rigs.cmu_3dsmax(), moves)
    rng = np.random.default_rng(3)
    frames = [{}, {n: Rotation.from_rotvec(rng.normal(0, 0.35, 3)) for n, _, _, _ in rig.joints}]
    clip = load_motion(bvh_rigs.write_bvh(tmp_path / "posed_rest.bvh", rig, frames))
    for smpl, name in EXPECTED["cmu-3dsmax"].items():
        assert clip.meta["mapping"][smpl] == name, smpl
    _check_limb_directions(rig, frames, clip, body(clip.poses, transl=clip.transl).joints.numpy())


def test_names_are_only_hints(tmp_path, body):
    """With meaningless joint names the structure still finds the limbs, and the feet tell left from right."""
    rig = bvh_rigs.cmu_3dsmax()
    rename = {n: f"Bone{i:02d}" for i, (n, _, _, _) in enumerate(rig.joints)}
    rig.joints = [(rename[n], rename.get(p), o, e) for n, p, o, e in rig.joints]
    frames = [{}, {rename["LeftShoulder"]: Rotation.from_rotvec([0, 0, np.pi / 2])}]
    clip = load_motion(bvh_rigs.write_bvh(tmp_path / "anonymous.bvh", rig, frames))
    assert clip.meta["mapping"]["left_shoulder"] == rename["LeftShoulder"]
    assert clip.meta["mapping"]["right_knee"] == rename["RightKnee"]
    assert clip.meta["notes"] == ["left and right from the direction of the feet"]
    joints = body(clip.poses).joints.numpy()
    assert joints[1, joint_index("left_wrist"), 1] - joints[0, joint_index("left_wrist"), 1] > 0.3


def test_arms_hanging_at_rest(tmp_path, body):
    """A rig resting with its arms down (as some mocap exports do): its rest frame hangs the body's arms."""
    rig = bvh_rigs.mixamo(arms_down=90.0)
    clip = load_motion(bvh_rigs.write_bvh(tmp_path / "arms_down.bvh", rig, [{}]))
    joints = body(clip.poses).joints.numpy()[0]
    for side in ("left", "right"):
        arm = joints[joint_index(f"{side}_wrist")] - joints[joint_index(f"{side}_shoulder")]
        assert _angle(arm, np.array([0.0, -1.0, 0.0])) < 1.0


def test_units_translation_and_frame_rate(tmp_path):
    rig = bvh_rigs.cmu_3dsmax()  # centimetres, hips 85 cm above the floor under the toes
    frames = [{}, {"pos": (10, 88, 50)}]
    clip = load_motion(bvh_rigs.write_bvh(tmp_path / "walk.bvh", rig, frames, frame_time=1 / 120))
    assert clip.meta["units"] == "cm" and clip.fps == pytest.approx(120, rel=1e-5)
    np.testing.assert_allclose(clip.transl[0], [0, 0.0, 0], atol=0.02)  # standing on the floor
    np.testing.assert_allclose(clip.transl[1] - clip.transl[0], [0.10, 0.03, 0.50], atol=1e-5)
    biped = bvh_rigs.biped()  # z up, facing -y: moving along the figure's forward is SMPL +z
    clip = load_motion(bvh_rigs.write_bvh(tmp_path / "biped.bvh", biped, [{}, {"pos": (0, 100, 30)}]))
    np.testing.assert_allclose(clip.transl[1] - clip.transl[0], [0, 0, 0.30], atol=1e-5)
    cmu = load_motion(bvh_rigs.write_bvh(tmp_path / "cmu.bvh", bvh_rigs.cmu_motionbuilder(), [{}]))
    assert cmu.meta["units"].startswith("unknown (scaled a 24.8-unit figure to 1.7 m")


def test_rest_bones_are_the_built_in_body(body):
    rest = body.rest_joints()[0].numpy()
    for part, (child, direction) in REST_BONES.items():
        for side, sign in (("left", 1), ("right", -1)):
            bone = rest[joint_index(f"{side}_{child}")] - rest[joint_index(f"{side}_{part}")]
            assert _angle(bone, np.array(direction) * [sign, 1, 1]) < 1.0, (side, part)
    assert SMPL_PARENTS[joint_index("left_knee")] == joint_index("left_hip")


@pytest.mark.parametrize("a, b, hint", [("LeftUpLeg", "RightUpLeg", 1), ("mixamorig:RightArm", "mixamorig:LeftArm", -1),
                                        ("LHipJoint", "RHipJoint", 1), ("Bip01 R Thigh", "Bip01 L Thigh", -1),
                                        ("lThigh", "rThigh", 1), ("Hip_L", "Hip_R", 1), ("left_hip", "right_hip", 1),
                                        ("Joint3", "Joint7", 0), ("ArmA", "ArmB", 0)])
def test_side_hints_from_names(a, b, hint):
    assert side_hint(a, b) == hint


def test_skeleton_without_limbs_names_the_file(tmp_path):
    rig = bvh_rigs.Rig("robot", [("Root", None, (0, 90, 0), None), ("Bone1", "Root", (0, -40, 0), None),
                                 ("Bone2", "Bone1", (0, -40, 0), (0, -5, 0)), ("Bone3", "Root", (0, 40, 0), (0, 5, 0))],
                       "ZXY")
    with pytest.raises(AnrError) as err:
        load_motion(bvh_rigs.write_bvh(tmp_path / "robot.bvh", rig, [{}]))
    msg = str(err.value)
    assert msg.startswith("robot.bvh: cannot find two legs and two arms in the skeleton (Root, Bone1, Bone2, Bone3)")
