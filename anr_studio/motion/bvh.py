"""BVH motion capture retargeted onto the SMPL skeleton.

BVH and SMPL rest poses both align every joint frame with the world axes, so a BVH joint's world
rotation is the world rotation of the SMPL joint moving the same bone (found by `find_body`),
expressed in SMPL axes and corrected for the difference between the two rest bones (splayed
thighs, A-poses). Unmapped BVH joints fold into the next mapped one; unmapped SMPL joints stay at rest.

Translation: the pelvis's displacement in metres, horizontally from frame 0, vertically from the
rest standing height (or frame 0 without root position channels). Units from the rest figure's
height: m (0.5-3), cm (50-300), mm (500-3000), else scaled to a 1.7 m figure.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from anr_studio.body.skeleton import SMPL_JOINT_NAMES, SMPL_PARENTS, joint_index
from anr_studio.motion.bvh_parse import BvhData, parse_bvh
from anr_studio.motion.bvh_skeleton import find_body
from anr_studio.motion.clip import MotionClip, validate_motion

FALLBACK_HEIGHT_M = 1.7
_CHUNK_FRAMES = 20_000  # frames converted at once: bounds the memory of the world rotations

# Rest bone directions of the built-in body's left limbs (SMPL axes: x left, y up, z forward), from a
# joint to the child named here; the right side mirrors x. tests/motion checks them against the body.
REST_BONES: dict[str, tuple[str, tuple[float, float, float]]] = {
    "hip": ("knee", (0.038, -0.445, 0.035)),
    "knee": ("ankle", (0.043, -0.451, -0.030)),
    "ankle": ("foot", (0.015, -0.053, 0.153)),
    "collar": ("shoulder", (0.162, -0.024, -0.004)),
    "shoulder": ("elbow", (1.0, 0.0, 0.0)),
    "elbow": ("wrist", (1.0, 0.0, 0.0)),
    "wrist": ("hand", (1.0, 0.0, 0.0)),
}


def _snap_axes(up: np.ndarray, lateral: np.ndarray) -> np.ndarray:
    """Returns the signed permutation C (3,3) with C @ up = +y and C @ lateral = +x (SMPL's left)."""
    C = np.zeros((3, 3))
    u = int(np.argmax(np.abs(up)))
    C[1, u] = np.sign(up[u])
    lat = np.abs(lateral).copy()
    lat[u] = -1
    x = int(np.argmax(lat))
    C[0, x] = np.sign(lateral[x]) or 1.0
    C[2] = np.cross(C[0], C[1])
    return C


def _turn(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Returns the smallest rotation (3,3) taking direction ``src`` onto direction ``dst``."""
    src, dst = src / np.linalg.norm(src), dst / np.linalg.norm(dst)
    axis = np.cross(src, dst)
    sin, cos = float(np.linalg.norm(axis)), float(np.dot(src, dst))
    if sin < 1e-9:
        if cos > 0:
            return np.eye(3)
        other = np.eye(3)[int(np.argmin(np.abs(src)))]
        axis = np.cross(src, other)
        return Rotation.from_rotvec(axis / np.linalg.norm(axis) * np.pi).as_matrix()
    return Rotation.from_rotvec(axis / sin * np.arctan2(sin, cos)).as_matrix()


def rest_alignment(mapping: dict[int, int], rest: np.ndarray, C: np.ndarray) -> np.ndarray:
    """Returns Q (24,3,3): per SMPL joint, the rotation taking the built-in body's rest bone onto the
    BVH rest bone (in SMPL axes). Joints without a bone of their own keep their parent's Q."""
    Q = np.empty((24, 3, 3))
    own: dict[int, np.ndarray] = {}
    for side, sign in (("left", 1.0), ("right", -1.0)):
        for part, (child, direction) in REST_BONES.items():
            k, c = joint_index(f"{side}_{part}"), joint_index(f"{side}_{child}")
            if k in mapping and c in mapping:
                bone = C @ (rest[mapping[c]] - rest[mapping[k]])
                if np.linalg.norm(bone) > 1e-9 * max(np.abs(rest).max(), 1e-9):
                    own[k] = _turn(np.array(direction) * [sign, 1.0, 1.0], bone)
    for k in range(24):
        p = SMPL_PARENTS[k]
        Q[k] = own.get(k, np.eye(3) if p < 0 else Q[p])
    return Q


def _local_rotations(data: BvhData, j: int, rows: slice) -> np.ndarray:
    """Returns joint ``j``'s rotation matrices (n,3,3) for the frames ``rows``."""
    start = int(data.channel_start[j])
    cols = [(start + i, c[0]) for i, c in enumerate(data.channels[j]) if c.endswith("rotation")]
    n = len(range(*rows.indices(data.num_frames)))
    if not cols:
        return np.broadcast_to(np.eye(3), (n, 3, 3))
    angles = data.values[rows][:, [i for i, _ in cols]]
    return Rotation.from_euler("".join(axis for _, axis in cols), angles, degrees=True).as_matrix()


def _local_translations(data: BvhData, j: int, rows: slice) -> np.ndarray:
    """Returns joint ``j``'s offset from its parent (n,3): the rest OFFSET, replaced per axis by its
    position channels (the convention of the files' exporters: root channels are absolute)."""
    n = len(range(*rows.indices(data.num_frames)))
    out = np.broadcast_to(data.offsets[j], (n, 3)).copy()
    start = int(data.channel_start[j])
    for i, c in enumerate(data.channels[j]):
        if c.endswith("position"):
            out[:, "XYZ".index(c[0])] = data.values[rows, start + i]
    return out


def _units(height: float) -> tuple[float, str]:
    """Returns (metres per file unit, description) for a rest figure ``height`` units tall."""
    if 0.5 <= height <= 3.0:
        return 1.0, "m"
    if 50 <= height <= 300:
        return 0.01, "cm"
    if 500 <= height <= 3000:
        return 0.001, "mm"
    return FALLBACK_HEIGHT_M / max(height, 1e-9), f"unknown (scaled a {height:.3g}-unit figure to {FALLBACK_HEIGHT_M} m)"


def load_bvh(path: str | os.PathLike) -> MotionClip:
    """Returns the BVH file's motion retargeted to SMPL ``poses (N,24,3)``, ``transl (N,3)`` metres."""
    path = Path(path)
    data = parse_bvh(path)
    body = find_body(data)
    mapping = body.mapping
    C = _snap_axes(body.up, body.left)
    Q = rest_alignment(mapping, body.rest, C)
    pelvis = mapping[0]
    chain = [pelvis]
    while data.parents[chain[-1]] >= 0:
        chain.append(int(data.parents[chain[-1]]))
    needed = set(chain)
    for j in mapping.values():
        while j >= 0 and j not in needed:
            needed.add(j)
            j = int(data.parents[j])
    order = sorted(needed)  # parents precede children in file order

    frames = data.num_frames
    poses = np.empty((frames, 24, 3), np.float32)
    pelvis_at = np.empty((frames, 3))
    for begin in range(0, frames, _CHUNK_FRAMES):
        rows = slice(begin, min(begin + _CHUNK_FRAMES, frames))
        world: dict[int, np.ndarray] = {}
        where: dict[int, np.ndarray] = {}
        for j in order:
            p = int(data.parents[j])
            local = _local_rotations(data, j, rows)
            world[j] = local if p < 0 else world[p] @ local
            if j in chain:
                offset = _local_translations(data, j, rows)
                where[j] = offset if p < 0 else where[p] + np.einsum("nij,nj->ni", world[p], offset)
        smpl_world = np.empty((24, rows.stop - rows.start, 3, 3))
        for k in range(24):
            if k in mapping:
                smpl_world[k] = C @ world[mapping[k]] @ C.T @ Q[k]
            else:
                smpl_world[k] = smpl_world[SMPL_PARENTS[k]]
        parent_world = np.swapaxes(smpl_world[list(SMPL_PARENTS[1:])], -1, -2)
        local_smpl = np.concatenate([smpl_world[:1], parent_world @ smpl_world[1:]])
        rotvec = Rotation.from_matrix(local_smpl.reshape(-1, 3, 3)).as_rotvec().reshape(24, -1, 3)
        poses[rows] = rotvec.transpose(1, 0, 2)
        pelvis_at[rows] = where[pelvis]

    points = np.concatenate([body.rest, body.ends[np.isfinite(body.ends[:, 0])]])
    up_values = points @ C[1]
    unit, units = _units(float(up_values.max() - up_values.min()))
    moved = pelvis_at @ C.T
    root_moves = any(c.endswith("position") for c in data.channels[chain[-1]])
    standing = float(body.rest[pelvis] @ C[1] - up_values.min()) if root_moves else float(moved[0, 1])
    transl = (moved - np.array([moved[0, 0], standing, moved[0, 2]])) * unit
    meta = {"source": str(path), "units": units, "frame_time": data.frame_time, "notes": body.notes,
            "mapping": {SMPL_JOINT_NAMES[k]: data.names[v] for k, v in sorted(mapping.items())}}
    with np.errstate(over="ignore"):
        transl = transl.astype(np.float32)
    validate_motion(poses, transl, 1.0 / data.frame_time, data.label)
    return MotionClip(poses, transl, 1.0 / data.frame_time, path.stem, meta)
