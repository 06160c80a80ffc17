import pytest

from anr_studio.body.skeleton import (
    BODY_PART_NAMES,
    JOINT_GROUPS,
    JOINT_PART,
    PART_GROUPS,
    SMPL_JOINT_NAMES,
    SMPL_PARENTS,
    joint_index,
    joint_part_indices,
    part_indices,
)
from anr_studio.errors import AnrError


def test_smpl_order_and_tree():
    assert len(SMPL_JOINT_NAMES) == 24 and len(set(SMPL_JOINT_NAMES)) == 24
    assert SMPL_JOINT_NAMES[0] == "pelvis" and SMPL_JOINT_NAMES[18] == "left_elbow" and SMPL_JOINT_NAMES[23] == "right_hand"
    assert list(SMPL_PARENTS) == [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]
    assert all(p < j for j, p in enumerate(SMPL_PARENTS))  # parents precede children
    # Left joints hang off left parents: the tree is not mirrored by mistake.
    for j, name in enumerate(SMPL_JOINT_NAMES):
        parent = SMPL_PARENTS[j]
        if name.startswith("left_") and parent > 0 and SMPL_JOINT_NAMES[parent].startswith(("left_", "right_")):
            assert SMPL_JOINT_NAMES[parent].startswith("left_")


def test_joint_index():
    assert joint_index("pelvis") == 0
    assert joint_index("right_knee") == 5
    assert joint_index("head") == 15
    assert [i for i, p in enumerate(SMPL_PARENTS) if p == joint_index("spine3")] == [12, 13, 14]


def test_unknown_joint_names_the_joint():
    with pytest.raises(AnrError, match="'left_tail'"):
        joint_index("left_tail")


def test_groups_and_parts_cover_every_joint_once():
    grouped = [name for names in JOINT_GROUPS.values() for name in names]
    assert sorted(grouped) == sorted(SMPL_JOINT_NAMES)
    assert set(JOINT_PART) == set(SMPL_JOINT_NAMES)
    idx = joint_part_indices()
    assert BODY_PART_NAMES[idx[joint_index("left_elbow")]] == "forearm_l"
    assert BODY_PART_NAMES[idx[joint_index("right_knee")]] == "shin_r"
    assert all(n in BODY_PART_NAMES for group in PART_GROUPS.values() for n in group)


def test_part_indices_resolve_parts_and_groups():
    names = list(BODY_PART_NAMES)
    assert part_indices(names, ["torso", "upper_arms"]) == [2, 3, 4]
    assert part_indices(names, ["hand_l", "legs"]) == [7, 9, 10, 11, 12, 13, 14]
    assert part_indices(["body"], ["arms"]) == []  # a body without arm labels has no arm faces
    with pytest.raises(AnrError, match="unknown part 'sleeves'"):
        part_indices(names, ["sleeves"])
