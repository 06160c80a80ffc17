"""The SMPL 24-joint skeleton: joint names and order, the kinematic tree, body-part groupings.

Every pose in ANR Studio is axis-angle ``(B, 24, 3)`` in this order, so any SMPL pose data
(AMASS, AIST++, People-Snapshot fits) drives the body. In the rest pose all joint frames are
aligned with the world axes (x: the body's left, y: up, z: forward), as in SMPL.
"""

from __future__ import annotations

from anr_studio.errors import AnrError

SMPL_JOINT_NAMES: tuple[str, ...] = (
    "pelvis",
    "left_hip",
    "right_hip",
    "spine1",
    "left_knee",
    "right_knee",
    "spine2",
    "left_ankle",
    "right_ankle",
    "spine3",
    "left_foot",
    "right_foot",
    "neck",
    "left_collar",
    "right_collar",
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hand",
    "right_hand",
)

NUM_JOINTS = len(SMPL_JOINT_NAMES)

# Parent of each joint (-1 for the root); a parent always precedes its children, so one
# forward pass over the joints composes the kinematic chain.
SMPL_PARENTS: tuple[int, ...] = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)

_JOINT_INDEX = {name: i for i, name in enumerate(SMPL_JOINT_NAMES)}


def joint_index(name: str) -> int:
    """Returns the SMPL index (0..23) of the joint called ``name``; AnrError for unknown names."""
    try:
        return _JOINT_INDEX[name]
    except (KeyError, TypeError):
        raise AnrError(
            f"skeleton: unknown joint {name!r}, expected one of the 24 SMPL joints ({', '.join(SMPL_JOINT_NAMES)})"
        ) from None


def children(index: int) -> list[int]:
    """Returns the indices of the joints whose parent is ``index``."""
    return [i for i, p in enumerate(SMPL_PARENTS) if p == index]


# Joints grouped the way a person poses a body: one group of sliders per limb.
JOINT_GROUPS: dict[str, tuple[str, ...]] = {
    "torso": ("pelvis", "spine1", "spine2", "spine3"),
    "head": ("neck", "head"),
    "left arm": ("left_collar", "left_shoulder", "left_elbow", "left_wrist", "left_hand"),
    "right arm": ("right_collar", "right_shoulder", "right_elbow", "right_wrist", "right_hand"),
    "left leg": ("left_hip", "left_knee", "left_ankle", "left_foot"),
    "right leg": ("right_hip", "right_knee", "right_ankle", "right_foot"),
}

# Per-face part labels (what try-on masks and the GUI's part picker use). "face" is a region
# of the head that no joint separates, so only a model with UV/segmentation data assigns it.
BODY_PART_NAMES: tuple[str, ...] = (
    "head",
    "face",
    "torso",
    "upper_arms",
    "forearms",
    "hands",
    "thighs",
    "shins",
    "feet",
)

# The part a joint's rigid segment belongs to (the segment from the joint to its children).
JOINT_PART: dict[str, str] = {
    "pelvis": "torso",
    "spine1": "torso",
    "spine2": "torso",
    "spine3": "torso",
    "left_collar": "torso",
    "right_collar": "torso",
    "neck": "head",
    "head": "head",
    "left_shoulder": "upper_arms",
    "right_shoulder": "upper_arms",
    "left_elbow": "forearms",
    "right_elbow": "forearms",
    "left_wrist": "hands",
    "right_wrist": "hands",
    "left_hand": "hands",
    "right_hand": "hands",
    "left_hip": "thighs",
    "right_hip": "thighs",
    "left_knee": "shins",
    "right_knee": "shins",
    "left_ankle": "feet",
    "right_ankle": "feet",
    "left_foot": "feet",
    "right_foot": "feet",
}


def joint_part_indices() -> list[int]:
    """Returns, for each of the 24 joints, the index into BODY_PART_NAMES of its part."""
    return [BODY_PART_NAMES.index(JOINT_PART[name]) for name in SMPL_JOINT_NAMES]
