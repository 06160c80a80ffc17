"""Small BVH rigs in the layouts people download, and a writer for them.

Joint names, nesting and channel orders follow the public releases (CMU in its MotionBuilder-friendly
and 3ds-Max-friendly conversions, Mixamo, 3ds Max Biped, SMPL exports); the offsets are our own
round figures in each release's units. Offsets are given in a canonical frame (x: the figure's
left, y: up, z: forward) and turned into the file's axes by ``axes`` (columns: where canonical x,
y, z point in the file).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

Y_UP = np.eye(3)
Z_UP_FACING_MINUS_Y = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])  # 3ds Max: z up, front view looks along +y


@dataclass
class Rig:
    """``joints``: (name, parent, offset, end site or None), canonical axes, file units."""

    name: str
    joints: list[tuple[str, str | None, tuple, tuple | None]]
    rotation_order: str  # e.g. "ZYX" for "Zrotation Yrotation Xrotation"
    root_channels: str = "Xposition Yposition Zposition"
    axes: np.ndarray = field(default_factory=lambda: Y_UP)
    prefix: str = ""
    left_upper_arm: str = ""
    right_shin: str = ""  # the joint that moves the right shin (the knee)

    def file_vector(self, v) -> np.ndarray:
        return self.axes @ np.asarray(v, float)

    def rest(self, name: str) -> np.ndarray:
        """Returns the canonical rest position of joint ``name``."""
        table = {n: (p, o) for n, p, o, _ in self.joints}
        pos = np.zeros(3)
        while name is not None:
            parent, offset = table[name]
            pos += offset
            name = parent
        return pos


def write_bvh(path, rig: Rig, frames: list[dict], frame_time: float = 1 / 30) -> os.PathLike:
    """Writes ``rig`` with ``frames``: each maps a joint name to a scipy Rotation in canonical axes
    (relative to its parent) and "pos" to the root position (canonical axes; default: the root offset)."""
    children: dict = {}
    for name, parent, _, _ in rig.joints:
        children.setdefault(parent, []).append(name)
    info = {n: (o, e) for n, _, o, e in rig.joints}
    rot_channels = " ".join(f"{a}rotation" for a in rig.rotation_order)
    lines, order = ["HIERARCHY"], []

    def fmt(v):
        return " ".join(f"{x:.6f}" for x in rig.file_vector(v))

    def emit(name, depth):
        pad = "\t" * depth
        order.append(name)
        lines.append(f"{pad}{'ROOT' if depth == 0 else 'JOINT'} {rig.prefix}{name}")
        lines.append(pad + "{")
        offset, end = info[name]
        lines.append(f"{pad}\tOFFSET {fmt(offset)}")
        if depth == 0:
            chans = f"{rig.root_channels} {rot_channels}".split()
        else:
            chans = rot_channels.split()
        lines.append(f"{pad}\tCHANNELS {len(chans)} {' '.join(chans)}")
        for child in children.get(name, []):
            emit(child, depth + 1)
        if end is not None:
            lines.extend([f"{pad}\tEnd Site", pad + "\t{", f"{pad}\t\tOFFSET {fmt(end)}", pad + "\t}"])
        lines.append(pad + "}")

    emit(rig.joints[0][0], 0)
    lines += ["MOTION", f"Frames: {len(frames)}", f"Frame Time: {frame_time:.7f}"]
    n_pos = len(rig.root_channels.split())
    for frame in frames:
        values = []
        for name in order:
            if name == rig.joints[0][0] and n_pos:
                pos = rig.file_vector(frame.get("pos", info[name][0]))
                values += [pos["XYZ".index(c[0])] for c in rig.root_channels.split()]
            rot = frame.get(name, Rotation.identity())
            matrix = rig.axes @ rot.as_matrix() @ rig.axes.T
            with warnings.catch_warnings():  # a gimbal-locked frame still writes a valid rotation
                warnings.simplefilter("ignore", UserWarning)
                values += list(Rotation.from_matrix(matrix).as_euler(rig.rotation_order, degrees=True))
        lines.append(" ".join(f"{v:.6f}" for v in values))
    path.write_text("\n".join(lines) + "\n")
    return path


def _mirror(joints, left: str, right: str, rename=None):
    """Returns the left-side joints of ``joints`` mirrored to the right (x negated, names swapped)."""
    out = []
    names = {n for n, _, _, _ in joints}
    swap = (lambda s: s.replace(left, right)) if rename is None else rename
    for name, parent, offset, end in joints:
        out.append((swap(name), swap(parent) if parent and swap(parent) != parent and parent in names else parent,
                    (-offset[0], offset[1], offset[2]), None if end is None else (-end[0], end[1], end[2])))
    return out


def _arm_down(length: float, side: float, degrees: float) -> tuple:
    a = np.deg2rad(degrees)
    return (side * length * np.cos(a), -length * np.sin(a), 0.0)


def cmu_motionbuilder() -> Rig:
    """CMU, MotionBuilder-friendly conversion: ZYX channels, zero-offset LHipJoint / LowerBack / Neck /
    LeftShoulder / LeftFingerBase, thighs splayed 20 degrees at rest, units of about 5.6 cm."""
    splay = np.deg2rad(20)
    leg = [
        ("LHipJoint", "Hips", (0, 0, 0), None),
        ("LeftUpLeg", "LHipJoint", (1.7, -1.7, 0.8), None),
        ("LeftLeg", "LeftUpLeg", (7.2 * np.sin(splay), -7.2 * np.cos(splay), 0), None),
        ("LeftFoot", "LeftLeg", (7.4 * np.sin(splay), -7.4 * np.cos(splay), 0), None),
        ("LeftToeBase", "LeftFoot", (0.2, -0.5, 2.0), (0, 0, 1.0)),
    ]
    arm = [
        ("LeftShoulder", "Spine1", (0, 0, 0), None),
        ("LeftArm", "LeftShoulder", (3.3, 0.7, 0.1), None),
        ("LeftForeArm", "LeftArm", (5.0, 0, 0), None),
        ("LeftHand", "LeftForeArm", (3.3, 0, 0), None),
        ("LeftFingerBase", "LeftHand", (0, 0, 0), None),
        ("LeftHandIndex1", "LeftFingerBase", (0.8, 0, 0), (0.6, 0, 0)),
        ("LThumb", "LeftHand", (0, 0, 0), (0.6, 0, 0.6)),
    ]
    swap = lambda s: s.replace("Left", "Right").replace("LHip", "RHip").replace("LThumb", "RThumb")  # noqa: E731
    joints = [("Hips", None, (0, 16.5, 0), None)] + leg + _mirror(leg, "L", "R", swap) + [
        ("LowerBack", "Hips", (0, 0, 0), None), ("Spine", "LowerBack", (0, 2.2, 0), None),
        ("Spine1", "Spine", (0, 2.2, 0), None), ("Neck", "Spine1", (0, 0, 0), None),
        ("Neck1", "Neck", (0, 1.5, 0.2), None), ("Head", "Neck1", (0, 1.5, -0.3), (0, 1.5, 0)),
    ] + arm + _mirror(arm, "L", "R", swap)
    return Rig("cmu-motionbuilder", joints, "ZYX", left_upper_arm="LeftArm", right_shin="RightLeg")


def cmu_3dsmax() -> Rig:
    """CMU, 3ds-Max-friendly conversion (Biovision names): YXZ channels, Chest..Chest4, collars at
    Chest4, LeftCollar -> LeftShoulder -> LeftElbow -> LeftWrist, centimetres."""
    arm = [("LeftCollar", "Chest4", (3.0, 7.5, 0), None), ("LeftShoulder", "LeftCollar", (13.7, 0, 0), None),
           ("LeftElbow", "LeftShoulder", (26.4, 0, 0), None), ("LeftWrist", "LeftElbow", (21.7, 0, 0), (16.3, 0, 0))]
    leg = [("LeftHip", "Hips", (8.6, 0, 0), None), ("LeftKnee", "LeftHip", (0, -37.2, 0), None),
           ("LeftAnkle", "LeftKnee", (0, -37.3, 0), None), ("LeftToe", "LeftAnkle", (0, -8.9, 15.1), (0, -1.5, 6.9))]
    joints = [("Hips", None, (0, 85, 0), None), ("Chest", "Hips", (0, 10.7, 0), None),
              ("Chest2", "Chest", (0, 10.5, 0), None), ("Chest3", "Chest2", (0, 9.5, 0), None),
              ("Chest4", "Chest3", (0, 9.5, 0), None), ("Neck", "Chest4", (0, 13.5, 0), None),
              ("Head", "Neck", (0, 8.8, 0), (0, 17, 0))]
    joints += _mirror(arm, "Left", "Right") + arm + _mirror(leg, "Left", "Right") + leg
    return Rig("cmu-3dsmax", joints, "YXZ", left_upper_arm="LeftShoulder", right_shin="RightKnee")


def mixamo(arms_down: float = 45.0) -> Rig:
    """Mixamo export (mixamorig: names, ZYX channels, HeadTop_End and finger end joints), centimetres,
    resting in an A-pose with the arms ``arms_down`` degrees below horizontal."""
    arm = [("LeftShoulder", "Spine2", (6.1, 9.1, 0.7), None), ("LeftArm", "LeftShoulder", (12.7, -0.3, -2.6), None),
           ("LeftForeArm", "LeftArm", _arm_down(27.4, 1, arms_down), None),
           ("LeftHand", "LeftForeArm", _arm_down(27.6, 1, arms_down), None),
           ("LeftHandIndex1", "LeftHand", _arm_down(12.0, 1, arms_down), None),
           ("LeftHandIndex2", "LeftHandIndex1", _arm_down(3.8, 1, arms_down), None),
           ("LeftHandIndex3", "LeftHandIndex2", _arm_down(3.3, 1, arms_down), (0, 0, 0)),
           ("LeftHandThumb1", "LeftHand", (3.3, -2.0, 3.6), None),
           ("LeftHandThumb2", "LeftHandThumb1", (3.5, -1.5, 2.9), (2.7, -1.2, 1.8))]
    leg = [("LeftUpLeg", "Hips", (9.1, -6.7, -0.1), None), ("LeftLeg", "LeftUpLeg", (0, -40.6, -1.8), None),
           ("LeftFoot", "LeftLeg", (-0.5, -42.0, -3.4), None), ("LeftToeBase", "LeftFoot", (0.4, -10.5, 12.6), None),
           ("LeftToe_End", "LeftToeBase", (0, 0, 10.0), (0, 0, 0))]
    joints = [("Hips", None, (0, 98, 0), None), ("Spine", "Hips", (0, 9.9, -1.2), None),
              ("Spine1", "Spine", (0, 11.6, -1.4), None), ("Spine2", "Spine1", (0, 13.4, -1.6), None),
              ("Neck", "Spine2", (0, 15.0, 0.8), None), ("Head", "Neck", (0, 10.3, 3.1), None),
              ("HeadTop_End", "Head", (0, 18.5, 6.6), (0, 0, 0)),
              ("LeftEye", "Head", (2.9, 7.7, 9.1), (0, 0, 0)), ("RightEye", "Head", (-2.9, 7.7, 9.1), (0, 0, 0))]
    joints += arm + _mirror(arm, "Left", "Right") + _mirror(leg, "Left", "Right") + leg
    return Rig("mixamo", joints, "ZYX", root_channels="Xposition Yposition Zposition", prefix="mixamorig:",
               left_upper_arm="LeftArm", right_shin="RightLeg")


def biped() -> Rig:
    """3ds Max Biped: 'Bip01 ...' names with spaces, thighs under Bip01 Spine and clavicles under Bip01 Neck,
    z up and facing -y, ZXY channels, centimetres."""
    leg = [("Bip01 L Thigh", "Bip01 Spine", (9.0, -10.0, 0), None), ("Bip01 L Calf", "Bip01 L Thigh", (0, -42.0, 0), None),
           ("Bip01 L Foot", "Bip01 L Calf", (0, -41.0, 0), None), ("Bip01 L Toe0", "Bip01 L Foot", (0, -7.0, 13.0), None),
           ("Bip01 L Toe0Nub", "Bip01 L Toe0", (0, 0, 5.0), (0, 0, 0))]
    arm = [("Bip01 L Clavicle", "Bip01 Neck", (2.0, 0, 0), None),
           ("Bip01 L UpperArm", "Bip01 L Clavicle", (14.0, 0, 0), None),
           ("Bip01 L Forearm", "Bip01 L UpperArm", (28.0, 0, 0), None),
           ("Bip01 L Hand", "Bip01 L Forearm", (25.0, 0, 0), None),
           ("Bip01 L Finger0", "Bip01 L Hand", (9.0, 0, 0), (6.0, 0, 0))]
    joints = [("Bip01", None, (0, 100, 0), None), ("Bip01 Pelvis", "Bip01", (0, 0, 0), None),
              ("Bip01 Spine", "Bip01 Pelvis", (0, 10.0, 0), None)] + leg + _mirror(leg, " L ", " R ") + [
        ("Bip01 Spine1", "Bip01 Spine", (0, 15.0, 0), None), ("Bip01 Spine2", "Bip01 Spine1", (0, 15.0, 0), None),
        ("Bip01 Neck", "Bip01 Spine2", (0, 15.0, 0), None), ("Bip01 Head", "Bip01 Neck", (0, 9.0, 0), None),
        ("Bip01 HeadNub", "Bip01 Head", (0, 20.0, 0), (0, 0, 0))] + arm + _mirror(arm, " L ", " R ")
    return Rig("biped", joints, "ZXY", axes=Z_UP_FACING_MINUS_Y, left_upper_arm="Bip01 L UpperArm",
               right_shin="Bip01 R Calf")


def smpl_named(rest_joints: np.ndarray) -> Rig:
    """SMPL export (Pelvis, L_Hip, ..., L_Hand), metres, XYZ channels, offsets from ``rest_joints (24,3)``."""
    from anr_studio.body.skeleton import SMPL_JOINT_NAMES, SMPL_PARENTS

    def name(i):
        n = SMPL_JOINT_NAMES[i]
        for side, short in (("left_", "L_"), ("right_", "R_")):
            if n.startswith(side):
                return short + n[len(side):].capitalize()
        return n.capitalize()

    joints = []
    for i, p in enumerate(SMPL_PARENTS):
        offset = rest_joints[i] - (rest_joints[p] if p >= 0 else 0)
        leaf = i not in SMPL_PARENTS
        end = (0, 0.1, 0) if name(i) == "Head" else ((0.05 if "L_" in name(i) else -0.05, 0, 0) if "Hand" in name(i)
                                                     else ((0, 0, 0.05) if leaf else None))
        joints.append((name(i), None if p < 0 else name(p), tuple(offset), end))
    order = []  # the writer emits children in list order: keep SMPL order
    return Rig("smpl", joints + order, "XYZ", left_upper_arm="L_Shoulder", right_shin="R_Knee")


def daz() -> Rig:
    """CMU, Daz-friendly conversion: hip / abdomen / chest, lCollar -> lShldr -> lForeArm -> lHand with
    fingers, lButtock -> lThigh -> lShin -> lFoot, ZXY channels, centimetres."""
    arm = [("lCollar", "chest", (2.7, 19.3, -4.9), None), ("lShldr", "lCollar", (8.8, -2.0, 1.5), None),
           ("lForeArm", "lShldr", (28.2, -1.7, 0.5), None), ("lHand", "lForeArm", (22.6, 0.8, 7.1), None),
           ("lThumb1", "lHand", (1.2, -0.5, 3.4), None), ("lThumb2", "lThumb1", (3.4, -0.5, 3.4), (1.8, -1.2, 1.4)),
           ("lIndex1", "lHand", (7.8, 0.9, 5.6), None), ("lIndex2", "lIndex1", (2.5, -0.9, 1.6), (1.6, -0.2, 1.2)),
           ("lMid1", "lHand", (8.2, 1.2, 3.4), None), ("lMid2", "lMid1", (3.1, -0.6, 1.1), (2.5, -0.3, 0.8))]
    leg = [("lButtock", "hip", (8.8, 4.4, 1.2), None), ("lThigh", "lButtock", (0, -1.7, -2.2), None),
           ("lShin", "lThigh", (0, -36.8, 0.7), None), ("lFoot", "lShin", (-0.7, -45.1, -5.1), (1.1, -3.7, 12.1))]
    swap = lambda s: "r" + s[1:] if s and s[0] == "l" else s  # noqa: E731
    joints = [("hip", None, (0, 91, 0), None), ("abdomen", "hip", (0, 20.7, -0.7), None),
              ("chest", "abdomen", (0, 11.7, -0.5), None), ("neck", "chest", (0, 22.2, -2.2), None),
              ("head", "neck", (-0.2, 7.1, 1.2), None), ("leftEye", "head", (4.1, 8.0, 8.0), (1, 0, 0)),
              ("rightEye", "head", (-3.7, 8.0, 8.0), (1, 0, 0))]
    joints += _mirror(arm, "l", "r", swap) + arm + _mirror(leg, "l", "r", swap) + leg
    return Rig("daz", joints, "ZXY", left_upper_arm="lShldr", right_shin="rShin")


def posed_rest(rig: Rig, moves: dict[str, Rotation]) -> Rig:
    """Returns ``rig`` whose rest offsets below each joint in ``moves`` are turned by its rotation: a rest
    pose that is not symmetric (exporters that write the first captured frame as the rest pose)."""
    parents = {n: p for n, p, _, _ in rig.joints}

    def turn(name):
        rot, node = Rotation.identity(), parents[name]
        while node is not None:
            rot = moves.get(node, Rotation.identity()) * rot
            node = parents[node]
        return rot

    joints = [(n, p, tuple(turn(n).apply(o)), None if e is None else tuple((turn(n) * moves.get(n, Rotation.identity())).apply(e)))
              for n, p, o, e in rig.joints]
    return Rig(rig.name + "-posed", joints, rig.rotation_order, rig.root_channels, rig.axes, rig.prefix,
               rig.left_upper_arm, rig.right_shin)
