"""Keypoint layouts (COCO-17, MediaPipe-33) and where each keypoint sits on the built-in body.

A keypoint is either one of the body's 24 SMPL-order joints or a surface point of the head
(nose, eyes, ears), found on the body's rest mesh by geometry, so any body model gives them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from anr_studio.body.skeleton import joint_index
from anr_studio.errors import AnrError

# Surface keypoints: where on the head (offset from the nose tip in metres, body frame x left,
# y up, z forward) the keypoint lies.
_FACE_OFFSETS = {
    "nose": (0.0, 0.0, 0.0),
    "left_eye": (0.032, 0.035, -0.025),
    "right_eye": (-0.032, 0.035, -0.025),
}

COCO17 = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
MEDIAPIPE33 = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel",
    "left_foot_index", "right_foot_index",
)
LAYOUTS = {"coco17": COCO17, "mediapipe33": MEDIAPIPE33}


def torso_keypoints(layout: str) -> list[int]:
    """Returns the indices in ``layout`` of the left and right shoulder, then the left and right hip."""
    return [LAYOUTS[layout].index(n) for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")]

# Keypoint name -> (body joint, weight). Keypoint detectors put the hip keypoints lower and
# wider than SMPL's hip joints, so hips count less; the index finger's tip is near the hand joint.
_JOINT_TARGETS = {f"{side}_{keypoint}": (f"{side}_{joint}", weight) for side in ("left", "right")
                  for keypoint, joint, weight in (("shoulder", "shoulder", 1.0), ("elbow", "elbow", 1.0),
                                                  ("wrist", "wrist", 1.0), ("hip", "hip", 0.5), ("knee", "knee", 1.0),
                                                  ("ankle", "ankle", 1.0), ("foot_index", "foot", 0.5),
                                                  ("index", "hand", 0.3))}
_SURFACE_WEIGHT = {"nose": 1.0, "left_eye": 0.5, "right_eye": 0.5, "left_ear": 0.5, "right_ear": 0.5}

# Where MediaPipe's keypoints sit relative to the body's joints, in metres in the rest frame of the
# bone that ends at the joint (x the body's left, y up, z forward): its shoulders are on top of the
# shoulder, its hips lower and further forward than the hip joints, its ankles at the ankle bones
# above the joint, its index finger and toe beyond the hand and foot joints. Measured on rendered
# clips against the true pose; only offsets of 1 cm or more that agreed in sign on both sides of
# every clip are kept (docs/video_import.md). Right-side offsets mirror these in x.
_MEDIAPIPE_OFFSETS = {
    "shoulder": (0.010, 0.024, 0.0), "hip": (0.0, -0.020, 0.028), "knee": (0.0, 0.0, -0.013),
    "ankle": (0.018, 0.028, 0.0), "index": (-0.017, -0.021, 0.016), "foot_index": (-0.014, 0.0, 0.028),
}


@dataclass(frozen=True)
class LandmarkMap:
    """Where a layout's keypoints sit on the body."""

    layout: str
    keypoints: torch.Tensor  # (M,) indices into the layout of the keypoints used
    joints: torch.Tensor  # (M,) the body joint each one is at or near (-1 for surface points)
    offsets: torch.Tensor  # (M,3) metres from that joint in the rest frame of the bone ending at it
    vertices: torch.Tensor  # (M,) the rest-mesh vertex of surface points (-1 for joints)
    weights: torch.Tensor  # (M,) how much each counts in the fit


def head_vertices(body) -> dict[str, int]:
    """Returns the rest-mesh vertex index of the nose tip, eyes and ears of ``body``."""
    head = joint_index("head")
    v = body.v_template.detach()
    on_head = torch.nonzero(body.lbs_weights[:, head] > 0.5)[:, 0]
    if len(on_head) == 0:
        raise AnrError(f"{body.source}: no vertex is skinned to the head, expected a head for face keypoints")
    p = v[on_head]
    nose = int(on_head[p[:, 2].argmax()])
    out = {"nose": nose}
    for name, off in _FACE_OFFSETS.items():
        target = v[nose] + torch.tensor(off, dtype=v.dtype)
        out[name] = int(on_head[(p - target).norm(dim=1).argmin()])
    # Ears: the head's widest points at about the nose's height.
    level = (p[:, 1] - v[nose, 1]).abs() < 0.04
    side = torch.where(level, p[:, 0], torch.zeros_like(p[:, 0]))
    out["left_ear"] = int(on_head[side.argmax()])
    out["right_ear"] = int(on_head[side.argmin()])
    return out


def landmark_map(layout: str, body) -> LandmarkMap:
    """Returns the LandmarkMap of ``layout`` ("coco17" or "mediapipe33") on ``body``."""
    if layout not in LAYOUTS:
        raise AnrError(f"keypoints: unknown layout {layout!r}, expected one of {', '.join(LAYOUTS)}")
    surface = head_vertices(body)
    kp, joints, offsets, verts, weights = [], [], [], [], []
    for i, name in enumerate(LAYOUTS[layout]):
        if name in _JOINT_TARGETS:
            joint, w = _JOINT_TARGETS[name]
            side, _, part = name.partition("_")
            off = _MEDIAPIPE_OFFSETS.get(part, (0.0, 0.0, 0.0)) if layout == "mediapipe33" else (0.0, 0.0, 0.0)
            offsets.append((off[0] if side == "left" else -off[0], off[1], off[2]))
            kp.append(i), joints.append(joint_index(joint)), verts.append(-1), weights.append(w)
        elif name in _SURFACE_WEIGHT:
            offsets.append((0.0, 0.0, 0.0))
            kp.append(i), joints.append(-1), verts.append(surface[name]), weights.append(_SURFACE_WEIGHT[name])
    return LandmarkMap(layout, torch.tensor(kp), torch.tensor(joints), torch.tensor(offsets, dtype=torch.float32),
                       torch.tensor(verts), torch.tensor(weights, dtype=torch.float32))
