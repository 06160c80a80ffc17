"""BVH motion capture retargeted onto the SMPL skeleton.

A BVH rest pose has every joint frame aligned with the file's world axes, as SMPL's rest pose
has. So the world rotation of a BVH joint at frame f is its rotation *relative to the rest
pose*, and it is the world rotation of the SMPL joint that moves the same bone. We map SMPL
joints to BVH joints by name (CMU, Mixamo, 3ds Max Biped or SMPL names) and by the skeleton's
structure (the spine chain runs from the hips to the joint the arms hang from), compose world
rotations, express them in SMPL axes, correct each limb for the difference between the BVH
rest bone and SMPL's T-pose bone (CMU's splayed thighs, A-pose rigs), and take SMPL-local
rotations from them. BVH joints with
no SMPL counterpart (CMU's LHipJoint, Neck1, fingers) are folded into the next mapped joint;
SMPL joints with no BVH counterpart (toes, collars, hands) keep the identity.

Translation: the root's displacement in metres from standing at the origin: horizontally
relative to frame 0, vertically relative to the rest-pose standing height over the floor
(the file's up = 0). Units come from the rest figure's height: metres (0.5-3), centimetres
(50-300), millimetres (500-3000); other scales are taken as a 1.7 m tall figure.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from anr_studio.body.skeleton import SMPL_JOINT_NAMES, SMPL_PARENTS, joint_index
from anr_studio.errors import AnrError
from anr_studio.motion.clip import MotionClip

# Candidate BVH names per SMPL joint, normalized (lower case, no separators or namespaces);
# {s} = left/right, {c} = l/r. First match wins, so the most specific names come first.
_LIMB_CANDIDATES: dict[str, tuple[str, ...]] = {
    "hip": ("{s}upleg", "{s}thigh", "{c}thigh", "{c}upleg", "{s}upperleg", "{c}upperleg", "{s}hip", "{c}hip", "{c}femur"),
    "knee": ("{s}leg", "{s}knee", "{c}knee", "{s}shin", "{c}shin", "{s}calf", "{c}calf", "{s}lowerleg",
             "{c}lowerleg", "{c}leg", "{c}tibia"),
    "ankle": ("{s}foot", "{s}ankle", "{c}ankle", "{c}foot"),
    "foot": ("{s}toebase", "{s}toe", "{s}toes", "{c}toe", "{c}toes", "{c}toe0", "{s}toe0", "{c}toebase"),
    "collar": ("{s}shoulder", "{s}collar", "{c}collar", "{s}clavicle", "{c}clavicle", "{c}shoulder"),
    "shoulder": ("{s}arm", "{s}upperarm", "{c}upperarm", "{c}arm", "{c}humerus", "{s}uparm", "{c}uparm"),
    "elbow": ("{s}forearm", "{s}lowerarm", "{c}forearm", "{c}lowerarm", "{s}elbow", "{c}elbow", "{c}radius"),
    "wrist": ("{s}hand", "{c}hand", "{s}wrist", "{c}wrist"),
    "hand": ("{s}fingerbase", "{c}fingers", "{s}fingers", "{s}handmiddle1", "{s}handindex1", "{c}finger2"),
}
_PELVIS = ("hips", "pelvis", "hip", "root")
# SMPL joints a motion cannot do without; the rest fall back to the identity.
REQUIRED = ("pelvis", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
            "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "head")
_SMPL_NORMALIZED = {n.replace("_", ""): n for n in SMPL_JOINT_NAMES}

FALLBACK_HEIGHT_M = 1.7


def _normalize(name: str) -> str:
    n = re.split(r"[:|]", name)[-1].lower()
    n = re.sub(r"[\s_\-.]", "", n)
    return re.sub(r"^bip0*1", "", n)


class _Skeleton:
    def __init__(self, root) -> None:
        self.joints, self.parents = [], []
        stack = [(root, -1)]
        while stack:
            joint, parent = stack.pop()
            self.joints.append(joint)
            self.parents.append(parent)
            index = len(self.joints) - 1
            stack.extend((child, index) for child in reversed(joint.Children))
        self.names = [j.Name for j in self.joints]
        self.norm = [_normalize(n) for n in self.names]

    def ancestors(self, j: int) -> list[int]:
        out = []
        while self.parents[j] >= 0:
            j = self.parents[j]
            out.append(j)
        return out

    def path(self, top: int, bottom: int) -> list[int]:
        """Returns the joints strictly below ``top`` down to ``bottom`` inclusive (top-down)."""
        chain = [bottom] + self.ancestors(bottom)
        return list(reversed(chain[: chain.index(top)])) if top in chain else []


def map_joints(sk: _Skeleton, label: str) -> dict[int, int]:
    """Returns {SMPL joint index: BVH joint index}; AnrError naming the SMPL joints it cannot map."""
    found: dict[str, int] = {}
    tried: dict[str, tuple[str, ...]] = {}
    first = {}
    for i, n in enumerate(sk.norm):
        first.setdefault(n, i)
    if {"leftknee", "leftcollar", "leftelbow", "spine1"} <= set(first):  # SMPL names
        found = {full: first[n] for n, full in _SMPL_NORMALIZED.items() if n in first}
    else:
        root_pick = next((first[n] for n in _PELVIS if n in first), None)
        if root_pick is not None:
            found["pelvis"] = root_pick
        tried["pelvis"] = _PELVIS
        order = ("hip", "knee", "ankle", "foot", "collar", "shoulder", "elbow", "wrist", "hand")
        for side, short in (("left", "l"), ("right", "r")):
            for part in order:
                smpl = f"{side}_{part}"
                names = tuple(c.format(s=side, c=short) for c in _LIMB_CANDIDATES[part])
                tried[smpl] = names
                parent = SMPL_JOINT_NAMES[SMPL_PARENTS[joint_index(smpl)]]
                anchor = found.get(parent, found.get("pelvis"))
                for n in names:
                    j = first.get(n)
                    if j is not None and (anchor is None or anchor in sk.ancestors(j)):
                        found[smpl] = j
                        break
        tried["head"] = ("head",)
        if "head" in first:
            found["head"] = first["head"]
        arm = found.get("left_collar", found.get("left_shoulder"))
        if arm is not None and "pelvis" in found:
            chain = sk.path(found["pelvis"], sk.parents[arm])
            if chain:
                found["spine3"] = chain[-1]
                if len(chain) >= 2:
                    found["spine1"] = chain[0]
                if len(chain) >= 3:
                    found["spine2"] = chain[len(chain) // 2]
                if "head" in found:
                    neck = sk.path(chain[-1], found["head"])[:-1]
                    if neck:
                        found["neck"] = neck[0]
    missing = [n for n in REQUIRED if n not in found]
    if missing:
        detail = "; ".join(f"{m} (looked for {', '.join(tried.get(m, (m.replace('_', ''),))[:4])})" for m in missing)
        raise AnrError(f"{label}: cannot map the BVH skeleton onto SMPL, no joint for {detail}; expected CMU, Mixamo, "
                       f"Biped or SMPL joint names (the file has {', '.join(sk.names[:12])}{', ...' if len(sk.names) > 12 else ''})")
    return {joint_index(k): v for k, v in found.items()}


def _snap_axes(up: np.ndarray, lateral: np.ndarray) -> np.ndarray:
    """Returns the signed permutation C (3,3) with C @ up = +y and C @ lateral = +x (SMPL's left)."""
    C = np.zeros((3, 3))
    u = int(np.argmax(np.abs(up)))
    C[1, u] = np.sign(up[u])
    lat = np.abs(lateral).copy()
    lat[u] = -1
    x = int(np.argmax(lat))
    C[0, x] = np.sign(lateral[x])
    C[2] = np.cross(C[0], C[1])
    return C


# Limb bone directions of the T-pose (SMPL axes), from a joint to the child named here. Axis
# aligned on purpose: an axis-aligned T-pose rig then retargets its rest pose to the zero pose.
_SMPL_BONES: dict[str, tuple[str, tuple[float, float, float]]] = {
    "left_hip": ("left_knee", (0.0, -1.0, 0.0)), "right_hip": ("right_knee", (0.0, -1.0, 0.0)),
    "left_knee": ("left_ankle", (0.0, -1.0, 0.0)), "right_knee": ("right_ankle", (0.0, -1.0, 0.0)),
    "left_collar": ("left_shoulder", (1.0, 0.0, 0.0)), "right_collar": ("right_shoulder", (-1.0, 0.0, 0.0)),
    "left_shoulder": ("left_elbow", (1.0, 0.0, 0.0)), "right_shoulder": ("right_elbow", (-1.0, 0.0, 0.0)),
    "left_elbow": ("left_wrist", (1.0, 0.0, 0.0)), "right_elbow": ("right_wrist", (-1.0, 0.0, 0.0)),
}


def _rest_correction(k: int, mapping: dict[int, int], rest: np.ndarray, C: np.ndarray) -> np.ndarray | None:
    """Returns Q (3,3): the smallest rotation taking SMPL's T-pose bone of joint ``k`` onto the BVH rest bone
    (None when ``k`` has no limb bone here or its child is not mapped).

    Rotations relative to the BVH rest pose are only SMPL rotations if both rest poses agree.
    CMU's rest pose has the thighs 20 degrees apart (its standing frames rotate them back in),
    and some rigs rest in an A-pose; composing world rotations with Q makes the SMPL limb
    follow the BVH limb's actual direction.
    """
    bone = _SMPL_BONES.get(SMPL_JOINT_NAMES[k])
    child = None if bone is None else mapping.get(joint_index(bone[0]))
    if child is None or k not in mapping:
        return None
    src = np.asarray(bone[1]) / np.linalg.norm(bone[1])
    dst = C @ (rest[child] - rest[mapping[k]])
    if np.linalg.norm(dst) < 1e-9:
        return None
    dst = dst / np.linalg.norm(dst)
    axis = np.cross(src, dst)
    sin, cos = np.linalg.norm(axis), float(np.dot(src, dst))
    if sin < 1e-9:
        return np.eye(3) if cos > 0 else Rotation.from_rotvec(np.pi * np.array([0.0, 0.0, 1.0])).as_matrix()
    return Rotation.from_rotvec(axis / sin * np.arctan2(sin, cos)).as_matrix()


def load_bvh(path: str | os.PathLike, name: str | None = None) -> MotionClip:
    """Returns the BVH file's motion retargeted to SMPL ``poses (N,24,3)``, ``transl (N,3)`` metres."""
    with warnings.catch_warnings():  # bvhio's `import glm` warns about PyGLM's future module name
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        import bvhio  # imported here: only BVH users pay for glm/SpatialTransform

    path = Path(path)
    label = path.name
    try:
        container = bvhio.readAsBvh(str(path))
    except (SyntaxError, ValueError, IndexError, OSError, UnicodeDecodeError) as exc:
        raise AnrError(f"{label}: cannot parse it as BVH ({type(exc).__name__}: {exc}), expected a BVH motion file") from None
    frames = int(container.FrameCount or 0)
    if frames <= 0 or not container.FrameTime or container.FrameTime <= 0:
        raise AnrError(f"{label}: MOTION has {frames} frames at frame time {container.FrameTime}, expected at least one frame and a positive frame time")
    sk = _Skeleton(container.Root)
    if any(len(j.Keyframes) != frames for j in sk.joints):
        raise AnrError(f"{label}: the MOTION section has fewer values than the channels need, expected {frames} full frames")
    mapping = map_joints(sk, label)

    J = len(sk.joints)
    quats = np.array([[(k.Rotation.x, k.Rotation.y, k.Rotation.z, k.Rotation.w) for k in j.Keyframes] for j in sk.joints])
    local = Rotation.from_quat(quats.reshape(-1, 4)).as_matrix().reshape(J, frames, 3, 3)
    world = np.empty_like(local)
    for j, p in enumerate(sk.parents):  # parents precede children (depth-first order)
        world[j] = local[j] if p < 0 else world[p] @ local[j]

    offsets = np.array([[j.Offset.x, j.Offset.y, j.Offset.z] for j in sk.joints])
    rest = np.zeros((J, 3))
    for j, p in enumerate(sk.parents):
        rest[j] = offsets[j] + (rest[p] if p >= 0 else 0)
    tips = [rest[j] + np.array([*sk.joints[j].EndSite]) for j in range(J) if not sk.joints[j].Children]
    pelvis, head = mapping[0], mapping[joint_index("head")]
    lateral = rest[mapping[joint_index("left_hip")]] - rest[mapping[joint_index("right_hip")]]
    C = _snap_axes(rest[head] - rest[pelvis], lateral)

    # Joints without a limb bone of their own (ankles, wrists, ...) keep their parent's
    # correction: their rest offset is relative to that limb.
    Q = np.empty((24, 3, 3))
    for k in range(24):
        own = _rest_correction(k, mapping, rest, C)
        Q[k] = own if own is not None else (np.eye(3) if SMPL_PARENTS[k] < 0 else Q[SMPL_PARENTS[k]])
    smpl_world = np.empty((24, frames, 3, 3))
    for k in range(24):
        if k in mapping:
            smpl_world[k] = C @ world[mapping[k]] @ C.T @ Q[k]
        else:
            smpl_world[k] = smpl_world[SMPL_PARENTS[k]]
    smpl_local = np.empty_like(smpl_world)
    for k in range(24):
        p = SMPL_PARENTS[k]
        smpl_local[k] = smpl_world[k] if p < 0 else np.swapaxes(smpl_world[p], -1, -2) @ smpl_world[k]
    poses = Rotation.from_matrix(smpl_local.reshape(-1, 3, 3)).as_rotvec().reshape(24, frames, 3).transpose(1, 0, 2)

    up_values = np.concatenate([rest, np.array(tips).reshape(-1, 3)]) @ C[1]
    height = float(up_values.max() - up_values.min())
    if 0.5 <= height <= 3.0:
        unit, units = 1.0, "m"
    elif 50 <= height <= 300:
        unit, units = 0.01, "cm"
    elif 500 <= height <= 3000:
        unit, units = 0.001, "mm"
    else:
        unit, units = FALLBACK_HEIGHT_M / max(height, 1e-9), f"unknown (scaled a {height:.3g}-unit figure to {FALLBACK_HEIGHT_M} m)"
    root = np.array([[k.Position.x, k.Position.y, k.Position.z] for k in sk.joints[0].Keyframes]) @ C.T
    standing = (rest[0] @ C[1]) - up_values.min()  # root height over the lowest rest joint
    ref = np.array([root[0, 0], standing, root[0, 2]])
    transl = (root - ref) * unit
    meta = {"source": str(path), "units": units, "frame_time": float(container.FrameTime),
            "mapping": {SMPL_JOINT_NAMES[k]: sk.names[v] for k, v in sorted(mapping.items())}}
    return MotionClip(poses.astype(np.float32), transl.astype(np.float32), 1.0 / float(container.FrameTime),
                      name or path.stem, meta)
