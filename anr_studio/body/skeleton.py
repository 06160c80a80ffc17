"""The SMPL 24-joint skeleton: joint names and order, the kinematic tree, body-part groupings. Every pose is
axis-angle ``(B, 24, 3)`` in this order; rest-pose joint frames align with the world (x: left, y: up, z: forward)."""

from __future__ import annotations

from anr_studio.errors import AnrError

SMPL_JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle",
    "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hand", "right_hand",
)

NUM_JOINTS = len(SMPL_JOINT_NAMES)

# Parent of each joint (-1 for the root); a parent always precedes its children.
SMPL_PARENTS: tuple[int, ...] = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)

_JOINT_INDEX = {name: i for i, name in enumerate(SMPL_JOINT_NAMES)}


def joint_index(name: str) -> int:
    """Returns the SMPL index (0..23) of the joint called ``name``; AnrError for unknown names."""
    try:
        return _JOINT_INDEX[name]
    except (KeyError, TypeError):
        raise AnrError(f"skeleton: unknown joint {name!r}, expected one of the 24 SMPL joints "
                       f"({', '.join(SMPL_JOINT_NAMES)})") from None


# The pose a person stands in (arms down, elbows a little bent), as the built-in walk and turn clips
# hold the arms: the studio shows and resets bodies to it (avatars render the T-shaped rest pose poorly).
STANDING_POSE: dict[str, tuple[float, float, float]] = {
    "left_shoulder": (0.0, 0.0, -1.25),
    "right_shoulder": (0.0, 0.0, 1.25),
    "left_elbow": (0.0, -0.3, 0.0),
    "right_elbow": (0.0, 0.3, 0.0),
}
"""Axis-angle (radians) of the joints the standing pose bends; every other joint is at rest."""

# Joints grouped the way a person poses a body: one group of sliders per limb.
JOINT_GROUPS: dict[str, tuple[str, ...]] = {
    "torso": ("pelvis", "spine1", "spine2", "spine3"),
    "head": ("neck", "head"),
    "left arm": ("left_collar", "left_shoulder", "left_elbow", "left_wrist", "left_hand"),
    "right arm": ("right_collar", "right_shoulder", "right_elbow", "right_wrist", "right_hand"),
    "left leg": ("left_hip", "left_knee", "left_ankle", "left_foot"),
    "right leg": ("right_hip", "right_knee", "right_ankle", "right_foot"),
}

# Per-face part labels (try-on masks, the GUI's part picker), the same for the built-in body and SMPL
# files. "face" is a region of the head no joint separates: only the built-in body assigns it.
BODY_PART_NAMES: tuple[str, ...] = (
    "head", "face", "torso", "upperarm_l", "upperarm_r", "forearm_l", "forearm_r", "hand_l", "hand_r",
    "thigh_l", "thigh_r", "shin_l", "shin_r", "foot_l", "foot_r",
)

# Names for both sides at once (and whole limbs), for masks such as "upper clothes".
PART_GROUPS: dict[str, tuple[str, ...]] = {
    "upper_arms": ("upperarm_l", "upperarm_r"),
    "forearms": ("forearm_l", "forearm_r"),
    "hands": ("hand_l", "hand_r"),
    "thighs": ("thigh_l", "thigh_r"),
    "shins": ("shin_l", "shin_r"),
    "feet": ("foot_l", "foot_r"),
    "arms": ("upperarm_l", "upperarm_r", "forearm_l", "forearm_r", "hand_l", "hand_r"),
    "legs": ("thigh_l", "thigh_r", "shin_l", "shin_r", "foot_l", "foot_r"),
}

# The part a joint's rigid segment belongs to (the segment from the joint to its children).
JOINT_PART: dict[str, str] = {
    "pelvis": "torso", "spine1": "torso", "spine2": "torso", "spine3": "torso",
    "left_collar": "torso", "right_collar": "torso", "neck": "head", "head": "head",
    "left_shoulder": "upperarm_l", "right_shoulder": "upperarm_r", "left_elbow": "forearm_l", "right_elbow": "forearm_r",
    "left_wrist": "hand_l", "right_wrist": "hand_r", "left_hand": "hand_l", "right_hand": "hand_r",
    "left_hip": "thigh_l", "right_hip": "thigh_r", "left_knee": "shin_l", "right_knee": "shin_r",
    "left_ankle": "foot_l", "right_ankle": "foot_r", "left_foot": "foot_l", "right_foot": "foot_r",
}


def joint_part_indices() -> list[int]:
    """Returns, for each of the 24 joints, the index into BODY_PART_NAMES of its part."""
    return [BODY_PART_NAMES.index(JOINT_PART[name]) for name in SMPL_JOINT_NAMES]


def part_indices(part_names: list[str] | tuple[str, ...], names: list[str] | tuple[str, ...]) -> list[int]:
    """Returns the sorted indices into ``part_names`` of ``names`` (part names or PART_GROUPS keys);
    AnrError names the first name that is neither a part of this body nor a group."""
    found: set[int] = set()
    for name in names:
        if name in part_names:
            found.add(list(part_names).index(name))
        elif name in PART_GROUPS:
            found.update(list(part_names).index(n) for n in PART_GROUPS[name] if n in part_names)
        else:
            raise AnrError(f"body parts: unknown part {name!r}, expected one of {', '.join(part_names)} or a group "
                           f"({', '.join(PART_GROUPS)})")
    return sorted(found)
