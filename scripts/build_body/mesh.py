"""Mesh steps of the body builder: texture-aware decimation, joint regressor, part labels (build time only)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from scripts.build_body.anny_body import SMPL_JOINT_NAMES

def decimate_with_uv(verts: np.ndarray, faces: np.ndarray, uv: np.ndarray, uv_faces: np.ndarray,
                     target_faces: int, cache: Path | None = None) -> dict:
    """Returns the decimated mesh: vertex_ids (V',) into verts, faces (F',3), uv (U',2), uv_faces (F',3), settings.

    Seam-aware quadric half-edge collapses (decimate.py); every kept vertex and UV corner
    is an original one. ``cache`` (an .npz path) stores the result keyed by a hash of the
    inputs, because the collapse loop takes minutes in Python.
    """
    from scripts.build_body.decimate import SEAM_WEIGHT, LENGTH_WEIGHT, MIN_NORMAL_DOT, MIN_QUALITY, decimate_seam_aware

    key = hashlib.sha256(b"".join(np.ascontiguousarray(a).tobytes() for a in (verts, faces, uv, uv_faces))
                         + str(target_faces).encode()).hexdigest()[:16]
    if cache is not None and Path(cache).exists() and str(np.load(cache)["key"]) == key:
        new_faces, new_uv_faces = np.load(cache)["faces"], np.load(cache)["uv_faces"]
    else:
        new_faces, new_uv_faces = decimate_seam_aware(verts, faces, uv, uv_faces, target_faces)
        if cache is not None:
            np.savez(cache, key=np.array(key), faces=new_faces, uv_faces=new_uv_faces)
    kept, faces_compact = np.unique(new_faces, return_inverse=True)
    used, uv_faces_compact = np.unique(new_uv_faces, return_inverse=True)
    settings = dict(method="seam-aware quadric half-edge collapse (scripts.build_body.decimate)",
                    target_faces=int(target_faces), seam_weight=SEAM_WEIGHT, length_weight=LENGTH_WEIGHT,
                    min_normal_dot=MIN_NORMAL_DOT, min_quality=MIN_QUALITY)
    return dict(vertex_ids=kept, faces=faces_compact.reshape(-1, 3), uv=uv[used],
                uv_faces=uv_faces_compact.reshape(-1, 3), settings=settings)


def fit_joint_regressor(verts: np.ndarray, shapedirs: np.ndarray, joints: np.ndarray, joint_dirs: np.ndarray,
                        betas: np.ndarray, num_candidates: int = 160, ridge: float = 1e-7) -> np.ndarray:
    """Returns J_regressor (24,V): rows sum to 1 and map shaped rest vertices onto the joints.

    Each joint uses the ``num_candidates`` vertices nearest to it (rings around a limb, a slice
    of the torso). The weights solve, by equality-constrained ridge least squares, the rest
    joint and each beta direction's joint motion, staying close to inverse-distance weights.
    A joint is not the centroid of its ring when fat or muscle grow on one side only, so some
    weights are negative; the ridge keeps them small (|w| < ~1.5 with the defaults).
    verts (V,3), shapedirs (V,3,K), joints (24,3), joint_dirs (24,3,K), betas (N,K) of the
    sampled population (their spread weighs the beta directions).
    """
    scale = betas.std(0)  # (K,)
    reg = np.zeros((24, len(verts)))
    for j in range(24):
        d = np.linalg.norm(verts - joints[j], axis=1)
        cand = np.argsort(d)[:num_candidates]
        prior = 1.0 / (d[cand] + 1e-3)
        prior /= prior.sum()
        # Rows: rest position (heavily weighted) and each beta direction scaled by its spread.
        a = np.concatenate([10.0 * verts[cand].T, (shapedirs[cand] * scale).transpose(1, 2, 0).reshape(-1, len(cand))])
        b = np.concatenate([10.0 * joints[j], (joint_dirs[j] * scale).reshape(-1)])
        n = len(cand)
        # KKT system of min |a w - b|^2 + ridge |w - prior|^2 s.t. sum(w) = 1.
        kkt = np.zeros((n + 1, n + 1))
        kkt[:n, :n] = a.T @ a + ridge * np.eye(n)
        kkt[:n, n] = kkt[n, :n] = 1.0
        rhs = np.concatenate([a.T @ b + ridge * prior, [1.0]])
        reg[j, cand] = np.linalg.solve(kkt, rhs)[:n]
    return reg


_JOINT_PART = {
    "pelvis": "torso", "spine1": "torso", "spine2": "torso", "spine3": "torso", "neck": "torso",
    "left_collar": "torso", "right_collar": "torso", "head": "head",
    "left_hip": "thigh_l", "right_hip": "thigh_r", "left_knee": "shin_l", "right_knee": "shin_r",
    "left_ankle": "foot_l", "right_ankle": "foot_r", "left_foot": "foot_l", "right_foot": "foot_r",
    "left_shoulder": "upperarm_l", "right_shoulder": "upperarm_r", "left_elbow": "forearm_l",
    "right_elbow": "forearm_r", "left_wrist": "hand_l", "right_wrist": "hand_r", "left_hand": "hand_l",
    "right_hand": "hand_r",
}
_SEGMENT_PART = {"hand.L": "hand_l", "hand.R": "hand_r", "foot.L": "foot_l", "foot.R": "foot_r"}
_HEAD_SEGMENTS = ("head", "mouth_cavity", "eye_cavity.L", "eye_cavity.R")


def uv_segments(face_uv_centres: np.ndarray) -> np.ndarray:
    """Returns the name (F,) of Anny's UV segmentation region under each face's UV centre."""
    import yaml
    from PIL import Image

    from anny.paths import get_anny_root_dir

    root = get_anny_root_dir() / "data" / "segmentation"
    image = np.asarray(Image.open(root / "body_parts_segmentation.png").convert("RGB"))
    colors = yaml.safe_load(open(root / "body_parts_segmentation.yaml"))["colors"]
    h, w = image.shape[:2]
    col = np.clip((face_uv_centres[:, 0] * w).astype(int), 0, w - 1)
    row = np.clip(((1.0 - face_uv_centres[:, 1]) * h).astype(int), 0, h - 1)
    rgb = image[row, col]
    names = np.full(len(rgb), "body", dtype=object)
    for name, c in colors.items():
        names[np.all(rgb == np.array(c), axis=1)] = name
    return names


def label_faces(verts: np.ndarray, faces: np.ndarray, uv: np.ndarray, uv_faces: np.ndarray, weights: np.ndarray,
                joints: np.ndarray, part_names: list[str]) -> np.ndarray:
    """Returns the part index (F,) of each face (rest pose; see PART_NAMES in build.py).

    Hands, feet and head come from Anny's UV segmentation; the face is the front of the head
    below the brow plus the mouth and eye sockets; the rest follows the SMPL joint with the
    most skinning weight on the face.
    """
    segments = uv_segments(uv[uv_faces].mean(1))
    dominant = weights[faces].sum(1).argmax(1)
    names = np.array([_JOINT_PART[SMPL_JOINT_NAMES[j]] for j in dominant], dtype=object)
    for seg, part in _SEGMENT_PART.items():
        names[segments == seg] = part
    in_head = np.isin(segments, _HEAD_SEGMENTS)
    names[in_head] = "head"
    head = joints[SMPL_JOINT_NAMES.index("head")]
    centre = verts[faces].mean(1)
    # Face: in front of the skull-base joint, between chin and brow (offsets in metres).
    front = (centre[:, 2] > head[2] + 0.05) & (centre[:, 1] > head[1] - 0.07) & (centre[:, 1] < head[1] + 0.13)
    names[in_head & front] = "face"
    names[np.isin(segments, _HEAD_SEGMENTS[1:])] = "face"  # mouth and eye sockets, however deep
    return np.array([part_names.index(n) for n in names], dtype=np.int64)


def vertex_parts_from_faces(num_vertices: int, faces: np.ndarray, face_parts: np.ndarray) -> np.ndarray:
    """Returns the part (V,) of each vertex: the most common part among its faces."""
    counts = np.zeros((num_vertices, int(face_parts.max()) + 1))
    np.add.at(counts, (faces.reshape(-1), np.repeat(face_parts, 3)), 1.0)
    return counts.argmax(1)
